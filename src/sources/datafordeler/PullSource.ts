/**
 * A Datafordeler source on the legacy PULL service. Each round: the next
 * window after the durable cursor (overlapping it, ending `lag` before now),
 * every page of it (until a short page), the events deduplicated by envelope
 * Id, one fetch per object of a configured entity (however many events it
 * had), the rows mirrored with the object's whole history in hand, and only
 * then the cursor moved to the window's end. REST may lag the events: an
 * object whose rows do not yet show its newest registration is fetched again
 * with backoff, and if it still does not, the cursor stays so the next round
 * sees the window again (nothing is stored as current that is not). A first
 * start has no history to PULL from: it says so loudly and starts from now.
 */
import { Clock, Duration, Effect, Option, Redacted, Schedule } from "effect"
import { Pool } from "undici"
import { decodePullEnvelope, type PullEvent } from "../../domain/DatafordelerEvents.js"
import { jsonElements } from "../../ingest/JsonElements.js"
import { fromEpochMillis, type Instant } from "../../domain/Instant.js"
import { decodeMirrorRow, type MirrorRow } from "../../domain/Mirror.js"
import { morePages, nextWindow, type PullWindow } from "../../domain/PullWindow.js"
import { type MirrorItem, MirrorStore } from "../../store/Mirror.js"
import { SourceCursors } from "../../store/SourceCursors.js"
import { Store, type Submission } from "../../store/Store.js"
import { printableUrl } from "../../ingest/Download.js"
import { type DafSource, rowShape } from "./DafConfig.js"

const PULL_PATH = "/system/EventMessages/1.0.0/custom"

class FetchFailed extends Error {}

type Pools = (origin: string) => Pool

