/**
 * Datafordeler's event messages, decoded into what the engine needs: which
 * objects to fetch (or the row data the event carries), with provenance.
 *
 * Legacy PULL (`/system/EventMessages/1.0.0/custom`): an array of envelopes
 * `{Id, Message: {Grunddatabesked: {Hændelsesbesked: {beskedID, Beskedkuvert:
 * {Filtreringsdata: {beskedtype, Objektregistrering: […]}}, Beskeddata: […]}}},
 * Format, Timestamp}`. Keys come in two spellings (`Hændelsesbesked` /
 * `Haendelsesbesked`, `registreringsaktør` / `registreringsaktoer`): both are
 * read. Events are pointers; `Timestamp` and `dannelsestidspunkt` are kept as
 * provenance only (real data has both out of order and mislabelled). A
 * malformed envelope is refused with its reason; the rest of the page stands.
 *
 * GraphQL `<Register>_Events`: row-level nodes with an increasing `eventid`
 * (the durable cursor), `eventaction` i/u/d and the row's id.
 */
import { type Bound, parseInstant } from "./Instant.js"

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v)

/** æ→ae, ø→oe, å→aa (either case): how clients and the GraphQL schema spell Danish keys in ASCII. */
export const transliterate = (s: string): string =>
  s.replace(/æ/g, "ae").replace(/ø/g, "oe").replace(/å/g, "aa").replace(/Æ/g, "Ae").replace(/Ø/g, "Oe").replace(/Å/g, "Aa")

/** A field by either spelling of its name. */
const field = (obj: unknown, name: string): unknown => {
  if (!isObject(obj)) return undefined
  if (name in obj) return obj[name]
  const ascii = transliterate(name)
  if (ascii in obj) return obj[ascii]
  for (const k of Object.keys(obj)) if (transliterate(k) === ascii) return obj[k]
  return undefined
}

const text = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : typeof v === "number" ? String(v) : undefined)
const list = (v: unknown): Array<unknown> => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v])

export interface ObjectRegistration {
  readonly objektID: string
  readonly objekttype: string
  readonly registreringstid: Bound
  readonly status: string | null
}

export interface PullEvent {
  /** The envelope's `Id`: rises with the service's order; dedup key across overlapping windows. */
  readonly id: string
  readonly beskedID: string | null
  readonly beskedtype: string
  readonly registrations: ReadonlyArray<ObjectRegistration>
  /** Inline object data, when the event carries it (MAT and EBR events do). */
  readonly objektdata: ReadonlyArray<unknown>
  /** `Objektreference` values (for some BBR types the building, not the object). */
  readonly references: ReadonlyArray<string>
  /** Provenance only: never used for ordering. */
  readonly timestamp: string | null
}

export type Refused = { readonly index: number; readonly id: string | null; readonly reason: string }

