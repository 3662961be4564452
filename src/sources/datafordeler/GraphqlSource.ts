/**
 * A Datafordeler source on the GraphQL events service (`<Register>_Events`),
 * which replaces the legacy PULL service. Each round:
 *
 *   1. `DAF_RegisterImportStatus.lastEventId` — how far the register's imports
 *      are complete. Only events up to it are read (an import in progress may
 *      have deleted an object's rows and not yet inserted them again). It is a
 *      completeness gate, never the cursor: its sequence number does not rise
 *      with the events.
 *   2. Pages of events after the durable cursor (`where: {eventid: {gt}}`,
 *      only the configured entities) until they are all read or the round
 *      holds `eventsPerRound`, folded per object: which rows must be there and
 *      which must be gone (domain/datafordeler/RowEvents).
 *   3. Each object's rows fetched once (REST or GraphQL), retried while they do
 *      not show its events, parked if they still do not.
 *   4. The ready objects mirrored with their whole history and the cursor
 *      moved in the same transaction — to the round's last event, or to just
 *      before the earliest parked object's first event.
 *
 * A first start, or a cursor not confirmed for longer than the service keeps
 * events, runs the full load first (loudly) and starts after
 * `graphql.startAfterEventId` (a first start that sets it) or lastEventId —
 * or, when the load read a file download (generated before the start), after
 * the last event before the download's newest row, less an overlap.
 */
