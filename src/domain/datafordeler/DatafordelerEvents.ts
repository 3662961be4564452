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
 * With `format=xml` the page is an `ArrayOfEnvelope` document (`decodePullXmlPage`)
 * and a Message may be an XML string (`Format: "Xml"`): both are read into the
 * same JSON shape (`xmlToJson`) and decoded the same way.
 *
 * GraphQL `<Register>_Events`: row-level nodes with an increasing `eventid`
 * (the durable cursor), `eventaction` i/u/d and the row's id.
 */
import { type Bound, type Instant, parseInstant } from "../core/Instant.js"
import { parseXml, type XmlElement, xmlToJson } from "./Xml.js"

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
    // Without a Format, a Message that starts like markup can only be XML.
    if (format === "xml" || (format === "" && message.trimStart().startsWith("<"))) {
      const parsed = parseXml(message)
      if (parsed._tag === "Malformed") return { reason: `envelope ${id}: Message is not well-formed XML (${parsed.reason})` }
      message = messageFromXml(parsed.root)
    } else if (format !== "" && format !== "json") return { reason: `envelope ${id}: Message in format '${format}' is not read here (ask the service for format=json or format=xml)` }
    else {
      try {
        message = JSON.parse(message) as unknown
      } catch (e) {
        return { reason: `envelope ${id}: Message is not JSON (${(e as Error).message})` }
      }
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
  const page = pageCollector(timeZone)
  if (Array.isArray(body)) for (const raw of body) page.add(raw)
  return { events: page.events, refused: page.refused }
}

/** Decodes envelopes one by one into a page: the same for a JSON array and a streamed XML list. */
const pageCollector = (timeZone: string | undefined) => {
  const events: Array<PullEvent> = []
  const refused: Array<Refused> = []
  let index = 0
  const add = (raw: unknown) => {
    const e = decodePullEnvelope(raw, timeZone)
    if ("reason" in e) refused.push({ index, id: text(field(raw, "Id")) ?? null, reason: e.reason })
    else events.push(e)
    index++
  }
  return { events, refused, add }
}

/** An XML Message in the JSON Message's shape: its root is `Grunddatabesked` itself, or an element around it. */
const messageFromXml = (root: XmlElement): unknown => {
  const json = xmlToJson(root)
  const wrapped = { [root.name]: json }
  return field(wrapped, "Grunddatabesked") !== undefined ? wrapped : json
}

/** A `format=xml` PULL page, or why the document as a whole could not be read (then no envelope of it is). */
export type PullXmlPage =
  | { readonly _tag: "Page"; readonly events: ReadonlyArray<PullEvent>; readonly refused: ReadonlyArray<Refused> }
  | { readonly _tag: "Failed"; readonly reason: string }

/**
 * A legacy PULL page asked for with `format=xml`: `<ArrayOfEnvelope><Envelope><Id/><Message/><Format/><Timestamp/></Envelope>…`.
 * Each `Envelope` is read into the JSON envelope's shape and decoded as `decodePullPage` does, so events and
 * refusals are the same as for the JSON page. A Message may be inline elements or an escaped XML string (text or
 * CDATA); an escaped Message that is not well-formed refuses only its envelope. Malformed XML in the page document
 * itself, or a root that is not an `ArrayOf…` list, fails the whole page: `{_tag: "Failed", reason}`, no events.
 */
export const decodePullXmlPage = (xmlText: string, timeZone?: string): PullXmlPage => {
  const page = pageCollector(timeZone)
  // Each envelope is decoded as soon as it is closed, so a large page is never held as one XML tree.
  const parsed = parseXml(xmlText, { onChildOfRoot: (envelope) => page.add(xmlToJson(envelope)) })
  if (parsed._tag === "Malformed") return { _tag: "Failed", reason: `the page is not well-formed XML: ${parsed.reason}` }
  // .NET names a serialized list `ArrayOf<Item>`: the service writes ArrayOfEnvelope; each child is one envelope.
  if (!parsed.root.name.startsWith("ArrayOf")) return { _tag: "Failed", reason: `the page's root element is <${parsed.root.name}>, not <ArrayOfEnvelope>` }
  return { _tag: "Page", events: page.events, refused: page.refused }
}

export interface RowEvent {
  readonly eventid: number
  readonly entityname: string
  readonly action: "i" | "u" | "d"
  readonly objectId: string | null
  readonly rowId: string | null
  readonly fromFailedImport: boolean
  /** When the row was written (`datafordelerOpdateringstid`), if given and readable. */
  readonly updatedAt: Instant | null
}

const instantOrNull = (v: string | undefined): Instant | null => {
  if (v === undefined) return null
  const parsed = parseInstant(v)
  return typeof parsed === "string" ? parsed : null
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
      fromFailedImport: field(n, "fromfailedimport") === true,
      updatedAt: instantOrNull(text(field(n, "datafordelerOpdateringstid")))
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

/**
 * `DAF_RegisterImportStatus`: how far the register's imports are complete. `lastEventId` gates which
 * events may be read; `lastSequenceNumber` does not rise with the events and `lastUpdated` has been
 * seen labelled Z while local: neither is used for ordering.
 */
export const decodeImportStatus = (data: unknown): { readonly lastEventId: number } | { readonly reason: string } => {
  const status = field(data, "DAF_RegisterImportStatus")
  if (!isObject(status)) return { reason: "no DAF_RegisterImportStatus in the answer" }
  const last = field(status, "lastEventId")
  return typeof last === "number" && Number.isSafeInteger(last) && last >= 0 ? { lastEventId: last } : { reason: "DAF_RegisterImportStatus.lastEventId is not a non-negative integer" }
}