export const decodePullEnvelope = (raw: unknown, timeZone = "Europe/Copenhagen"): PullEvent | { readonly reason: string } => {
  if (!isObject(raw)) return { reason: "an envelope must be a JSON object" }
  const id = text(field(raw, "Id"))
  if (id === undefined) return { reason: "envelope without 'Id'" }
  let message = field(raw, "Message")
  if (typeof message === "string") {
    const format = String(field(raw, "Format") ?? "").toLowerCase()
    if (format !== "" && format !== "json") return { reason: `envelope ${id}: Message in format '${format}' is not read here (ask the service for format=json)` }
    try {
      message = JSON.parse(message) as unknown
    } catch (e) {
      return { reason: `envelope ${id}: Message is not JSON (${(e as Error).message})` }
    }
  }
  const besked = field(field(message, "Grunddatabesked"), "Hændelsesbesked")
  if (!isObject(besked)) return { reason: `envelope ${id}: no Message.Grunddatabesked.Hændelsesbesked` }
  const filtrering = field(field(besked, "Beskedkuvert"), "Filtreringsdata")
  const beskedtype = text(field(filtrering, "beskedtype"))
  if (beskedtype === undefined) return { reason: `envelope ${id}: no Filtreringsdata.beskedtype` }
  const registrations: Array<ObjectRegistration> = []
  for (const r of list(field(filtrering, "Objektregistrering"))) {
    const objektID = text(field(r, "objektID")), objekttype = text(field(r, "objekttype"))
    if (objektID === undefined || objekttype === undefined) return { reason: `envelope ${id}: an Objektregistrering without objektID or objekttype` }
    const when = text(field(r, "registreringstid"))
    let registreringstid: Bound = null
    if (when !== undefined) {
      const parsed = parseInstant(when, timeZone)
      if (typeof parsed !== "string") return { reason: `envelope ${id}: registreringstid: ${parsed.error}` }
      registreringstid = parsed
    }
    registrations.push({ objektID, objekttype, registreringstid, status: text(field(r, "status")) ?? null })
  }
  if (registrations.length === 0) return { reason: `envelope ${id}: no Objektregistrering` }
  const objektdata: Array<unknown> = []
  const references: Array<string> = []
  for (const d of list(field(besked, "Beskeddata"))) {
    const data = field(d, "Objektdata")
    if (data !== undefined && data !== null) objektdata.push(data)
    const ref = text(field(field(d, "Objektreference"), "objektreference"))
    if (ref !== undefined) references.push(ref)
  }
  return {
    id,
    beskedID: text(field(besked, "beskedID")) ?? null,
    beskedtype,
    registrations,
    objektdata,
    references,
    timestamp: text(field(raw, "Timestamp")) ?? null
  }
}

/** A PULL page: its events in the service's order, and the envelopes refused with why. */
export const decodePullPage = (body: unknown, timeZone?: string): { readonly events: ReadonlyArray<PullEvent>; readonly refused: ReadonlyArray<Refused> } => {
  const envelopes = Array.isArray(body) ? body : []
  const events: Array<PullEvent> = []
  const refused: Array<Refused> = []
  envelopes.forEach((raw, index) => {
    const e = decodePullEnvelope(raw, timeZone)
    if ("reason" in e) refused.push({ index, id: text(field(raw, "Id")) ?? null, reason: e.reason })
    else events.push(e)
  })
  return { events, refused }
}

export interface RowEvent {
  readonly eventid: number
  readonly entityname: string
  readonly action: "i" | "u" | "d"
  readonly objectId: string | null
  readonly rowId: string | null
  readonly fromFailedImport: boolean
}

/** A GraphQL `<Register>_Events` page: nodes, refused nodes, and the Relay paging. */
export const decodeGraphqlEventsPage = (body: unknown, register: string) => {
  const root = field(field(body, "data"), `${register}_Events`)
  const errors = field(body, "errors")
  if (!isObject(root)) {
    const why = Array.isArray(errors) && errors.length > 0 ? String(field(errors[0], "message") ?? "error") : `no data.${register}_Events`
    return { _tag: "Failed" as const, reason: why }
  }
  const events: Array<RowEvent> = []
  const refused: Array<Refused> = []
  list(field(root, "nodes")).forEach((n, index) => {
    const eventid = field(n, "eventid"), action = field(n, "eventaction"), entityname = text(field(n, "entityname"))
    if (typeof eventid !== "number" || !Number.isSafeInteger(eventid)) return void refused.push({ index, id: null, reason: "node without an integer eventid" })
    if (action !== "i" && action !== "u" && action !== "d") return void refused.push({ index, id: String(eventid), reason: `eventaction '${String(action)}' is not i, u or d` })
    if (entityname === undefined) return void refused.push({ index, id: String(eventid), reason: "node without entityname" })
    events.push({
      eventid,
      entityname,
      action,
      objectId: text(field(n, "object_id")) ?? null,
      rowId: text(field(n, "object_datafordelerRowId")) ?? null,
      fromFailedImport: field(n, "fromfailedimport") === true
    })
  })
  const pageInfo = field(root, "pageInfo")
  return {
    _tag: "Page" as const,
    events,
    refused,
    hasNextPage: field(pageInfo, "hasNextPage") === true,
    endCursor: text(field(pageInfo, "endCursor")) ?? null
  }
}
