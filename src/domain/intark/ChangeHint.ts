/**
 * IntArk-style notifications are pointers, not data: each format names an
 * object (a resource and an id), says roughly what happened, and when. Every
 * adapter here turns one parsed message body into a *change hint* — or says,
 * in plain words, why it cannot. The operation is only a hint: the provider's
 * API decides what is true.
 */
import { fromEpochMillis, type Instant, parseInstant } from "../core/Instant.js"
import { getPath, isJsonObject as isObject } from "../core/Json.js"

type Json = Record<string, unknown>

export type HintOperation = "create" | "update" | "delete" | "unknown"
export type NotificationFormat = "fs" | "cloudevents" | "greg" | "scim-event" | "scim-notify" | "dfo" | "mapped"

export interface ChangeHint {
  readonly format: NotificationFormat
  readonly resource: string
  readonly id: string
  readonly operation: HintOperation
  /** For dedup: `jti`, CloudEvents `id`, … (null when the format has none). */
  readonly messageId: string | null
  readonly issuedAt: Instant | null
  /** Where the object lives, when the message says: a path (FS `sub`) or an absolute URL. */
  readonly location: string | null
  /** DFØ's `gyldigEtter`: when the change takes effect. */
  readonly validFrom: Instant | null
}

export interface HintRefusal {
  readonly reason: string
}

/** A configured mapping for other formats: dotted paths into the message. */
export interface HintMapping {
  readonly resource?: string | undefined
  /** A fixed resource, when the message does not name one. */
  readonly resourceValue?: string | undefined
  readonly id: string
  readonly operation?: string | undefined
  readonly messageId?: string | undefined
  readonly issuedAt?: string | undefined
}

export interface DecodeOptions {
  /** `auto` tries every known format; a named one accepts only that. */
  readonly format: "auto" | NotificationFormat
  readonly mapping?: HintMapping
}

const MAX_ID = 512


/** A string or number as an identifier; anything else is not one. */
/** A usable id: a non-empty string (bounded) or a finite number, as text. */
export const idOf = (v: unknown): string | undefined =>
  (typeof v === "string" && v.length > 0 && v.length <= MAX_ID) || (typeof v === "number" && Number.isFinite(v)) ? String(v) : undefined


const OPERATION_WORDS: Record<string, HintOperation> = {
  create: "create", created: "create", add: "create", added: "create", insert: "create",
  update: "update", updated: "update", modify: "update", modified: "update", change: "update", changed: "update", replace: "update", patch: "update",
  delete: "delete", deleted: "delete", remove: "delete", removed: "delete"
}

/** `update`, `MODIFY`, `no.uio.cerebrum.account.create`, `urn:ietf:params:event:SCIM:delete` → an operation. */
export const operationOf = (word: unknown): HintOperation => {
  if (typeof word !== "string") return "unknown"
  const last = word.split(/[.:/]/).pop()!.toLowerCase()
  return OPERATION_WORDS[last] ?? "unknown"
}

/** An instant from epoch milliseconds (FS: a string), epoch seconds (SCIM events: a number) or ISO 8601. */
const instantOf = (v: unknown, unit: "ms" | "s" | "iso"): Instant | null => {
  try {
    if (unit === "iso") {
      if (typeof v !== "string") return null
      const parsed = parseInstant(v)
      return typeof parsed === "string" ? parsed : null
    }
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : typeof v === "number" ? v : NaN
    if (!Number.isFinite(n)) return null
    return fromEpochMillis(unit === "ms" ? n : n * 1000)
  } catch {
    return null
  }
}

/** The last two path segments of a URL or path: `…/accounts/1234` → [accounts, 1234]. */
export const resourceAndId = (ref: unknown): [string, string] | undefined => {
  if (typeof ref !== "string") return undefined
  let path = ref
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) path = new URL(ref).pathname
  } catch {
    return undefined
  }
  const parts = path.split("/").filter((p) => p.length > 0).map((p) => decodeURIComponent(p))
  const id = idOf(parts[parts.length - 1]), resource = parts[parts.length - 2]
  return id !== undefined && resource !== undefined ? [resource, id] : undefined
}

const hint = (h: Omit<ChangeHint, "validFrom" | "location"> & Partial<Pick<ChangeHint, "validFrom" | "location">>): ChangeHint => ({
  validFrom: null,
  location: null,
  ...h
})

