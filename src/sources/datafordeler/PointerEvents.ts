/**
 * Events that point at objects — the legacy PULL service's and PUSHed ones
 * (`Objektregistrering.objektID`, `objekttype`): folded per object of a
 * configured entity (deduplicated by envelope Id and beskedID, the newest
 * announced registration kept, rows carried inline kept when every event of
 * the object has them), then applied: inline rows mirrored as they are, the
 * other objects fetched whole and mirrored once their rows show the newest
 * registration — unless the rows we hold already show every registration the
 * events announced (an event read again in an overlapping window, after a
 * restart, or by another path): that object costs no request.
 */
import { Effect } from "effect"
import type { PullEvent } from "../../domain/datafordeler/DatafordelerEvents.js"
import type { Bound, Instant } from "../../domain/core/Instant.js"
import { decodeMirrorRow, type MirrorRow } from "../../domain/core/Mirror.js"
import { type MirrorItem, MirrorStore, type SourceCursorMove } from "../../store/Mirror.js"
import { Store } from "../../store/Store.js"
import { type DafSource, rowShape } from "./DafConfig.js"
import { idSet } from "./IdSet.js"
import type { FetchedObject } from "./ObjectFetch.js"
import { type DataService, recordBadRows, syncObjects, wholeHistory } from "./ObjectSync.js"

/** What events ask for, per object: its newest announced registration and any rows the events carried. */
export interface Wanted {
  readonly entity: string
  readonly objectId: string
  newest: Instant | null
  /**
   * Every registration the events announced, kept only for an object to be fetched (to skip the fetch when
   * the rows we hold show them all); null once one announced none, and for an object whose rows came inline
   * (a later event without them makes it fetched unconditionally: the earlier registrations were not kept).
   */
  registrations: Set<Instant> | null
  /**
   * Rows carried inline (Beskeddata[].Objektdata) by identity, a later event's version winning; null once an
   * event carried none (then it is fetched). Each row is held packed in one string (`packRow`): a page of
   * 100,000 events holds a row in a third of the memory a MirrorRow takes. None yet, or none since they
   * were mirrored: NO_ROWS.
   */
  inline: ReadonlyMap<string, string> | null
  /**
   * The instant the inline rows not yet mirrored are true as of: the newest registreringstid of the events
   * that carried them (null when one had none). Set anew by the first event whose rows go into an empty map.
   */
  inlineAsOf: Instant | null
}

/** An inline object's rows when it holds none: one shared empty map, not one per object of a page. */
const NO_ROWS: ReadonlyMap<string, string> = new Map()

/** An inline object's rows let go (once they are unpacked to be mirrored): it stays an inline object, and a later event may add rows. */
export const letGoInline = (w: Wanted): void => {
  if (w.inline !== null) w.inline = NO_ROWS
}

/** The objects events asked for, by entity and objektID, each entity's in the order first named. */
export interface WantedObjects {
  get(entity: string, objectId: string): Wanted | undefined
  values(): Iterable<Wanted>
  readonly size: number
}

/** A row's instants and content in one flat string (tabs apart: JSON escapes them in content). */
const packRow = (row: MirrorRow): string => {
  const packed = `${row.registreringFra}\t${row.registreringTil ?? ""}\t${row.virkningFra ?? ""}\t${row.virkningTil ?? ""}\t${row.data}`
  packed.charCodeAt(0) // flattens it: a concatenation is otherwise a tree holding every part
  return packed
}

const unpackRow = (objectId: string, key: string, packed: string): MirrorRow => {
  const at = [0, 0, 0, 0]
  for (let i = 0, from = 0; i < 4; i++) from = (at[i] = packed.indexOf("\t", from)) + 1
  const bound = (from: number, to: number) => (to === from ? null : (packed.slice(from, to) as Instant))
  return {
    objectId,
    key,
    registreringFra: packed.slice(0, at[0]) as Instant,
    registreringTil: bound(at[0]! + 1, at[1]!),
    virkningFra: bound(at[1]! + 1, at[2]!),
    virkningTil: bound(at[2]! + 1, at[3]!),
    data: packed.slice(at[3]! + 1)
  }
}

/** Does a packed row (`packRow`) hold a registreringTil? */
const isClosedPacked = (packed: string | undefined): boolean => packed !== undefined && packed[packed.indexOf("\t") + 1] !== "\t"

