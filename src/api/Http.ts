/**
 * Handlers of the as-of API, one builder per resource group of Api.ts. Reads
 * go straight to the store; writes go through the same ingest path as
 * `skygge import`. Large answers stream as NDJSON, page by page from the
 * store, in constant memory.
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Clock, Effect, Option, Stream } from "effect"
import { fromEpochMillis, type Instant, parseInstant } from "../domain/core/Instant.js"
import { ApiConfig, IngestConfig } from "../config/Config.js"
import { emptySummary, type IngestSummary, ingestNdjson, ingestValues } from "../ingest/Ingest.js"
import { ActivationStore } from "../store/Activations.js"
import { OutboxStore } from "../store/Outbox.js"
import { type ChangeCursor, type ChangeRow, Store } from "../store/Store.js"
import { WorkQueue } from "../store/WorkQueue.js"
import { ResyncReports } from "../store/ResyncReports.js"
import { MirrorStore } from "../store/Mirror.js"
import { StorePool } from "../store/StorePool.js"
import { keysetPages, PAGE } from "../store/Paging.js"
import { sourcesStatus } from "../store/SourcesStatusView.js"
import { OutboxConfig, publisherNames } from "../outbox/OutboxConfig.js"
import { csvHeader, csvLine } from "../domain/core/Csv.js"
import { pageLimitProblem } from "../domain/core/PageLimit.js"
import { StoreError } from "../store/StoreError.js"
import { ClusterMembers } from "../store/ClusterMembers.js"
import { readClusterView } from "../cluster/ClusterStatus.js"
import { Membership } from "../cluster/Membership.js"
import { BadRequest, Erased, NotFound, SkyggeApi, StoreUnavailable } from "./Api.js"
import { tokenLabel } from "./Auth.js"
import { Erasures, type ErasuresShape } from "../store/Erasures.js"
import { countSummary, Metrics } from "./Metrics.js"

const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)

/** A store failure is answered 503, naming the operation and its cause (never row data): the request may be retried. */
const storeUnavailable = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchIf(effect, (e): e is Extract<E, StoreError> => e instanceof StoreError, (e) => new StoreUnavailable({ operation: e.operation, message: e.message }))

/** An ingest's other failures stay defects (500); its store's are answered as above. */
const orDieUnlessStore = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, StoreError, R> =>
  Effect.catchAll(effect, (e) => (e instanceof StoreError ? Effect.fail(e) : Effect.die(e)))

/** A query parameter as an instant: absent → `fallback`, malformed → 400 naming the parameter. */
const instantParam = (name: string, value: string | undefined, fallback: Instant) => {
  if (value === undefined) return Effect.succeed(fallback)
  const parsed = parseInstant(value)
  return typeof parsed === "string" ? Effect.succeed(parsed) : Effect.fail(new BadRequest({ message: `${name}: ${parsed.error}` }))
}

/** A stream of text lines (NDJSON by default), one store page per chunk, until a short page. */
const pagedNdjson = <C, A, E>(
  first: C,
  fetch: (cursor: C) => Effect.Effect<ReadonlyArray<A>, E>,
  cursorOf: (last: A) => C,
  cap = Infinity,
  line: (row: A) => string = (row) => JSON.stringify(row) + "\n"
) => keysetPages(first, fetch, cursorOf, cap).pipe(Stream.map((page) => page.map(line).join("")), Stream.encodeText)

/**
 * A whole-number query parameter: decimal digits only — not `1e3`, `0x10`,
 * `+5` or ` 5`, which `Number()` would take — within [min, max], else 400 naming it.
 */
const wholeNumber = (name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
  const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN
  return n >= min && n <= max
    ? Effect.succeed(n)
    : Effect.fail(
        new BadRequest({
          message: max === Number.MAX_SAFE_INTEGER ? `${name} must be a whole number of at least ${min}` : `${name} must be a whole number between ${min} and ${max}`
        })
      )
}

/** A streamed answer's `limit`: a cap on the rows, any size. */
const streamCap = (limit: string | undefined) => (limit === undefined ? Effect.succeed(Infinity) : wholeNumber("limit", limit, 1))

/** A refusal or anomaly id to page on from (`next` of the previous page). */
const afterId = (after: string | undefined) => (after === undefined ? Effect.succeed(0) : wholeNumber("after", after, 0))

