/**
 * The one input format of the core: an assert or a retract of a validity
 * portion of one object at one registration time. Both ways in (CLI import,
 * HTTP POST) decode through `decodeOperation`, so they refuse the same inputs
 * with the same messages.
 *
 * Hand-written rather than a Schema: this runs once per imported line on the
 * bulk path, and it must name the field that is wrong in plain words.
 */
import { type Bound, type Instant, parseInstant, startsBeforeEnd } from "./Instant.js"
import { jsonDepth, setOwn, stringifyJson } from "./Json.js"

interface OperationBase {
  readonly objectType: string
  readonly objectId: string
  readonly registreringstid: Instant
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly eventId: string
}
export interface AssertOperation extends OperationBase {
  readonly op: "assert"
  /** Canonical JSON text (object keys sorted), so equal data is equal text. */
  readonly data: string
}
export interface RetractOperation extends OperationBase {
  readonly op: "retract"
}
export type Operation = AssertOperation | RetractOperation

/** Why an input was refused; `field` names the offending field when there is one. */
export interface Refusal {
  readonly reason: string
  readonly field?: string
  readonly eventId?: string
  readonly objectType?: string
  readonly objectId?: string
}

const FIELDS = new Set(["op", "objectType", "objectId", "registreringstid", "virkningFra", "virkningTil", "data", "eventId"])
/** The longest objectType, objectId or eventId, on every way in and in every read (a longer one is refused, not cut). */
export const MAX_ID_LENGTH = 512
const MAX_KEY_LENGTH = MAX_ID_LENGTH
/** How deeply `data` may nest objects and arrays unless `api.maxDepth` says otherwise. */
export const DEFAULT_MAX_DEPTH = 64

/** C0 and C1 control characters and DEL: invisible in logs and tables, and NUL cuts strings short in many tools. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** Why `value` cannot be an id (objectType, objectId, eventId), or undefined when it can. */
export const idProblem = (value: string): string | undefined => {
  if (value.length === 0) return "must not be empty"
  if (value.length > MAX_ID_LENGTH) return `is longer than ${MAX_ID_LENGTH} characters`
  const control = CONTROL.exec(value)
  if (control !== null) return `holds a control character (U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")} at position ${control.index + 1})`
  return undefined
}

/** Below this depth the recursive walk is safe and faster; past it, the iterative one. */
const RECURSION_SAFE_DEPTH = 512

/**
 * JSON with object keys sorted at every level: equal values give equal text.
 * Any depth: a value nested past what recursion can hold is written iteratively.
 */
export const canonicalJson = (value: unknown): string =>
  jsonDepth(value, RECURSION_SAFE_DEPTH) <= RECURSION_SAFE_DEPTH ? JSON.stringify(sortKeys(value)) : (stringifyJson(value, true) ?? "null")

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort()
    const out: Record<string, unknown> = {}
    for (const k of keys) setOwn(out, k, sortKeys((value as Record<string, unknown>)[k]))
    return out
  }
  return value
}

const refuse = (reason: string, field: string | undefined, input: Record<string, unknown>): Refusal => {
  const str = (k: string) => (typeof input[k] === "string" ? (input[k] as string) : undefined)
  const refusal: { -readonly [K in keyof Refusal]: Refusal[K] } = { reason }
  if (field !== undefined) refusal.field = field
  const eventId = str("eventId"), objectType = str("objectType"), objectId = str("objectId")
  if (eventId !== undefined) refusal.eventId = eventId.slice(0, MAX_KEY_LENGTH)
  if (objectType !== undefined) refusal.objectType = objectType.slice(0, MAX_KEY_LENGTH)
  if (objectId !== undefined) refusal.objectId = objectId.slice(0, MAX_KEY_LENGTH)
  return refusal
}

export const isRefusal = (x: Operation | Refusal): x is Refusal => "reason" in x

/**
 * Decode one parsed JSON value into an operation, or say why not.
 * `timeZone` reads timestamps that carry no offset; `data` nested deeper than
 * `maxDepth` is refused (`api.maxDepth`).
 */