/** Events folded per object of a configured entity, deduplicated by envelope Id and by beskedID. */
export const eventFold = (source: DafSource) => {
  // By entity, then objektID: no key string made per event (nor held per object).
  const byEntity = new Map(Object.keys(source.entities).map((name) => [name, new Map<string, Wanted>()]))
  const shapes = new Map(Object.entries(source.entities).map(([name, entity]) => [name, rowShape(entity)]))
  // Every Id and beskedID of the window, exactly, mostly without a string each (IdSet).
  const seenIds = idSet()
  const seenBeskeds = idSet()
  let events = 0
  // Objects holding inline rows not yet mirrored, and how many rows (mirrored while a page streams: drainInline).
  let pending: Array<Wanted> = []
  let pendingRows = 0
  const take = (e: PullEvent) => {
    // The same message may come again under another envelope (overlapping windows, PUSH after PULL): its beskedID says so.
    if (seenIds.has(e.id) || (e.beskedID !== null && seenBeskeds.has(e.beskedID))) return
    seenIds.add(e.id)
    if (e.beskedID !== null) seenBeskeds.add(e.beskedID)
    events++
    for (const r of e.registrations) {
      const objects = byEntity.get(r.objekttype)
      if (objects === undefined) continue
      const held = objects.get(r.objektID)
      const w: Wanted = held ?? { entity: r.objekttype, objectId: r.objektID, newest: r.registreringstid, registrations: null, inline: NO_ROWS, inlineAsOf: null }
      if (r.registreringstid !== null && (w.newest === null || r.registreringstid > w.newest)) w.newest = r.registreringstid
      // Inline rows are used only when every event of the object carries them, all readable (an object already fetched decodes none).
      const rows = w.inline === null ? [] : e.objektdata.map((d) => decodeMirrorRow(d, shapes.get(r.objekttype)!, source.timeZone))
      if (w.inline !== null && rows.length > 0 && rows.every((x) => !("reason" in x) && x.objectId === r.objektID)) {
        const before = w.inline.size
        // NO_ROWS is shared: the first rows get a map of their own.
        const inline = w.inline === NO_ROWS ? new Map<string, string>() : (w.inline as Map<string, string>)
        if (before === 0) {
          pending.push(w)
          w.inlineAsOf = r.registreringstid
        } else if (w.inlineAsOf !== null) {
          // An event without an instant leaves the rows as of no known instant (null stays).
          w.inlineAsOf = r.registreringstid === null ? null : r.registreringstid > w.inlineAsOf ? r.registreringstid : w.inlineAsOf
        }
        for (const row of rows as Array<MirrorRow>) {
          // A row only ever goes from open to closed: an open copy never replaces a closed one (events come out of order).
          if (row.registreringTil === null && isClosedPacked(inline.get(row.key))) continue
          inline.set(row.key, packRow(row))
        }
        w.inline = inline
        pendingRows += inline.size - before
      } else if (w.inline !== null) {
        pendingRows -= w.inline.size
        w.inline = null
        // Fetched from now on: registrations are kept from its first event on, or not at all.
        if (held === undefined) w.registrations = new Set<Instant>()
      }
      if (w.inline === null && w.registrations !== null) {
        if (r.registreringstid === null) w.registrations = null
        else w.registrations.add(r.registreringstid)
      }
      if (held === undefined) objects.set(r.objektID, w)
    }
  }
  const wanted: WantedObjects = {
    get: (entity, objectId) => byEntity.get(entity)?.get(objectId),
    values: function* () {
      for (const objects of byEntity.values()) yield* objects.values()
    },
    get size() {
      let n = 0
      for (const objects of byEntity.values()) n += objects.size
      return n
    }
  }
  return {
    take,
    wanted,
    events: () => events,
    /** Rows carried inline and not yet mirrored. */
    inlineRows: () => pendingRows,
    /** The objects holding those rows, handed to mirrorInline (which lets their rows go: letGoInline); they stay inline objects. */
    drainInline: (): ReadonlyArray<Wanted> => {
      const out = pending
      pending = []
      pendingRows = 0
      return out
    }
  }
}

/** Rows per transaction when objects are mirrored in several (each chunk's rows unpacked only then). */
export const MIRROR_CHUNK_ROWS = 20_000

/**
 * Objects' rows carried inline and not yet mirrored, mirrored as they are (no fetch, and not their whole
 * history), in transactions of about `chunkRows` rows, without a cursor: what was committed is applied
 * again, idempotently, if the window is read again — each item true as of its events' newest
 * registreringstid (`asOf`), so an early chunk read again does not show a row reopened that a later
 * event closed. Each object's packed rows are let go once they are unpacked (`letGoInline`: NO_ROWS, not
 * null: it stays an object whose rows came inline; a later event may add rows), so the page's rows
 * shrink while the store's page cache grows. Returns how many items.
 */