/** `at~id`, as the activations listing hands out in `next`. */
const activationCursor = (text: string) => {
  const [at, id] = text.split("~")
  const parsed = at === undefined ? undefined : parseInstant(at)
  return typeof parsed === "string" && id !== undefined && /^\d+$/.test(id)
    ? Effect.succeed({ at: parsed, id: Number(id) })
    : Effect.fail(new BadRequest({ message: `after: expected the 'next' value of the previous page, got '${text.slice(0, 60)}'` }))
}

// A store failure after a streamed answer began cannot change its status: the body stops short (the connection is cut).
const ndjsonResponse = <E>(body: Stream.Stream<Uint8Array, E>) =>
  HttpServerResponse.stream(body, { contentType: "application/x-ndjson", headers: { "cache-control": "no-store" } })

/** CSV (RFC 4180) with its header line first, as a download. */
const csvResponse = <E>(body: Stream.Stream<Uint8Array, E>, changes: boolean, filename: string) =>
  HttpServerResponse.stream(Stream.concat(Stream.make(new TextEncoder().encode(csvHeader(changes))), body), {
    contentType: "text/csv; charset=utf-8; header=present",
    headers: { "cache-control": "no-store", "content-disposition": `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, "_")}"` }
  })

/** CSV when asked by `format=csv` or `Accept: text/csv`. */
const wantsCsv = (format: string | undefined, accept: string | undefined) => format === "csv" || (format === undefined && (accept ?? "").includes("text/csv"))

/** A page's `limit`: absent → `fallback`; else 1 to `api.maxPageSize`. */
const checkLimit = (maxPageSize: number, limit: string | undefined, fallback: number) => {
  if (limit === undefined) return Effect.succeed(fallback)
  const n = /^[0-9]{1,16}$/.test(limit) ? Number(limit) : NaN
  const problem = pageLimitProblem("limit", n, maxPageSize)
  return problem === undefined ? Effect.succeed(n) : Effect.fail(new BadRequest({ message: problem }))
}

export const ObjectsLive = HttpApiBuilder.group(SkyggeApi, "objects", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    const erasures = yield* Erasures
    const api = yield* ApiConfig
    return handlers
      .handle("get", ({ path, urlParams }) =>
        Effect.gen(function* () {
          const at = yield* now
          const registreringstid = yield* instantParam("registreringstid", urlParams.registreringstid, at)
          const virkningstid = yield* instantParam("virkningstid", urlParams.virkningstid, at)
          const row = yield* store.asOf({ ...path, registreringstid, virkningstid })
          if (Option.isNone(row)) {
            return yield* erasedOr(erasures, path.objectType, path.objectId, new NotFound({
              message: `no row of ${path.objectType}/${path.objectId} in force at registreringstid ${registreringstid} and virkningstid ${virkningstid}`
            }))
          }
          return row.value
        }).pipe(storeUnavailable)
      )
      .handle("history", ({ path }) =>
        Effect.gen(function* () {
          const rows = yield* store.history(path.objectType, path.objectId)
          if (rows.length === 0) return yield* erasedOr(erasures, path.objectType, path.objectId, new NotFound({ message: `no object ${path.objectType}/${path.objectId}` }))
          return { ...path, rows }
        }).pipe(storeUnavailable)
      )
      .handle("snapshot", ({ path, urlParams }) =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const at = yield* now
          const base = {
            objectType: path.objectType,
            registreringstid: yield* instantParam("registreringstid", urlParams.registreringstid, at),
            virkningstid: yield* instantParam("virkningstid", urlParams.virkningstid, at)
          }
          if (wantsCsv(urlParams.format, request.headers.accept)) {
            const cap = yield* streamCap(urlParams.limit)
            return csvResponse(
              pagedNdjson(urlParams.after ?? "", (after) => store.snapshot({ ...base, after, limit: PAGE }), (row) => row.objectId, cap, (row) => csvLine(row, false)),
              false,
              `${path.objectType}-snapshot-${base.registreringstid}-${base.virkningstid}.csv`
            )
          }
          if (urlParams.format === "ndjson" || (request.headers.accept ?? "").includes("application/x-ndjson")) {
            const cap = yield* streamCap(urlParams.limit)
            return ndjsonResponse(
              pagedNdjson(urlParams.after ?? "", (after) => store.snapshot({ ...base, after, limit: PAGE }), (row) => row.objectId, cap)
            )
          }
          const limit = yield* checkLimit(api.maxPageSize, urlParams.limit, PAGE)
          const rows = yield* store.snapshot({ ...base, limit: limit + 1, ...(urlParams.after === undefined ? {} : { after: urlParams.after }) })
          const page = rows.slice(0, limit)
          return { rows: page, next: rows.length > limit ? page[page.length - 1]!.objectId : null }
        }).pipe(storeUnavailable)
      )
  })
)