export const decodeOperation = (input: unknown, timeZone = "UTC", maxDepth = DEFAULT_MAX_DEPTH): Operation | Refusal => {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    return { reason: "expected a JSON object with an 'op' field" }
  }
  const obj = input as Record<string, unknown>
  for (const key in obj) {
    if (!FIELDS.has(key)) return refuse(`unknown field '${key.slice(0, 60)}'`, key.slice(0, 60), obj)
  }
  const op = obj.op
  if (op !== "assert" && op !== "retract") {
    return refuse(
      op === undefined ? "missing field 'op'" : `unknown op ${JSON.stringify(op)?.slice(0, 40)}: expected "assert" or "retract"`,
      "op",
      obj
    )
  }
  for (const key of ["objectType", "objectId", "eventId"] as const) {
    const v = obj[key]
    if (v === undefined) return refuse(`missing field '${key}'`, key, obj)
    if (typeof v !== "string" || v.length === 0) return refuse(`field '${key}' must be a non-empty string`, key, obj)
    const problem = idProblem(v)
    if (problem !== undefined) return refuse(`field '${key}' ${problem}`, key, obj)
  }
  const times: Record<string, Bound> = {}
  for (const key of ["registreringstid", "virkningFra", "virkningTil"] as const) {
    const v = obj[key]
    if (v === undefined) {
      return refuse(
        key === "registreringstid" ? `missing field '${key}'` : `missing field '${key}' (use null for an open end)`,
        key,
        obj
      )
    }
    if (v === null && key !== "registreringstid") {
      times[key] = null
      continue
    }
    if (typeof v !== "string") return refuse(`field '${key}' must be an ISO 8601 string${key === "registreringstid" ? "" : " or null"}`, key, obj)
    const parsed = parseInstant(v, timeZone)
    if (typeof parsed !== "string") return refuse(`field '${key}': ${parsed.error}`, key, obj)
    times[key] = parsed
  }
  const virkningFra = times.virkningFra ?? null
  const virkningTil = times.virkningTil ?? null
  if (!startsBeforeEnd(virkningFra, virkningTil)) {
    return refuse(`empty validity portion: virkningFra ${virkningFra} is not before virkningTil ${virkningTil}`, "virkningTil", obj)
  }
  const base = {
    objectType: obj.objectType as string,
    objectId: obj.objectId as string,
    registreringstid: times.registreringstid as Instant,
    virkningFra,
    virkningTil,
    eventId: obj.eventId as string
  }
  if (op === "retract") {
    if (obj.data !== undefined) return refuse("a retract carries no 'data'", "data", obj)
    return { op, ...base }
  }
  if (obj.data === undefined || obj.data === null) return refuse("missing field 'data' (an assert needs the object's data)", "data", obj)
  if (jsonDepth(obj.data, maxDepth) > maxDepth) {
    return refuse(`field 'data' nests objects and arrays more than ${maxDepth} levels deep (api.maxDepth)`, "data", obj)
  }
  return { op, ...base, data: canonicalJson(obj.data) }
}

/**
 * The canonical text of an operation as recorded in the event log (and replayed
 * from it). Built by hand: `data` is already canonical JSON text, so it is
 * spliced in rather than parsed and printed again for every operation.
 */
export const encodeOperation = (op: Operation): string => {
  const str = JSON.stringify
  const head =
    `{"op":"${op.op}","objectType":${str(op.objectType)},"objectId":${str(op.objectId)},` +
    `"registreringstid":"${op.registreringstid}","virkningFra":${op.virkningFra === null ? "null" : `"${op.virkningFra}"`},` +
    `"virkningTil":${op.virkningTil === null ? "null" : `"${op.virkningTil}"`},`
  return op.op === "assert" ? `${head}"data":${op.data},"eventId":${str(op.eventId)}}` : `${head}"eventId":${str(op.eventId)}}`
}

/** An operation as the event log recorded it (`encodeOperation`, canonical when written), read back. */
export const decodeRecordedOperation = (text: string): Operation => {
  const o = JSON.parse(text) as Operation & { data?: unknown }
  return o.op === "assert" ? { ...o, data: JSON.stringify(o.data) } : o
}
