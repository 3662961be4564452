/**
 * GraphQL `<Register>_Events` are row-level: each says a row of an object was
 * inserted (`i`), updated (`u`) or deleted (`d`). The engine does not replay
 * them row by row — a window may delete every row of an object and insert
 * them again, and applying the deletes before the inserts have been read
 * would show a half-applied object. Instead a page is folded per object into
 * what the register must show once it has caught up: the rows whose last
 * event in the page is `i`/`u` must be there, the rows whose last event is `d`
 * must be gone. The object's rows are then fetched whole and mirrored only
 * when they show that; otherwise the object is parked and the cursor stays
 * before its first event, so the page is read again.
 *
 * `fromfailedimport` events repeat events of an import that failed: they name
 * the object (a fetch is harmless) but say nothing the rows must show.
 */
import type { RowEvent } from "./DatafordelerEvents.js"
import type { Instant } from "../core/Instant.js"

export interface ObjectEvents {
  readonly entity: string
  readonly objectId: string
  /** The first and last eventid naming the object in the page. */
  readonly firstEventId: number
  lastEventId: number
  readonly mustShow: Set<string>
  /**
   * Rows updated (`u`: in a bitemporal register, closed) with their newest update's
   * `datafordelerOpdateringstid`: such a row was there before, so its presence shows nothing.
   */
  readonly mustShowUpdate: Map<string, Instant | null>
  readonly mustNotShow: Set<string>
  /** The newest `datafordelerOpdateringstid` of its events. */
  newestUpdate: Instant | null
  events: number
}

export interface FoldedPage {
  readonly objects: Map<string, ObjectEvents>
  /** Events of entities not configured (the cursor passes them). */
  readonly skipped: number
  readonly refused: ReadonlyArray<{ readonly eventid: number; readonly reason: string }>
  /** The highest eventid of the page (the cursor once everything is applied). */
  readonly lastEventId: number | null
}

/**
 * A round's events folded page by page as the pages are read (a page's events are garbage once folded,
 * not held for the whole round), in eventid order: each page's come after the last page's (the query
 * asks for eventids above it), and within a page they are sorted. Events of unconfigured entities are skipped.
 */
export const rowEventFold = (configured: (entity: string) => boolean, after: number) => {
  const objects = new Map<string, ObjectEvents>()
  const refused: Array<{ eventid: number; reason: string }> = []
  let skipped = 0
  let lastEventId: number | null = null
  const add = (events: ReadonlyArray<RowEvent>): void => {
    const sorted = [...events].sort((a, b) => a.eventid - b.eventid)
    for (const e of sorted) {
      if (e.eventid <= after) continue // seen before (the query asks for eventid > cursor; a repeated page changes nothing)
      lastEventId = e.eventid
      if (!configured(e.entityname)) {
        skipped++
        continue
      }
      if (e.objectId === null) {
        refused.push({ eventid: e.eventid, reason: `event ${e.eventid} (${e.entityname}) names no object_id` })
        continue
      }
      const key = `${e.entityname}\u0000${e.objectId}`
      let o = objects.get(key)
      if (o === undefined) {
        o = { entity: e.entityname, objectId: e.objectId, firstEventId: e.eventid, lastEventId: e.eventid, mustShow: new Set(), mustShowUpdate: new Map(), mustNotShow: new Set(), newestUpdate: null, events: 0 }
        objects.set(key, o)
      }
      o.lastEventId = e.eventid
      o.events++
      if (e.fromFailedImport || e.rowId === null) continue
      if (e.updatedAt !== null && (o.newestUpdate === null || e.updatedAt > o.newestUpdate)) o.newestUpdate = e.updatedAt
      if (e.action === "d") {
        o.mustShow.delete(e.rowId)
        o.mustShowUpdate.delete(e.rowId)
        o.mustNotShow.add(e.rowId)
      } else {
        o.mustNotShow.delete(e.rowId)
        o.mustShow.add(e.rowId)
        if (e.action === "u") o.mustShowUpdate.set(e.rowId, e.updatedAt)
      }
    }
  }
  return { add, result: (): FoldedPage => ({ objects, skipped, refused, lastEventId }) }
}

/** What an answer shows of one row: whether it is closed, and when it was last written. */
export interface RowState {
  readonly closed: boolean
  readonly updatedAt: Instant | null
}

/**
 * Whether a row shows an update event: closed, or written no earlier than the
 * event. Only a row positively older than the event (both stamps known) and
 * still open does not (the data service has not shown the close yet).
 */
const showsUpdate = (row: RowState | undefined, at: Instant | null): boolean =>
  row === undefined || row.closed || at === null || row.updatedAt === null || row.updatedAt >= at

/**
 * Whether fetched rows show an object's events. The data may also be ahead of
 * the page (later events, e.g. a re-import that gave every row a new id), so:
 * no row that must be gone is there, and either every row that must be there
 * is — an updated one showing its update (`showsUpdate`) — or the rows were
 * written no earlier than the newest event (`datafordelerOpdateringstid`).
 * Without row ids in the answer, rows that must be there mean some rows, none
 * of them written before the events when both are stamped (else only presence
 * can be told).
 */
export const showsEvents = (
  o: ObjectEvents,
  fetched: { readonly rowIds: ReadonlySet<string>; readonly rows: number; readonly newestUpdate: Instant | null; readonly rowStates?: ReadonlyMap<string, RowState> }
): boolean => {
  // Without row ids, rows that must be there mean some rows — written no earlier than the events, when both are stamped.
  if (fetched.rowIds.size === 0) return o.mustShow.size === 0 || (fetched.rows > 0 && !olderThan(fetched.newestUpdate, o.newestUpdate))
  for (const id of o.mustNotShow) if (fetched.rowIds.has(id)) return false
  let all = true
  for (const id of o.mustShow) if (!fetched.rowIds.has(id)) all = false
  for (const [id, at] of o.mustShowUpdate) if (!showsUpdate(fetched.rowStates?.get(id), at)) all = false
  return all || (o.newestUpdate !== null && fetched.newestUpdate !== null && fetched.newestUpdate >= o.newestUpdate)
}

/** Whether rows last written at `written` are positively older than events stamped `events` (unknown: no). */
const olderThan = (written: Instant | null, events: Instant | null): boolean => written !== null && events !== null && written < events

/**
 * Where the cursor may move after a page: to its last event, or — when
 * objects are parked — to just before the first event of the earliest parked
 * one (everything before it was applied; what follows is applied again
 * idempotently next time). Never backwards.
 */
export const cursorAfterPage = (previous: number, page: FoldedPage, parked: ReadonlyArray<ObjectEvents>): number => {
  if (page.lastEventId === null) return previous
  if (parked.length === 0) return Math.max(previous, page.lastEventId)
  return Math.max(previous, Math.min(...parked.map((p) => p.firstEventId)) - 1)
}