export const ChangesLive = HttpApiBuilder.group(SkyggeApi, "changes", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          const at = yield* now
          const since = yield* instantParam("since", urlParams.since, at)
          const until = yield* instantParam("until", urlParams.until, at)
          if (since > until) return yield* new BadRequest({ message: `since ${since} is after until ${until}` })
          const query = { since, until, ...(urlParams.objectType === undefined ? {} : { objectType: urlParams.objectType }) }
          const fetch = (after: ChangeCursor | undefined) => store.changes({ ...query, limit: PAGE, ...(after === undefined ? {} : { after }) })
          const cursorOf = (row: { changeAt: Instant; id: number }) => ({ at: row.changeAt, id: row.id })
          const request = yield* HttpServerRequest.HttpServerRequest
          if (wantsCsv(urlParams.format, request.headers.accept)) {
            return csvResponse(pagedNdjson(undefined, fetch, cursorOf, Infinity, (row) => csvLine(row, true)), true, `changes-${since}-${until}.csv`)
          }
          return ndjsonResponse(pagedNdjson<ChangeCursor | undefined, ChangeRow, StoreError>(undefined, fetch, cursorOf))
        }).pipe(storeUnavailable)
      )
  })
)

export const ActivationsLive = HttpApiBuilder.group(SkyggeApi, "activations", (handlers) =>
  Effect.gen(function* () {
    const activationStore = yield* ActivationStore
    const api = yield* ApiConfig
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          const limit = yield* checkLimit(api.maxPageSize, urlParams.limit, 1000)
          const from = urlParams.from === undefined ? null : yield* instantParam("from", urlParams.from, null as never)
          const to = urlParams.to === undefined ? null : yield* instantParam("to", urlParams.to, null as never)
          const after = urlParams.after === undefined ? undefined : yield* activationCursor(urlParams.after)
          const status = urlParams.status ?? "pending"
          const activations = yield* activationStore.list({
            from,
            to,
            limit,
            ...(urlParams.objectType === undefined ? {} : { objectType: urlParams.objectType }),
            ...(status === "all" ? {} : { status }),
            ...(after === undefined ? {} : { after })
          })
          const last = activations[activations.length - 1]
          return { activations, next: activations.length === limit && last !== undefined ? `${last.at}~${last.id}` : null }
        }).pipe(storeUnavailable)
      )
  })
)

export const RefusedLive = HttpApiBuilder.group(SkyggeApi, "refused", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    const api = yield* ApiConfig
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          const limit = yield* checkLimit(api.maxPageSize, urlParams.limit, 100)
          const refused = yield* store.refused(yield* afterId(urlParams.after), limit)
          return { refused, next: refused.length === limit ? refused[refused.length - 1]!.id : null }
        }).pipe(storeUnavailable)
      )
  })
)

export const AnomaliesLive = HttpApiBuilder.group(SkyggeApi, "anomalies", (handlers) =>
  Effect.gen(function* () {
    const mirrorStore = yield* MirrorStore
    const api = yield* ApiConfig
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          const limit = yield* checkLimit(api.maxPageSize, urlParams.limit, 1000)
          const list = yield* mirrorStore.anomalies({ after: yield* afterId(urlParams.after), limit, ...(urlParams.objectType === undefined ? {} : { objectType: urlParams.objectType }) })
          return { anomalies: list, next: list.length === limit ? list[list.length - 1]!.id : null }
        }).pipe(storeUnavailable)
      )
  })
)

/** This process's member id, when it is one (the engine of `skygge run`). */
const selfId = Effect.map(Effect.serviceOption(Membership), Option.match({ onNone: () => null, onSome: (m) => m.member.id }))

export const ClusterLive = HttpApiBuilder.group(SkyggeApi, "cluster", (handlers) =>
  Effect.gen(function* () {
    const context = yield* Effect.context<ClusterMembers>()
    return handlers.handle("view", () => storeUnavailable(Effect.flatMap(selfId, (self) => readClusterView(self).pipe(Effect.provide(context)))))
  })
)