export const mirrorInline = (source: DafSource, wanted: Iterable<Wanted>, eventId: string, chunkRows = MIRROR_CHUNK_ROWS) =>
  Effect.gen(function* () {
    const mirror = yield* MirrorStore
    let chunk: Array<MirrorItem> = []
    let rows = 0
    let items = 0
    for (const w of wanted) {
      if (w.inline === null || w.inline.size === 0) continue
      const entity = source.entities[w.entity]!
      const item: MirrorItem = {
        objectType: entity.objectType,
        objectId: w.objectId,
        rows: Array.from(w.inline, ([key, packed]) => unpackRow(w.objectId, key, packed)),
        complete: false,
        identity: entity.identity,
        checkOverlaps: false,
        normalise: rowShape(entity).normalise,
        asOf: w.inlineAsOf ?? undefined
      }
      letGoInline(w)
      chunk.push(item)
      rows += item.rows.length
      items++
      if (rows >= chunkRows) {
        yield* mirror.mirror(`datafordeler:${source.name}`, eventId, chunk)
        chunk = []
        rows = 0
      }
    }
    if (chunk.length > 0) yield* mirror.mirror(`datafordeler:${source.name}`, eventId, chunk)
    return items
  })

/** Whether an object's rows show the newest registration its events announced. */
const showsRegistration = (newest: Instant | null) => (fetched: FetchedObject) =>
  newest === null || fetched.rows.some((r) => r.registreringFra >= newest || (r.registreringTil !== null && r.registreringTil >= newest))

interface HeldRow {
  readonly registreringFra: Instant
  readonly registreringTil: Bound
  readonly virkningFra: Bound
  readonly virkningTil: Bound
}

const overlaps = (a: HeldRow, b: HeldRow) =>
  (a.virkningFra === null || b.virkningTil === null || a.virkningFra < b.virkningTil) && (b.virkningFra === null || a.virkningTil === null || b.virkningFra < a.virkningTil)

/**
 * Whether the rows we hold of an object already show every registration its
 * events announced: a row registered or closed at exactly that instant (a later
 * one proves nothing when what we hold is partial — a current-only download,
 * rows carried inline), and no two current rows overlapping in validity (a
 * close the data service did not show yet when the object was fetched). When
 * unsure it says no, and the object is fetched.
 */
export const heldRowsShow = (held: ReadonlyArray<HeldRow>, registrations: ReadonlySet<Instant>): boolean => {
  if (registrations.size === 0) return false
  for (const r of registrations) if (!held.some((row) => row.registreringFra === r || row.registreringTil === r)) return false
  const current = held.filter((row) => row.registreringTil === null)
  for (let i = 0; i < current.length; i++) for (let j = i + 1; j < current.length; j++) if (overlaps(current[i]!, current[j]!)) return false
  return true
}

/**
 * Objects named by events, applied: those whose events carried their rows
 * mirrored as they are (first, in transactions of about MIRROR_CHUNK_ROWS
 * rows), the others fetched (checked against their newest registration) and
 * mirrored with their whole history in one last transaction (with `cursor`
 * when given and nothing is parked: a window that stops half-way is read
 * again whole, and its objects mirror to the same rows — inline rows mirrored
 * in an earlier chunk are stale for what later events closed, not reopened:
 * `asOf`). Undecodable rows are
 * recorded as refusals. Objects whose held rows already show their events
 * are left alone. Returns how many objects were mirrored, known and parked.
 */
export const applyWanted = (source: DafSource, data: DataService, wanted: Iterable<Wanted>, eventId: string, cursor?: SourceCursorMove) =>
  Effect.gen(function* () {
    const mirror = yield* MirrorStore
    const store = yield* Store
    const all: Array<Wanted> = []
    let known = 0
    for (const w of wanted) {
      const shown = w.inline === null && w.registrations !== null && heldRowsShow(yield* store.history(source.entities[w.entity]!.objectType, w.objectId), w.registrations)
      if (shown) known++
      else all.push(w)
    }
    const fetched = all.filter((w) => w.inline === null)
    // Objects whose events carried their rows need no fetch: what is left of their rows committed first, in chunks (the cursor moves last).
    yield* mirrorInline(source, all, eventId)
    const inline = all.length - fetched.length
    const synced = yield* syncObjects(
      source,
      data,
      fetched.map((w) => ({ entity: w.entity, objectId: w.objectId, shows: showsRegistration(w.newest), tag: w }))
    )
    const ready = synced.flatMap((s) => (s._tag === "Ready" ? [s] : []))
    yield* recordBadRows(source, ready.flatMap((s) => s.fetched.bad.map((b) => `${s.work.entity} ${s.work.objectId}: ${b}`)))
    const items = ready.map((s) => wholeHistory(source, s.work.entity, s.work.objectId, s.fetched, s.held))
    const parked = synced.length - ready.length
    if (items.length > 0 || (cursor !== undefined && parked === 0)) yield* mirror.mirror(`datafordeler:${source.name}`, eventId, items, parked === 0 ? cursor : undefined)
    return { objects: inline + items.length, known, parked }
  })
