/**
 * Events that point at objects — the legacy PULL service's and PUSHed ones
 * (`Objektregistrering.objektID`, `objekttype`): folded per object of a
 * configured entity (deduplicated by envelope Id and beskedID, the newest
 * announced registration kept, rows carried inline kept when every event of
 * the object has them), then applied: inline rows mirrored as they are, the
 * other objects fetched whole and mirrored once their rows show the newest
 * registration.
 */
import { Effect } from "effect"
import type { PullEvent } from "../../domain/DatafordelerEvents.js"
import type { Instant } from "../../domain/Instant.js"
import { decodeMirrorRow, type MirrorRow } from "../../domain/Mirror.js"
import { type MirrorItem, MirrorStore, type SourceCursorMove } from "../../store/Mirror.js"
import { type DafSource, rowShape } from "./DafConfig.js"
import type { FetchedObject } from "./ObjectFetch.js"
import { type DataService, recordBadRows, syncObjects, wholeHistory } from "./ObjectSync.js"

/** What events ask for, per object: its newest announced registration and any rows the events carried. */
export interface Wanted {
  readonly entity: string
  readonly objectId: string
  newest: Instant | null
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
  return { take, wanted, events: () => events }
}

/** Whether an object's rows show the newest registration its events announced. */
const showsRegistration = (newest: Instant | null) => (fetched: FetchedObject) =>
  newest === null || fetched.rows.some((r) => r.registreringFra >= newest || (r.registreringTil !== null && r.registreringTil >= newest))

/**
 * Objects named by events, applied: those whose events carried their rows
 * mirrored as they are, the others fetched (checked against their newest
 * registration) and mirrored with their whole history, in one transaction
 * (with `cursor` when given and nothing is parked). Undecodable rows are
 * recorded as refusals. Returns how many objects are parked.
 */
export const applyWanted = (source: DafSource, data: DataService, wanted: Iterable<Wanted>, eventId: string, cursor?: SourceCursorMove) =>
  Effect.gen(function* () {
    const mirror = yield* MirrorStore
    const all = [...wanted]
    // Objects whose events carried their rows need no fetch (and are not their whole history).
    const inlineItems: Array<MirrorItem> = all
      .filter((w) => w.inline !== null)
      .map((w) => ({ objectType: source.entities[w.entity]!.objectType, objectId: w.objectId, rows: [...w.inline!.values()], complete: false, identity: source.entities[w.entity]!.identity, checkOverlaps: false }))
    const synced = yield* syncObjects(
      source,
      data,
      all.filter((w) => w.inline === null).map((w) => ({ entity: w.entity, objectId: w.objectId, shows: showsRegistration(w.newest), tag: w }))
    )
    const ready = synced.flatMap((s) => (s._tag === "Ready" ? [s] : []))
    yield* recordBadRows(source, ready.flatMap((s) => s.fetched.bad.map((b) => `${s.work.entity} ${s.work.objectId}: ${b}`)))
    const items = [...inlineItems, ...ready.map((s) => wholeHistory(source, s.work.entity, s.work.objectId, s.fetched))]
    const parked = synced.length - ready.length
    if (items.length > 0 || (cursor !== undefined && parked === 0)) yield* mirror.mirror(`datafordeler:${source.name}`, eventId, items, parked === 0 ? cursor : undefined)
    return { objects: items.length, parked }
  })