import { Clock, Duration, Effect, Fiber, Option } from "effect"
import { backoff } from "../../schedule/Backoff.js"
import { decodeGraphqlEventsPage } from "../../domain/datafordeler/DatafordelerEvents.js"
import { toEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { cursorAfterPage, type ObjectEvents, rowEventFold, showsEvents } from "../../domain/datafordeler/RowEvents.js"
import { MirrorStore } from "../../store/Mirror.js"
import type { StaleWrite } from "../../store/StaleWrite.js"
import type { StoreError } from "../../store/StoreError.js"
import { SourceCursors } from "../../store/SourceCursors.js"
import { Store } from "../../store/Store.js"
import type { GraphqlSettings } from "./DafConfig.js"
import { type DafRuntime, dataServiceOf } from "./DafRuntime.js"
import type { FullLoadOnce } from "./FullLoad.js"
import { lastCompleteEvent } from "./ImportStatus.js"
import { printableUrl } from "../../ingest/Download.js"
import { DecodeError } from "../FetchError.js"
import { type Pools, postGraphql, withRetry } from "./ObjectFetch.js"
import { type ObjectWork, recordBadRows, type Synced, syncObjects, wholeHistory } from "./ObjectSync.js"
import { graphqlCursorName, graphqlStartAfterDownload } from "./StartingPoint.js"

/** Objects fetched and committed together within a round (one mirror transaction each). */
const MIRROR_CHUNK_OBJECTS = 1000

const EVENT_FIELDS = "eventid entityname eventaction fromfailedimport object_id object_datafordelerRowId datafordelerOpdateringstid"

/** The events query: after the cursor, up to the gate when there is one, only the configured entities, in eventid order. */
export const eventsQuery = (register: string, entities: ReadonlyArray<string>, gated: boolean): string =>
  `query SkyggeEvents($first: Int!, $gt: Long!${gated ? ", $lte: Long!" : ""}) {
  ${register}_Events(first: $first, where: { eventid: { gt: $gt${gated ? ", lte: $lte" : ""} }, entityname: { in: [${entities.map((e) => JSON.stringify(e)).join(", ")}] } }, order: { eventid: ASC }) {
    pageInfo { hasNextPage endCursor }
    nodes { ${EVENT_FIELDS} }
  }
}`

export const runGraphqlSource = (runtime: DafRuntime, gql: GraphqlSettings, pools: Pools, fullLoad: FullLoadOnce) =>
  Effect.scoped(Effect.gen(function* () {
    const source = runtime.source
    const data = dataServiceOf(runtime, pools, gql, "graphql")
    const cursors = yield* SourceCursors
    const mirror = yield* MirrorStore
    const store = yield* Store
    const cursorName = graphqlCursorName(source)
    const entities = Object.keys(source.entities)
    const query = gql.eventsQuery ?? eventsQuery(gql.register, entities, gql.importStatusGate)
    const log = Effect.annotateLogs({ source: source.name, path: "graphql" })
    const ask = (text: string, variables: Record<string, unknown>) => withRetry(gql, postGraphql(data.service, gql.url, text, variables))

    const lastComplete = lastCompleteEvent(gql, data.service)

    /** Pages after `after` (up to `upTo`) until none is left or `eventsPerRound` are read, folded per object as they come. */
    const readRound = (after: number, upTo: number | undefined) =>
      Effect.gen(function* () {
        const fold = rowEventFold((name) => source.entities[name] !== undefined, after)
        let events = 0
        const refused: Array<{ id: string | null; reason: string }> = []
        let gt = after
        for (;;) {
          const answer = yield* ask(query, { first: gql.pageSize, gt, ...(upTo !== undefined ? { lte: upTo } : {}) })
          const page = decodeGraphqlEventsPage({ data: answer }, gql.register)
          if (page._tag === "Failed") return yield* new DecodeError({ url: printableUrl(gql.url), message: page.reason })
          fold.add(page.events)
          events += page.events.length
          for (const r of page.refused) refused.push(r)
          // A refused event with an eventid is read too: the next page, and the cursor, go past it (a page of only
          // refused events would otherwise end every round where it began, and each would be recorded again).
          const last = page.refused.reduce((m, r) => (r.id === null ? m : Math.max(m, Number(r.id))), page.events.reduce((m, e) => Math.max(m, e.eventid), gt))
          if (!page.hasNextPage || last === gt || events + refused.length >= gql.eventsPerRound) return { rowFold: fold.result(), events, refused, lastRead: last, hasNextPage: page.hasNextPage }
          gt = last
        }
      })

    // Where to start: the stored cursor, or — first start, or a gap longer than retention — after a full load.
    const stored = yield* cursors.get(cursorName)
    const retentionMs = source.fullLoad.retentionDays * 86_400_000
    const now = yield* Clock.currentTimeMillis
    const stale = Option.isSome(stored) && toEpochMillis(stored.value.updatedAt as Instant) < now - retentionMs
    let cursor: number
    // The cursor as stored: every write is a compare-and-set against it (a path that lost its leadership cannot move it back).
    let held = Option.match(stored, { onNone: () => null, onSome: (c) => c.cursor })
    const setCursor = (value: number) => Effect.tap(cursors.set(cursorName, String(value), held), () => (held = String(value)))
    if (Option.isNone(stored) || stale) {
      // Without the gate a service lacking the import status is read from its oldest kept event.
      const start = Option.isNone(stored) && gql.startAfterEventId !== undefined
        ? gql.startAfterEventId
        : gql.importStatusGate
        ? yield* lastComplete.pipe(
          Effect.tapError((error) => Effect.logError("cannot read DAF_RegisterImportStatus to start from; trying again").pipe(log, Effect.annotateLogs({ error: error.message }))),
          Effect.retry(backoff({ base: Duration.seconds(1), max: Duration.seconds(gql.pollSeconds) }))
        )
        : yield* lastComplete.pipe(Effect.orElseSucceed(() => 0))
      const configured = Option.isNone(stored) ? gql.startAfterEventId : undefined
      const why = Option.isNone(stored)
        ? configured !== undefined
          ? `first start: events are read after graphql.startAfterEventId (${configured})`
          : `first start: events are read after the newest complete one (${start}); set graphql.startAfterEventId to read the subscription's earlier events`
        : `the cursor was last confirmed at ${stored.value.updatedAt}, longer ago than the service keeps events (${source.fullLoad.retentionDays} days): events since then are lost; events are read after the newest complete one (${start})`
      const loaded = yield* fullLoad(why).pipe(log)
      cursor = loaded.downloadNewestWrite === null ? start : yield* graphqlStartAfterDownload(source, gql, data.service, start, loaded.downloadNewestWrite)
      yield* setCursor(cursor)
    } else cursor = Number(stored.value.cursor)

    // The highest eventid whose refusals this path has recorded.
    let refusedUpTo = cursor
    for (;;) {
      let upTo: number | undefined
      if (gql.importStatusGate) {
        const gate = yield* Effect.either(lastComplete)
        if (gate._tag === "Left") {
          yield* Effect.logWarning("reading DAF_RegisterImportStatus failed; trying again later").pipe(log, Effect.annotateLogs({ error: gate.left.message }))
          yield* Effect.sleep(Duration.seconds(gql.pollSeconds))
          continue
        }
        upTo = gate.right
        if (upTo <= cursor) {
          // Nothing complete after the cursor: confirm it (its age tells whether events could have been lost).
          yield* setCursor(cursor)
          yield* Effect.sleep(Duration.seconds(gql.pollSeconds))
          continue
        }
      }
      // A round reads pages until the events are all read or the round is full, then fetches each object once.
      const round = yield* Effect.either(readRound(cursor, upTo))
      if (round._tag === "Left") {
        yield* Effect.logWarning("reading events failed; trying again later").pipe(log, Effect.annotateLogs({ error: round.left.message }))
        yield* Effect.sleep(Duration.seconds(gql.pollSeconds))
        continue
      }
      const page = round.right
      // Refused events (recorded below) are passed like the others: the cursor may go past the last one read.
      const folded = page.lastRead > (page.rowFold.lastEventId ?? cursor) ? { ...page.rowFold, lastEventId: page.lastRead } : page.rowFold
      // A round read again (a parked object holds the cursor back) does not record its refusals again.
      const fresh = (eventid: number | null) => eventid === null || eventid > refusedUpTo
      const refusals = [
        ...page.refused.filter((r) => fresh(r.id === null ? null : Number(r.id))).map((r) => `event${r.id === null ? "" : ` ${r.id}`}: ${r.reason}`),
        ...folded.refused.filter((r) => fresh(r.eventid)).map((r) => r.reason)
      ]
      refusedUpTo = Math.max(refusedUpTo, page.lastRead)
      if (refusals.length > 0) yield* store.ingest(`datafordeler:${source.name}`, refusals.map((reason) => ({ input: { reason: `GraphQL ${reason}` } })))
      const works: Array<ObjectWork<ObjectEvents>> = [...folded.objects.values()].map((o) => ({
        entity: o.entity,
        objectId: o.objectId,
        shows: (f) => showsEvents(o, { rowIds: f.rowIds, rowStates: f.rowStates, rows: f.rows.length, newestUpdate: f.newestUpdate }),
        tag: o
      }))
      // Objects are fetched and committed MIRROR_CHUNK_OBJECTS at a time, each chunk's transaction running while
      // the next chunk's requests are answered, without the cursor, which moves last (a round read again mirrors
      // its objects to the same rows). Stamped with the round's end: where the cursor goes when nothing is parked.
      const eventId = `graphql:${source.name}:${cursorAfterPage(cursor, folded, [])}`
      const parkedSyncs: Array<Extract<Synced<ObjectEvents>, { _tag: "Parked" }>> = []
      let committing: Fiber.Fiber<unknown, StoreError | StaleWrite> | undefined
      for (let i = 0; i < works.length; i += MIRROR_CHUNK_OBJECTS) {
        const synced = yield* syncObjects(source, data, works.slice(i, i + MIRROR_CHUNK_OBJECTS))
        const ready = synced.flatMap((s) => (s._tag === "Ready" ? [s] : []))
        for (const s of synced) if (s._tag === "Parked") parkedSyncs.push(s)
        yield* recordBadRows(source, ready.flatMap((s) => s.fetched.bad.map((b) => `${s.work.entity} ${s.work.objectId}: ${b}`)))
        if (committing !== undefined) yield* Fiber.join(committing)
        const items = ready.map((s) => wholeHistory(source, s.work.entity, s.work.objectId, s.fetched, s.held))
        committing = yield* Effect.fork(mirror.mirror(`datafordeler:${source.name}`, eventId, items))
      }
      if (committing !== undefined) yield* Fiber.join(committing)
      const parked: Array<ObjectEvents> = parkedSyncs.map((s) => s.work.tag)
      const next = cursorAfterPage(cursor, folded, parked)
      // A cursor held back by a parked object is not confirmed again: its age shows the path is stuck.
      if (next !== cursor || parked.length === 0) yield* mirror.mirror(`datafordeler:${source.name}`, eventId, [], { source: cursorName, cursor: String(next), expected: held })
      if (next !== cursor || parked.length === 0) held = String(next)
      yield* Effect.logDebug("GraphQL events round committed").pipe(log, Effect.annotateLogs({ after: cursor, cursor: next, events: page.events, objects: works.length - parked.length, parked: parked.length }))
      cursor = next
      if (parked.length > 0) {
        yield* Effect.logWarning("objects whose rows do not yet show their events; they are read again from their first event").pipe(log, Effect.annotateLogs({ parked: parked.length, cursor, reason: parkedSyncs[0]!.reason }))
        yield* Effect.sleep(Duration.seconds(gql.pollSeconds))
      } else if (!page.hasNextPage) yield* Effect.sleep(Duration.seconds(gql.pollSeconds))
    }
  }))
