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
import type { FetchedObject } from "./ObjectFetch.js"
import { type DataService, recordBadRows, syncObjects, wholeHistory } from "./ObjectSync.js"

/** What events ask for, per object: its newest announced registration and any rows the events carried. */
export interface Wanted {
  readonly entity: string
  readonly objectId: string
  newest: Instant | null
  /** Every registration the events announced; null once one announced none (then the object is fetched). */
  registrations: Set<Instant> | null
  /** Rows carried inline (Beskeddata[].Objektdata) by identity, a later event's version winning; null once an event carried none (then it is fetched). */
  inline: Map<string, MirrorRow> | null
}

/** Events folded per object of a configured entity, deduplicated by envelope Id and by beskedID. */
export const eventFold = (source: DafSource) => {
  const wanted = new Map<string, Wanted>()
  const shapes = new Map(Object.entries(source.entities).map(([name, entity]) => [name, rowShape(entity)]))
  const seen = new Set<string>()
  let events = 0
  const take = (e: PullEvent) => {
    // The same message may come again under another envelope (overlapping windows, PUSH after PULL): its beskedID says so.
    const besked = e.beskedID === null ? undefined : `besked:${e.beskedID}`
    if (seen.has(e.id) || (besked !== undefined && seen.has(besked))) return
    seen.add(e.id)
    if (besked !== undefined) seen.add(besked)
    events++
    for (const r of e.registrations) {
      const entity = source.entities[r.objekttype]
      if (entity === undefined) continue
      const k = `${r.objekttype}\u0000${r.objektID}`
      const w = wanted.get(k) ?? { entity: r.objekttype, objectId: r.objektID, newest: r.registreringstid, registrations: new Set<Instant>(), inline: new Map<string, MirrorRow>() }
      if (r.registreringstid !== null && (w.newest === null || r.registreringstid > w.newest)) w.newest = r.registreringstid
      if (r.registreringstid === null) w.registrations = null
      else w.registrations?.add(r.registreringstid)
      // Inline rows are used only when every event of the object carries them, all readable.
      const rows = e.objektdata.map((d) => decodeMirrorRow(d, shapes.get(r.objekttype)!, source.timeZone))
      if (w.inline !== null && rows.length > 0 && rows.every((x) => !("reason" in x) && x.objectId === r.objektID)) {
        for (const row of rows as Array<MirrorRow>) w.inline.set(row.key, row)
      } else w.inline = null
      wanted.set(k, w)
    }
  }
  return { take, wanted, events: () => events }
}

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
 * mirrored as they are, the others fetched (checked against their newest
 * registration) and mirrored with their whole history, in one transaction
 * (with `cursor` when given and nothing is parked). Undecodable rows are
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
    // Objects whose events carried their rows need no fetch (and are not their whole history).
    const inlineItems: Array<MirrorItem> = all
      .filter((w) => w.inline !== null)
      .map((w) => ({ objectType: source.entities[w.entity]!.objectType, objectId: w.objectId, rows: [...w.inline!.values()], complete: false, identity: source.entities[w.entity]!.identity, checkOverlaps: false, normalise: rowShape(source.entities[w.entity]!).normalise }))
    const synced = yield* syncObjects(
      source,
      data,
      all.filter((w) => w.inline === null).map((w) => ({ entity: w.entity, objectId: w.objectId, shows: showsRegistration(w.newest), tag: w }))
    )
    const ready = synced.flatMap((s) => (s._tag === "Ready" ? [s] : []))
    yield* recordBadRows(source, ready.flatMap((s) => s.fetched.bad.map((b) => `${s.work.entity} ${s.work.objectId}: ${b}`)))
    const items = [...inlineItems, ...ready.map((s) => wholeHistory(source, s.work.entity, s.work.objectId, s.fetched, s.held))]
    const parked = synced.length - ready.length
    if (items.length > 0 || (cursor !== undefined && parked === 0)) yield* mirror.mirror(`datafordeler:${source.name}`, eventId, items, parked === 0 ? cursor : undefined)
    return { objects: items.length, known, parked }
  })