/** FS: `{sub, iss, iat: "<epoch ms>", operation, jti, <ressurs>_id}`; routing key `no.<inst>.fs.FS-<env>.<ressurs>.<operation>`. */
const decodeFs = (m: Json, routingKey: string): ChangeHint | HintRefusal => {
  const keyParts = routingKey.split(".")
  const fromKey = keyParts.length >= 6 ? keyParts[keyParts.length - 2] : undefined
  const sub = typeof m.sub === "string" ? m.sub : undefined
  const slash = sub?.indexOf("/") ?? -1
  const resource = sub !== undefined && slash > 0 ? sub.slice(0, slash) : fromKey
  if (resource === undefined) return { reason: "FS notification: no resource in 'sub' or the routing key" }
  // The id field's name varies: the template says `{ressurs}_id`, the real personer message has `person_id`.
  const idField = Object.keys(m).find((k) => k.endsWith("_id") && idOf(m[k]) !== undefined)
  const id = (sub !== undefined && slash > 0 ? idOf(sub.slice(slash + 1)) : undefined) ?? idOf(m[`${resource}_id`]) ?? (idField ? idOf(m[idField]) : undefined)
  if (id === undefined) return { reason: `FS notification: no id (neither 'sub' nor a '${resource}_id' field)` }
  return hint({
    format: "fs",
    resource,
    id,
    operation: operationOf(m.operation ?? keyParts[keyParts.length - 1]),
    messageId: idOf(m.jti) ?? null,
    issuedAt: instantOf(m.iat, "ms"),
    location: sub !== undefined && slash > 0 ? sub : null
  })
}

/** CloudEvents 1.0 (JSON): the object is the `subject`. */
const decodeCloudEvent = (m: Json): ChangeHint | HintRefusal => {
  const ref = resourceAndId(m.subject)
  if (ref === undefined) return { reason: "CloudEvent without a 'subject' naming the object (…/<resource>/<id>)" }
  return hint({
    format: "cloudevents",
    resource: ref[0],
    id: ref[1],
    operation: operationOf(m.type),
    messageId: idOf(m.id) ?? null,
    issuedAt: instantOf(m.time, "iso"),
    location: typeof m.subject === "string" && /^https?:\/\//.test(m.subject) ? m.subject : null
  })
}

/** Greg: CloudEvents-like without `specversion`; `type` is `<resource>.<action>`, the ids are in `data`. */
const decodeGreg = (m: Json): ChangeHint | HintRefusal => {
  const type = typeof m.type === "string" ? m.type : ""
  const data = isObject(m.data) ? m.data : {}
  const named = type.split(".")[0] ?? ""
  let resource = named, id = idOf(data[`${named}_id`]) ?? idOf(data.id)
  if (id === undefined) {
    // `person_role.add` carries person_id and role_id: the person is what changed for us.
    const key = Object.keys(data).find((k) => k.endsWith("_id") && idOf(data[k]) !== undefined)
    if (key !== undefined) [resource, id] = [key.slice(0, -3), idOf(data[key])]
  }
  if (resource.length === 0 || id === undefined) return { reason: "Greg event: no '<resource>_id' or 'id' in 'data'" }
  return hint({ format: "greg", resource, id, operation: operationOf(type), messageId: idOf(m.id) ?? null, issuedAt: instantOf(m.time, "iso") })
}

/** Cerebrum's SCIM-event style: `sub` is the object's URL, `eventUris` say what happened, `iat` is epoch seconds. */
const decodeScimEvent = (m: Json): ChangeHint | HintRefusal => {
  const ref = resourceAndId(m.sub)
  if (ref === undefined) return { reason: "SCIM event: 'sub' does not name an object (…/<resource>/<id>)" }
  const uris = Array.isArray(m.eventUris) ? m.eventUris : []
  return hint({
    format: "scim-event",
    resource: ref[0],
    id: ref[1],
    operation: operationOf(uris[0]),
    messageId: idOf(m.jti) ?? null,
    issuedAt: instantOf(m.iat, "s"),
    location: typeof m.sub === "string" ? m.sub : null
  })
}

