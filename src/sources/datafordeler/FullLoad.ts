/**
 * The full load of a Datafordeler source's entities, for when events cannot
 * bring the shadow up to date: a first start (a new subscription sees only new
 * events) or a cursor older than the service keeps events (about two months).
 * It says so loudly, then loads from what is configured — the register's file
 * download (a zip of JSON entity lists through the mirror path) and/or each
 * entity's paged GraphQL `list` query — and reports what it loaded. Rows are
 * mirrored as the register has them, so loading over an existing shadow only
 * adds what it lacks (and records what upstream rewrote). With nothing
 * configured it says how to load history by hand instead of pretending.
 *
 * With several engines, a source's full loads run one at a time in the cluster: each takes the singleton
 * `datafordeler:<source>:full-load` for as long as it runs (a path that needs one waits for another
 * process's to end, then loads too: a second load over a loaded shadow only re-reads). The cron that
 * schedules them is a singleton of its own (`datafordeler:<source>:full-load-cron`, DafSourceLive).
 */
import { Data, Deferred, Duration, Effect, Redacted, Ref } from "effect"
import { Leadership } from "../../cluster/Leadership.js"
import { backoff } from "../../schedule/Backoff.js"
import { runOnCron } from "../../schedule/OnCron.js"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Instant } from "../../domain/core/Instant.js"
import { decodeMirrorRow, type MirrorRow } from "../../domain/core/Mirror.js"
import { downloadToFile, printableUrl } from "../../ingest/Download.js"
import { ingestMirrorExtract } from "../../ingest/MirrorExtract.js"
import { type MirrorItem, MirrorStore } from "../../store/Mirror.js"
import type { Store } from "../../store/Store.js"
import { rowShape } from "./DafConfig.js"
import type { DafRuntime } from "./DafRuntime.js"
import { forEachGraphqlPage } from "./ObjectFetch.js"
import { type DataService, recordBadRows } from "./ObjectSync.js"


/** A full load that stopped short: which part, and the failure underneath. */
export class FullLoadFailed extends Data.TaggedError("FullLoadFailed")<{ readonly message: string; readonly cause: unknown }> {}

/** Every row of one entity through its `list` query, page by page, each page mirrored as it comes. */
const loadEntityByQuery = (runtime: DafRuntime, data: DataService, entityName: string) =>
  Effect.gen(function* () {
    const source = runtime.source
    const entity = source.entities[entityName]!
    const list = entity.list!
    const shape = rowShape(entity)
    const mirror = yield* MirrorStore
    let rows = 0
    yield* forEachGraphqlPage(data.service, source.graphql!.url, list.query, list.root ?? `${source.graphql!.register}_${entityName}`, {}, (nodes) =>
      Effect.gen(function* () {
        const byObject = new Map<string, Array<MirrorRow>>()
        const bad: Array<string> = []
        for (const raw of nodes) {
          const row = decodeMirrorRow(raw, shape, source.timeZone)
          if ("reason" in row) bad.push(`${entityName}: ${row.reason}`)
          else {
            const same = byObject.get(row.objectId)
            if (same === undefined) byObject.set(row.objectId, [row])
            else same.push(row)
          }
        }
        yield* recordBadRows(source, bad)
        // A page may end inside an object's rows: each page's rows are mirrored as they are, not as whole histories.
        const items: Array<MirrorItem> = [...byObject].map(([objectId, r]) => ({ objectType: entity.objectType, objectId, rows: r, complete: false, identity: entity.identity, checkOverlaps: false, normalise: shape.normalise }))
        if (items.length > 0) yield* mirror.mirror(`datafordeler:${source.name}`, `full-load:${source.name}:${entityName}`, items)
        rows += nodes.length
      })
    )
    return rows
  })

