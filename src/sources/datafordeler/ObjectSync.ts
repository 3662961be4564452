/**
 * What every Datafordeler event path does once it knows which objects changed:
 * fetch each object's rows once (however many events named it), check that
 * they show what the events announced — the data services may lag the events
 * by minutes — retry with backoff while they do not, and park the object when
 * they still do not (the caller keeps its cursor before it, so nothing is
 * stored as current that is not). The rows of the objects that are ready
 * become mirror items with the object's whole history in hand.
 */
import { Duration, Effect } from "effect"
import { backoff } from "../../schedule/Backoff.js"
import { type MirrorItem, MirrorStore, type MirrorStoreShape } from "../../store/Mirror.js"
import { Store } from "../../store/Store.js"
import { type DafSource, rowShape } from "./DafConfig.js"
import type { UpstreamError } from "../FetchError.js"
import { fetchObject, type FetchedObject, fetchesMany, fetchObjects, type Service } from "./ObjectFetch.js"

export interface ObjectWork<T> {
  readonly entity: string
  readonly objectId: string
  /** Whether fetched rows show the events that named the object. */
  readonly shows: (fetched: FetchedObject) => boolean
  readonly tag: T
}

export type Synced<T> =
  /** `held`: the rows we held when the answer was checked (it testifies only about those). */
  | { readonly _tag: "Ready"; readonly work: ObjectWork<T>; readonly fetched: FetchedObject; readonly held: ReadonlyMap<string, string | null> }
  | { readonly _tag: "Parked"; readonly work: ObjectWork<T>; readonly reason: string }

/** The data service of a source's entities: its GraphQL endpoint when it has one. */
export interface DataService {
  readonly service: Service
  readonly graphqlUrl?: string | undefined
  readonly register?: string | undefined
  /**
   * Whether the register has an import in progress (one that may have deleted
   * rows it has not yet inserted again), when the source can tell (`graphql`
   * with the import-status gate); asked only for objects whose history still
   * lacks rows we hold after the retries.
   */
  readonly importRunning?: Effect.Effect<boolean, UpstreamError> | undefined
}

/**
 * Whether a fetched whole history holds every row we hold, and none of ours
 * closed shown open. When not, upstream may be half-way through rewriting the
 * object (a re-import deletes and inserts every row): it is fetched again, and
 * while an import is running (when the path can tell) it is parked however long
 * that takes; only a history that stays so with no import running is mirrored —
 * and the mirror records what it lacks as anomalies instead of obeying.
 */
const coversHeld = (held: ReadonlyMap<string, string | null>, fetched: FetchedObject): boolean => {
  if (held.size === 0) return true // a new object: nothing to lack
  const upstream = new Map(fetched.rows.map((r) => [r.key, r.registreringTil] as const))
  for (const [key, til] of held) {
    if (!upstream.has(key)) return false
    if (til !== null && upstream.get(key) === null) return false
  }
  return true
}

type Checked = { readonly fetched: FetchedObject; readonly held: ReadonlyMap<string, string | null> }
type NotYet = { readonly _tag: "Lagging" } | ({ readonly _tag: "Incomplete" } & Checked)

/** Objects of entities whose query takes `$ids`, fetched BATCH at a time before the per-object checks (a failed batch is left to them). */
const BATCH = 100

const prefetch = <T>(source: DafSource, data: DataService, works: ReadonlyArray<ObjectWork<T>>) =>
  Effect.gen(function* () {
    const fetched = new Map<string, FetchedObject>()
    if (data.graphqlUrl === undefined) return fetched
    const chunks: Array<{ entity: string; ids: Array<string> }> = []
    for (const work of works) {
      if (!fetchesMany(source.entities[work.entity]!)) continue
      const last = chunks.findLast((c) => c.entity === work.entity)
      if (last !== undefined && last.ids.length < BATCH) last.ids.push(work.objectId)
      else chunks.push({ entity: work.entity, ids: [work.objectId] })
    }
    yield* Effect.forEach(
      chunks,
      (c) =>
        fetchObjects(data.service, data.graphqlUrl!, data.register, c.entity, source.entities[c.entity]!, c.ids, source.timeZone).pipe(
          Effect.tap((answers) => Effect.sync(() => answers.forEach((f, id) => fetched.set(`${c.entity}\u0000${id}`, f)))),
          Effect.ignore
        ),
      { concurrency: data.service.policy.concurrency }
    )
    return fetched
  })

/** What the batch's answer for an object is found by. */
const workKey = (work: ObjectWork<unknown>) => `${work.entity}\u0000${work.objectId}`