const getJson = async (pools: Pools, url: URL, timeoutMs: number, signal: AbortSignal): Promise<unknown> => {
  const pool = pools(url.origin)
  const res = await pool.request({ path: url.pathname + url.search, method: "GET", headers: { accept: "application/json" }, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  const text = await res.body.text()
  if (res.statusCode !== 200) throw new FetchFailed(`HTTP ${res.statusCode} from ${printableUrl(url.href)}`)
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new FetchFailed(`a body that is not JSON from ${printableUrl(url.href)}`)
  }
}

/** One undici Pool per service origin for the life of the source, closed with it. */
const makePools = Effect.acquireRelease(
  Effect.sync(() => new Map<string, Pool>()),
  (pools) => Effect.promise(() => Promise.all([...pools.values()].map((p) => p.close().catch(() => undefined))))
).pipe(
  Effect.map((pools): Pools => (origin) => {
    let pool = pools.get(origin)
    if (pool === undefined) {
      pool = new Pool(origin, { connections: 16, keepAliveTimeout: 30_000 })
      pools.set(origin, pool)
    }
    return pool
  })
)

const withRetry = <A>(source: DafSource, attempt: (signal: AbortSignal) => Promise<A>) =>
  Effect.tryPromise({ try: attempt, catch: (e) => (e instanceof Error ? e.message : String(e)) }).pipe(
    Effect.retry({
      times: Math.max(0, source.pull.maxAttempts - 1),
      schedule: Schedule.exponential(Duration.millis(200)).pipe(Schedule.union(Schedule.spaced(Duration.seconds(source.pull.maxBackoffSeconds))), Schedule.jittered)
    })
  )

/** What a window asks for, per object: its newest announced registration and any rows the events carried. */
interface Wanted {
  readonly entity: string
  readonly objectId: string
  newest: Instant | null
  /** Rows carried inline (Beskeddata[].Objektdata) by identity, a later event's version winning; null once an event carried none (then it is fetched). */
  inline: Map<string, MirrorRow> | null
}

/**
 * Every event of a window, page after page, each page streamed element by element (memory stays
 * bounded by the number of objects, not the page size), folded into per-object work.
 */
const pullWindow = (pools: Pools, source: DafSource, window: PullWindow, apiKey: string | undefined) =>
  Effect.gen(function* () {
    const wanted = new Map<string, Wanted>()
    const shapes = new Map(Object.entries(source.entities).map(([name, entity]) => [name, rowShape(entity)]))
    const refused: Array<{ id: string | null; reason: string }> = []
    const seen = new Set<string>()
    let events = 0
    const take = (e: PullEvent) => {
      if (seen.has(e.id)) return
      seen.add(e.id)
      events++
      for (const r of e.registrations) {
        const entity = source.entities[r.objekttype]
        if (entity === undefined) continue
        const k = `${r.objekttype}\u0000${r.objektID}`
        const w = wanted.get(k) ?? { entity: r.objekttype, objectId: r.objektID, newest: r.registreringstid, inline: new Map<string, MirrorRow>() }
        if (r.registreringstid !== null && (w.newest === null || r.registreringstid > w.newest)) w.newest = r.registreringstid
        // Inline rows are used only when every event of the object carries them, all readable.
        const rows = e.objektdata.map((d) => decodeMirrorRow(d, shapes.get(r.objekttype)!, source.timeZone))
        if (w.inline !== null && rows.length > 0 && rows.every((x) => !("reason" in x) && x.objectId === r.objektID)) {
          for (const row of rows as Array<MirrorRow>) w.inline.set(row.key, row)
        } else w.inline = null
        wanted.set(k, w)
      }
    }
    for (let page = 1; ; page++) {
      const url = new URL(source.pull.url)
      url.pathname = url.pathname.replace(/\/+$/, "") + PULL_PATH
      url.searchParams.set("datefrom", window.from)
      url.searchParams.set("dateto", window.to)
      url.searchParams.set("page", String(page))
      url.searchParams.set("pagesize", String(source.pull.pageSize))
      url.searchParams.set("format", "json")
      if (apiKey !== undefined) url.searchParams.set("apiKey", apiKey)
      const length = yield* withRetry(source, async (signal) => {
        const res = await pools(url.origin).request({
          path: url.pathname + url.search,
          method: "GET",
          headers: { accept: "application/json" },
          signal,
          headersTimeout: source.pull.timeoutSeconds * 1000,
          bodyTimeout: source.pull.timeoutSeconds * 1000
        })
        if (res.statusCode !== 200) {
          await res.body.dump()
          throw new FetchFailed(`HTTP ${res.statusCode} from ${printableUrl(url.href)}`)
        }
        // A page is decoded as it arrives; a retried page starts over (events are deduplicated by Id).
        let n = 0
        for await (const element of jsonElements(res.body, { maxElementBytes: 16 * 1024 * 1024 })) {
          n++
          if (element._tag === "Bad") refused.push({ id: null, reason: `page ${page} element ${element.index + 1}: ${element.reason}` })
          else {
            const e = decodePullEnvelope(element.value, source.timeZone)
            if ("reason" in e) refused.push({ id: null, reason: e.reason })
            else take(e)
          }
        }
        return n
      })
      if (!morePages(length, source.pull.pageSize)) break
    }
    return { wanted, refused, events }
  })

/** Rows of one object, or why not; `reflects` says whether they show the registration the events announced. */
const fetchObject = (pools: Pools, source: DafSource, entityName: string, objectId: string, newest: Instant | null) =>
  Effect.gen(function* () {
    const entity = source.entities[entityName]!
    const url = new URL(entity.rest.replaceAll("{id}", encodeURIComponent(objectId)))
    const body = yield* withRetry(source, (signal) => getJson(pools, url, source.pull.timeoutSeconds * 1000, signal))
    const shape = rowShape(entity)
    const rows: Array<MirrorRow> = []
    const bad: Array<string> = []
    for (const raw of Array.isArray(body) ? body : []) {
      const row = decodeMirrorRow(raw, shape, source.timeZone)
      if ("reason" in row) bad.push(row.reason)
      else if (row.objectId === objectId) rows.push(row)
    }
    const reflects = newest === null || rows.some((r) => r.registreringFra >= newest || (r.registreringTil !== null && r.registreringTil >= newest))
    return { rows, bad, reflects }
  })

export const runPullSource = (source: DafSource, apiKey: Redacted.Redacted | undefined) =>
  Effect.scoped(Effect.gen(function* () {
    const pools = yield* makePools
    const cursors = yield* SourceCursors
    const mirror = yield* MirrorStore
    const store = yield* Store
    const key = apiKey === undefined ? undefined : Redacted.value(apiKey)
    const settings = {
      lagMs: source.pull.lagSeconds * 1000,
      overlapMs: source.pull.overlapSeconds * 1000,
      maxWindowMs: source.pull.maxWindowSeconds * 1000
    }
    const log = Effect.annotateLogs({ source: source.name })
    let cursor = yield* cursors.get(source.name)
    if (Option.isNone(cursor)) {
      const start = fromEpochMillis((yield* Clock.currentTimeMillis) - settings.lagMs)
      yield* Effect.logWarning(
        "first start: the event service only has what happens from now on; load the entities' history from a file download (skygge import-extract --mirror)"
      ).pipe(log, Effect.annotateLogs({ from: start }))
      yield* cursors.set(source.name, start)
      cursor = Option.some(start)
    }
    let at = Option.getOrThrow(cursor) as Instant
    for (;;) {
      const window = nextWindow(at, yield* Clock.currentTimeMillis, settings)
      if (window === undefined) {
        yield* Effect.sleep(Duration.seconds(source.pull.pollSeconds))
        continue
      }
      const pulled = yield* Effect.either(pullWindow(pools, source, window, key))
      if (pulled._tag === "Left") {
        yield* Effect.logWarning("PULL failed; trying the window again later").pipe(log, Effect.annotateLogs({ error: pulled.left }))
        yield* Effect.sleep(Duration.seconds(source.pull.pollSeconds))
        continue
      }
      const { wanted, refused, events } = pulled.right
      if (refused.length > 0) {
        const submissions: Array<Submission> = refused.map((r) => ({ input: { reason: `PULL envelope${r.id === null ? "" : ` ${r.id}`}: ${r.reason}` } }))
        yield* store.ingest(`datafordeler:${source.name}`, submissions)
      }
      // Objects whose events carried their rows need no fetch (and are not their whole history).
      const inlineItems: Array<MirrorItem> = [...wanted.values()]
        .filter((w) => w.inline !== null)
        .map((w) => ({ objectType: source.entities[w.entity]!.objectType, objectId: w.objectId, rows: [...w.inline!.values()], complete: false, identity: source.entities[w.entity]!.identity, checkOverlaps: false }))
      const fetched = yield* Effect.forEach(
        [...wanted.values()].filter((w) => w.inline === null),
        (w) =>
          fetchObject(pools, source, w.entity, w.objectId, w.newest).pipe(
            Effect.flatMap((f) => (f.reflects ? Effect.succeed(f) : Effect.fail("the rows do not yet show the event"))),
            Effect.retry({ times: source.pull.maxAttempts - 1, schedule: Schedule.exponential(Duration.millis(250)).pipe(Schedule.jittered) }),
            Effect.map((f) => ({ ...w, ...f, parked: false })),
            Effect.catchAll((error) => Effect.succeed({ ...w, rows: [] as Array<MirrorRow>, bad: [] as Array<string>, reflects: false, parked: true, error }))
          ),
        { concurrency: source.pull.concurrency }
      )
      const items: Array<MirrorItem> = [
        ...inlineItems,
        ...fetched
          .filter((f) => !f.parked)
          .map((f) => ({ objectType: source.entities[f.entity]!.objectType, objectId: f.objectId, rows: f.rows, complete: true, identity: source.entities[f.entity]!.identity, checkOverlaps: true }))
      ]
      if (items.length > 0) yield* mirror.mirror(`datafordeler:${source.name}`, `pull:${source.name}:${window.to}`, items)
      const parked = fetched.filter((f) => f.parked).length
      if (parked > 0) {
        // The window is seen again next round: objects are mirrored idempotently, so only the lagging ones change.
        yield* Effect.logWarning("objects whose rows do not yet show their events; the window will be read again").pipe(log, Effect.annotateLogs({ parked, window: window.to }))
        yield* Effect.sleep(Duration.seconds(source.pull.pollSeconds))
        continue
      }
      yield* cursors.set(source.name, window.to)
      at = window.to
      yield* Effect.logDebug("PULL window committed").pipe(log, Effect.annotateLogs({ from: window.from, to: window.to, events, objects: items.length }))
    }
  }))