/** SCIM Notify (UH-IAM): `resourceUris[]`, `type` CREATE|MODIFY|DELETE, `time`. No message id. */
const decodeScimNotify = (m: Json): ChangeHint | HintRefusal => {
  const uri = Array.isArray(m.resourceUris) ? m.resourceUris[0] : undefined
  const ref = resourceAndId(uri)
  if (ref === undefined) return { reason: "SCIM Notify event without a resourceUris entry naming the object" }
  return hint({
    format: "scim-notify",
    resource: ref[0],
    id: ref[1],
    operation: operationOf(m.type),
    messageId: idOf(m.id) ?? null,
    issuedAt: instantOf(m.time, "iso"),
    location: typeof uri === "string" ? uri : null
  })
}

/** DFØ: `{id, uri: "dfo:ansatte", gyldigEtter}` — all that is known of its shape. */
const decodeDfo = (m: Json): ChangeHint | HintRefusal => {
  const uri = m.uri as string
  const resource = uri.slice(uri.indexOf(":") + 1)
  const id = idOf(m.id)
  if (resource.length === 0 || id === undefined) return { reason: "DFØ notification: needs 'id' and 'uri' like dfo:ansatte" }
  return hint({ format: "dfo", resource, id, operation: "unknown", messageId: null, issuedAt: null, validFrom: instantOf(m.gyldigEtter, "iso") })
}

const decodeMapped = (m: Json, mapping: HintMapping): ChangeHint | HintRefusal => {
  const resource = mapping.resourceValue ?? (mapping.resource !== undefined ? idOf(getPath(m, mapping.resource)) : undefined)
  const id = idOf(getPath(m, mapping.id))
  if (resource === undefined) return { reason: `mapped notification: no resource at '${mapping.resource ?? "(resourceValue)"}'` }
  if (id === undefined) return { reason: `mapped notification: no id at '${mapping.id}'` }
  const issued = mapping.issuedAt !== undefined ? getPath(m, mapping.issuedAt) : undefined
  return hint({
    format: "mapped",
    resource,
    id,
    operation: mapping.operation !== undefined ? operationOf(getPath(m, mapping.operation)) : "unknown",
    messageId: mapping.messageId !== undefined ? idOf(getPath(m, mapping.messageId)) ?? null : null,
    issuedAt: typeof issued === "string" && !/^\d+$/.test(issued) ? instantOf(issued, "iso") : instantOf(issued, "ms")
  })
}

/** Which known format a message looks like, by the fields only that format has. */
export const detectFormat = (m: Json): NotificationFormat | undefined => {
  if (typeof m.specversion === "string") return "cloudevents"
  if (Array.isArray(m.schemas) && m.schemas.some((s) => typeof s === "string" && s.includes(":notify:"))) return "scim-notify"
  if (Array.isArray(m.eventUris)) return "scim-event"
  if (typeof m.sub === "string" && (typeof m.operation === "string" || typeof m.jti === "string")) return "fs"
  if (typeof m.uri === "string" && m.uri.includes(":") && m.id !== undefined && m.type === undefined) return "dfo"
  if (m.id !== undefined && typeof m.type === "string" && typeof m.source === "string") return "greg"
  return undefined
}

/** One message body (bytes) and its routing key → a change hint, or the reason it is poison. */
export const decodeNotification = (body: Uint8Array | string, routingKey: string, options: DecodeOptions): ChangeHint | HintRefusal => {
  let parsed: unknown
  try {
    parsed = JSON.parse(typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true }).decode(body))
  } catch (e) {
    return { reason: `not JSON: ${(e as Error).message}` }
  }
  if (!isObject(parsed)) return { reason: "not a JSON object" }
  if (options.format === "mapped" || (options.format === "auto" && options.mapping !== undefined && detectFormat(parsed) === undefined)) {
    if (options.mapping === undefined) return { reason: "format 'mapped' needs a mapping" }
    return decodeMapped(parsed, options.mapping)
  }
  const format = options.format === "auto" ? detectFormat(parsed) : options.format
  switch (format) {
    case "fs": return decodeFs(parsed, routingKey)
    case "cloudevents": return decodeCloudEvent(parsed)
    case "greg": return decodeGreg(parsed)
    case "scim-event": return decodeScimEvent(parsed)
    case "scim-notify": return decodeScimNotify(parsed)
    case "dfo": return typeof parsed.uri === "string" ? decodeDfo(parsed) : { reason: "DFØ notification without 'uri'" }
    default:
      return { reason: "no recognisable notification format (expected FS, CloudEvents, Greg, SCIM event, SCIM Notify or DFØ fields, or configure a mapping)" }
  }
}

export const isHintRefusal = (x: ChangeHint | HintRefusal): x is HintRefusal => "reason" in x