export const SourcesLive = HttpApiBuilder.group(SkyggeApi, "sources", (handlers) => Effect.succeed(handlers.handle("status", () => storeUnavailable(sourcesStatus))))

export const ResyncReportsLive = HttpApiBuilder.group(SkyggeApi, "resyncReports", (handlers) =>
  Effect.gen(function* () {
    const resyncReports = yield* ResyncReports
    const api = yield* ApiConfig
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          const limit = yield* checkLimit(api.maxPageSize, urlParams.limit, 100)
          const reports = yield* resyncReports.list({ limit, ...(urlParams.source === undefined ? {} : { source: urlParams.source }) })
          return { reports }
        }).pipe(storeUnavailable)
      )
  })
)

/** Chunks of a body, stopping (and saying so) once more than `max` bytes have come. */
async function* limitBytes(body: AsyncIterable<Uint8Array>, max: number, state: { bytes: number; over: boolean }) {
  for await (const chunk of body) {
    if (state.bytes + chunk.length > max) {
      state.over = true
      return
    }
    state.bytes += chunk.length
    yield chunk
  }
}

/**
 * The summary as the answer. A 413 leaves the rest of the body unread, so it says
 * `Connection: close`: a client that kept the connection for its next request
 * would otherwise send it into a socket the server is closing (ECONNRESET).
 */
const summaryResponse = (summary: IngestSummary, status?: number) =>
  HttpServerResponse.unsafeJson(summary, {
    status: status ?? (summary.refused > 0 ? 422 : 200),
    ...(status === 413 ? { headers: { connection: "close" } } : {})
  })

export const ErasuresLive = HttpApiBuilder.group(SkyggeApi, "erasures", (handlers) =>
  Effect.gen(function* () {
    const erasures = yield* Erasures
    const api = yield* ApiConfig
    return handlers.handle("list", ({ urlParams }) =>
      Effect.gen(function* () {
        const limit = yield* checkLimit(api.maxPageSize, urlParams.limit, 100)
        const list = yield* erasures.list(yield* afterId(urlParams.after), limit)
        return { erasures: list, next: list.length === limit ? list[list.length - 1]!.id : null }
      }).pipe(storeUnavailable)
    )
  })
)

/** Erasure over HTTP: the log records the token's label (a digest prefix), never the token; the id is not logged. */
export const EraseLive = HttpApiBuilder.group(SkyggeApi, "erase", (handlers) =>
  Effect.gen(function* () {
    const erasures = yield* Erasures
    return handlers.handle("erase", ({ payload }) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const reason = payload.reason.trim()
        if (reason.length === 0) return yield* new BadRequest({ message: "reason is required: say why (it is kept in the erasure log)" })
        const record = yield* erasures.erase({ objectType: payload.objectType, objectId: payload.objectId, reason, by: tokenLabel(request.headers.authorization), allowNew: payload.allowNew })
        yield* Effect.logInfo(`erasure ${record.id} of an object of type ${record.objectType} by ${record.erasedBy}`)
        return record
      }).pipe(storeUnavailable)
    )
  })
)

/** A point query or history that found nothing: 410 when the object was erased (never an old version), else `notFound`. */
const erasedOr = (erasures: ErasuresShape, objectType: string, objectId: string, notFound: NotFound): Effect.Effect<never, Erased | NotFound | StoreError> =>
  Effect.flatMap(erasures.find(objectType, objectId), (found): Effect.Effect<never, Erased | NotFound> =>
    Option.isSome(found)
      ? Effect.fail(new Erased({
        message: `${objectType}/${objectId} was erased (erasure ${found.value.id}); its history is kept only as tombstones (${found.value.pseudonym})`,
        erasure: found.value.id,
        erasedAt: found.value.erasedAt
      }))
      : Effect.fail(notFound))