const loadDownload = (runtime: DafRuntime, url: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "skygge-full-load-"))),
    (dir) =>
      Effect.gen(function* () {
        const source = runtime.source
        const file = yield* downloadToFile(url, { dir, timeoutSeconds: 3600, ...(runtime.downloadKey !== undefined ? { apiKey: Redacted.value(runtime.downloadKey) } : {}) })
        const [first] = Object.values(source.entities)
        const types = new Map(Object.entries(source.entities).map(([name, e]) => [`${name}List`, e.objectType]))
        const shapes = new Map(Object.values(source.entities).map((e) => [e.objectType, rowShape(e)]))
        const summary = yield* ingestMirrorExtract(file, {
          objectType: source.name,
          shape: rowShape(first!),
          timeZone: source.timeZone,
          entities: [...types.keys()],
          typeOfList: (list) => types.get(list ?? "") ?? source.name,
          shapeOf: (objectType) => shapes.get(objectType),
          source: `datafordeler:${source.name}`,
          batchSize: 2000,
          maxRecordBytes: 16 * 1024 * 1024
        })
        return summary
      }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** What a full load tells the event paths: how current its file download was (its newest row's write), if it loaded one. */
export interface FullLoadResult {
  readonly downloadNewestWrite: Instant | null
}

export const fullLoad = (runtime: DafRuntime, data: DataService, why: string) =>
  Effect.gen(function* () {
    const source = runtime.source
    const listed = Object.keys(source.entities).filter((name) => source.entities[name]!.list !== undefined)
    const download = source.fullLoad.download
    if (listed.length === 0 && download === undefined) {
      yield* Effect.logWarning(
        `${why}; no full load is configured (fullLoad.download or entities.*.list): what happened before that is missing until it is loaded, e.g. with skygge import-extract --mirror from the register's file download`
      )
      return { downloadNewestWrite: null } satisfies FullLoadResult
    }
    yield* Effect.logWarning(`${why}; full load starts`).pipe(Effect.annotateLogs({ download: download === undefined ? "none" : printableUrl(download), queries: listed.join(",") || "none" }))
    let downloadNewestWrite: Instant | null = null
    if (download !== undefined) {
      const summary = yield* loadDownload(runtime, download).pipe(Effect.mapError((e) => new FullLoadFailed({ message: `the file download: ${e.message}`, cause: e })))
      downloadNewestWrite = summary.newestWrite
      yield* Effect.logWarning("full load: file download loaded").pipe(
        Effect.annotateLogs({ rows: summary.rows, inserted: summary.inserted, closed: summary.closed, refused: summary.refused, anomalies: summary.anomalies, newestWrite: summary.newestWrite ?? "none" })
      )
    }
    for (const name of listed) {
      const rows = yield* loadEntityByQuery(runtime, data, name).pipe(Effect.mapError((e) => (e instanceof FullLoadFailed ? e : new FullLoadFailed({ message: `${name}: ${e.message}`, cause: e }))))
      yield* Effect.logWarning(`full load: ${name} loaded`).pipe(Effect.annotateLogs({ rows }))
    }
    return { downloadNewestWrite } satisfies FullLoadResult
  })

/**
 * The full load until it succeeds: the caller's cursor starts only after it (the
 * events since are read afterwards, so nothing in between is lost). Failures are
 * logged and retried with a capped backoff.
 */
export const fullLoadUntilDone = (runtime: DafRuntime, data: DataService, why: string) =>
  exclusive(
    runtime,
    fullLoad(runtime, data, why).pipe(
      Effect.tapError((error) => Effect.logError("full load failed; trying again").pipe(Effect.annotateLogs({ error: error.message }))),
      Effect.retry(backoff({ base: Duration.seconds(2), max: Duration.minutes(5) }))
    )
  )

/** The singleton a source's full loads hold while they run: one at a time in the cluster. */
export const fullLoadSingleton = (runtime: DafRuntime) => `datafordeler:${runtime.source.name}:full-load`

const exclusive = <A, E, R>(runtime: DafRuntime, load: Effect.Effect<A, E, R>) => Effect.flatMap(Leadership, (leadership) => leadership.lead(fullLoadSingleton(runtime), load))

/** What a path calls when events cannot bring the shadow up to date; several paths of a source share one load. */
export type FullLoadOnce = (why: string) => Effect.Effect<FullLoadResult>

/**
 * A source's full load, run at most once per start however many of its paths
 * ask (a first start of PULL, GraphQL and PUSH together loads once); the
 * others wait for it. `data` fetches with the source's own pools.
 */
export const makeFullLoadOnce = (runtime: DafRuntime, data: DataService) =>
  Effect.gen(function* () {
    const done = yield* Deferred.make<FullLoadResult>()
    const started = yield* Ref.make(false)
    const context = yield* Effect.context<Store | MirrorStore | Leadership>()
    const once: FullLoadOnce = (why) =>
      Effect.gen(function* () {
        if (yield* Ref.getAndSet(started, true)) {
          yield* Effect.logWarning(`${why}; waiting for the source's full load`)
          return yield* Deferred.await(done)
        }
        // It retries until done: its failure type is only the retried one's. Interrupted, the waiting paths are too.
        return yield* fullLoadUntilDone(runtime, data, why).pipe(Effect.orDie, Effect.provide(context), Effect.onExit((exit) => Deferred.done(done, exit)))
      })
    return once
  })

/** The full load at every instant of `fullLoad.cron` (in the source's time zone) until interrupted; a failed run waits for the next. */
export const runFullLoadSchedule = (runtime: DafRuntime, data: DataService) =>
  runtime.source.fullLoad.cron === undefined
    ? Effect.void
    : runOnCron(runtime.source.fullLoad.cron, runtime.source.timeZone, "scheduled full load", exclusive(runtime, fullLoad(runtime, data, "scheduled (fullLoad.cron)")))