/** One object: fetched, asked again while its rows lag or lack ours, parked if they still do. */
const syncOne = <T>(source: DafSource, data: DataService, mirror: MirrorStoreShape, prefetched: ReadonlyMap<string, FetchedObject>, work: ObjectWork<T>): Effect.Effect<Synced<T>> => {
  const entity = source.entities[work.entity]!
  // The first try takes the batch's answer when there is one; retries fetch the object alone.
  let first: FetchedObject | undefined = prefetched.get(workKey(work))
  const fetchOnce = Effect.suspend(() => {
    const ready = first
    first = undefined
    return ready !== undefined ? Effect.succeed(ready) : fetchObject(data.service, data.graphqlUrl, data.register, work.entity, entity, work.objectId, source.timeZone)
  })
  return fetchOnce.pipe(
    Effect.mapError((reason): NotYet | UpstreamError => reason),
    Effect.flatMap((fetched) => (work.shows(fetched) ? Effect.succeed(fetched) : Effect.fail<NotYet>({ _tag: "Lagging" }))),
    Effect.flatMap((fetched) =>
      // orDie: the catchAll below reads every failure as a reason to park; a store failure is none (it stops the path loudly, as before).
      Effect.flatMap(Effect.orDie(mirror.heldRows(entity.objectType, [work.objectId], entity.identity)), (heldOf) => {
        const held = heldOf.get(work.objectId)!
        return coversHeld(held, fetched) ? Effect.succeed<Checked>({ fetched, held }) : Effect.fail<NotYet>({ _tag: "Incomplete", fetched, held })
      })
    ),
    // Rows that lag or lack are asked again; of failed requests only those that may pass (the fetch retried them already).
    Effect.retry({ while: (e) => e._tag === "Lagging" || e._tag === "Incomplete" || e.transient, times: data.service.policy.maxAttempts - 1, schedule: backoff({ base: Duration.millis(250) }) }),
    Effect.map(({ fetched, held }): Synced<T> => ({ _tag: "Ready", work, fetched, held })),
    Effect.catchAll((why): Effect.Effect<Synced<T>> => {
      // Still lacking rows we hold after the retries: parked while an import runs (or the status cannot be read),
      // else mirrored, and what it lacks recorded as anomalies.
      if (why._tag === "Incomplete") {
        const ready: Synced<T> = { _tag: "Ready", work, fetched: why.fetched, held: why.held }
        if (data.importRunning === undefined) return Effect.succeed(ready)
        // The status is asked after the last fetch: an import that ended in between would leave that fetch's
        // half-imported history looking final. Read once more now that none runs, and mirror that answer.
        const afterImport = fetchObject(data.service, data.graphqlUrl, data.register, work.entity, entity, work.objectId, source.timeZone).pipe(
          Effect.map((fetched): Synced<T> => (work.shows(fetched) ? { _tag: "Ready", work, fetched, held: why.held } : ready)),
          Effect.orElseSucceed(() => ready)
        )
        return data.importRunning.pipe(
          Effect.orElseSucceed(() => true),
          Effect.flatMap((running) => (running ? Effect.succeed<Synced<T>>({ _tag: "Parked", work, reason: "its history lacks rows we hold while an import is running" }) : afterImport))
        )
      }
      return Effect.succeed({ _tag: "Parked", work, reason: why._tag === "Lagging" ? "the rows do not yet show the event" : why.message })
    })
  )
}

/**
 * Objects synced, in the order given. The common case is settled in this one fiber: the batch's answer
 * shows the object's events and holds every row we hold (the rows held read for an entity's objects at
 * once) — Ready as syncOne's first try would have made it. What lags or lacks goes to syncOne, one fiber each.
 */
export const syncObjects = <T>(source: DafSource, data: DataService, works: ReadonlyArray<ObjectWork<T>>) =>
  Effect.gen(function* () {
    const mirror = yield* MirrorStore
    const prefetched = yield* prefetch(source, data, works)
    const synced: Array<Synced<T> | undefined> = new Array(works.length)
    const shown = new Map<string, Array<{ readonly at: number; readonly fetched: FetchedObject }>>()
    works.forEach((work, at) => {
      const fetched = prefetched.get(workKey(work))
      if (fetched === undefined || !work.shows(fetched)) return
      const same = shown.get(work.entity)
      if (same === undefined) shown.set(work.entity, [{ at, fetched }])
      else same.push({ at, fetched })
    })
    for (const [name, objects] of shown) {
      const entity = source.entities[name]!
      // orDie: as in syncOne, a store failure is no reason to park (it stops the path loudly).
      const heldOf = yield* Effect.orDie(mirror.heldRows(entity.objectType, objects.map((o) => works[o.at]!.objectId), entity.identity))
      for (const { at, fetched } of objects) {
        const held = heldOf.get(works[at]!.objectId)!
        if (coversHeld(held, fetched)) synced[at] = { _tag: "Ready", work: works[at]!, fetched, held }
      }
    }
    const rest = works.flatMap((_, at) => (synced[at] === undefined ? [at] : []))
    yield* Effect.forEach(rest, (at) => Effect.map(syncOne(source, data, mirror, prefetched, works[at]!), (s) => void (synced[at] = s)), {
      concurrency: data.service.policy.concurrency,
      discard: true
    })
    return synced as Array<Synced<T>>
  })

/** A fetched object as a mirror item: its whole history, checked for overlaps (and, once checked, against the rows held then). */
export const wholeHistory = (source: DafSource, entity: string, objectId: string, fetched: FetchedObject, checkedAgainst?: ReadonlyMap<string, string | null>): MirrorItem => ({
  objectType: source.entities[entity]!.objectType,
  objectId,
  rows: fetched.rows,
  complete: true,
  identity: source.entities[entity]!.identity,
  checkOverlaps: true,
  normalise: rowShape(source.entities[entity]!).normalise,
  checkedAgainst
})

/** Rows a data service answered that cannot be read: recorded as refusals (the rest of the object applies). */
export const recordBadRows = (source: DafSource, reasons: ReadonlyArray<string>) =>
  reasons.length === 0
    ? Effect.void
    : Effect.flatMap(Store, (store) => store.ingest(`datafordeler:${source.name}`, reasons.map((reason) => ({ input: { reason: `row: ${reason}` } })))).pipe(Effect.asVoid)