export const RegistrationsLive = HttpApiBuilder.group(SkyggeApi, "registrations", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    const metrics = yield* Metrics
    const api = yield* ApiConfig
    const ingest = yield* IngestConfig
    const SOURCE = "http"
    const refuseWhole = (reason: string, raw: string, status: number) =>
      Effect.gen(function* () {
        yield* store.ingest(SOURCE, [{ input: { reason }, raw }])
        const summary = emptySummary()
        summary.refused = 1
        summary.refusals.push({ reason })
        yield* countSummary(metrics, summary)
        return summaryResponse(summary, status)
      })

    return handlers.handleRaw("register", ({ request }) =>
      Effect.gen(function* () {
        const length = Number(request.headers["content-length"] ?? "0")
        if (length > api.maxBodyBytes) {
          return yield* refuseWhole(`request body of ${length} bytes is over api.maxBodyBytes (${api.maxBodyBytes}); nothing was read`, "", 413)
        }
        const incoming = NodeHttpServerRequest.toIncomingMessage(request)
        const state = { bytes: 0, over: false }
        const body = limitBytes(incoming, api.maxBodyBytes, state)
        const contentType = (request.headers["content-type"] ?? "").toLowerCase()

        if (contentType.startsWith("application/json")) {
          const chunks: Array<Uint8Array> = []
          for (;;) {
            const next = yield* Effect.promise(() => body.next())
            if (next.done) break
            chunks.push(next.value)
          }
          const text = Buffer.concat(chunks).toString("utf8")
          if (state.over) {
            return yield* refuseWhole(`request body is over api.maxBodyBytes (${api.maxBodyBytes}); nothing was applied`, text.slice(0, 200), 413)
          }
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch (e) {
            return yield* refuseWhole(`malformed JSON body: ${(e as Error).message}`, text, 400)
          }
          const summary = yield* ingestValues(Array.isArray(json) ? json : [json], {
            source: SOURCE,
            batchSize: ingest.batchSize,
            timeZone: ingest.timeZone,
            maxLineBytes: api.maxLineBytes,
            maxDepth: api.maxDepth
          }).pipe(orDieUnlessStore)
          yield* countSummary(metrics, summary)
          return summaryResponse(summary)
        }

        // NDJSON: applied batch by batch while the body streams in.
        const summary = yield* ingestNdjson(
          { [Symbol.asyncIterator]: () => body },
          { source: SOURCE, batchSize: ingest.batchSize, timeZone: ingest.timeZone, maxLineBytes: api.maxLineBytes, maxDepth: api.maxDepth, truncated: () => state.over }
        ).pipe(orDieUnlessStore)
        if (state.over) {
          const reason = `request body is over api.maxBodyBytes (${api.maxBodyBytes}): reading stopped after ${summary.lines} operations, which were processed; the rest of the body was not read`
          yield* store.ingest(SOURCE, [{ input: { reason }, raw: "" }])
          summary.refused++
          summary.refusals.push({ reason })
          yield* countSummary(metrics, summary)
          return summaryResponse(summary, 413)
        }
        yield* countSummary(metrics, summary)
        return summaryResponse(summary)
      }).pipe(storeUnavailable)
    )
  })
)

export const SystemLive = HttpApiBuilder.group(SkyggeApi, "system", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    const activations = yield* ActivationStore
    const outbox = yield* OutboxStore
    const workQueue = yield* WorkQueue
    const mirrorAnomalies = yield* MirrorStore
    const publishers = publisherNames(yield* OutboxConfig)
    const metrics = yield* Metrics
    const pool = yield* Effect.serviceOption(StorePool)
    const clusterContext = yield* Effect.context<ClusterMembers>()
    return handlers
      .handle("health", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () => storeUnavailable(Effect.as(store.ping, { status: "ready" as const })))
      .handle("metrics", () =>
        Effect.gen(function* () {
          const stats = yield* store.stats
          const sources = yield* sourcesStatus
          const downstream = {
            pendingActivations: yield* activations.pendingCount,
            outboxRecords: yield* outbox.size,
            publishers: yield* outbox.states(publishers),
            workItems: yield* workQueue.counts,
            anomalies: yield* mirrorAnomalies.anomalyCount,
            pushInboxPending: sources.pushInboxPending,
            cursorAges: sources.cursors.map((c) => ({ source: c.source, seconds: c.ageSeconds }))
          }
          const poolStats = Option.isSome(pool) ? yield* pool.value.stats : undefined
          const cluster = yield* readClusterView(yield* selfId).pipe(Effect.provide(clusterContext))
          return HttpServerResponse.text(metrics.render(stats, { ...downstream, cluster }, poolStats), { contentType: "text/plain; version=0.0.4; charset=utf-8" })
        }).pipe(storeUnavailable)
      )
  })
)
