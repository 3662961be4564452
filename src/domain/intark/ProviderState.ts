/**
 * What a provider API said about an object, as operations on the store. The
 * API only ever tells the present, so the registration time is when skygge
 * fetched the state. Validity comes from configured date fields of the
 * resource when it has them (`9999-12-31` reads as open); otherwise the state
 * holds from the registration time onward.
 */
import { type FieldFilter, minimise } from "../core/Fields.js"
import { getPath } from "../core/Json.js"
import { type Bound, type Instant, parseInstant } from "../core/Instant.js"
import { canonicalJson, type Operation, type Refusal } from "../core/Operation.js"

export interface ResourceRule {
  readonly objectType: string
  /** Dotted path of the validity start, e.g. `periode.fraDato`. */
  readonly validFrom?: string
  /** Dotted path of the validity end, e.g. `periode.tilDato`. */
  readonly validTo?: string
  readonly timeZone: string
  /** Minimisation: the fields of the state that are stored (validity is read before, from the whole state). */
  readonly fields?: FieldFilter
}

/** Far-future placeholders that mean "no end" in the UH registers. */
const OPEN_END = /^9999-12-31/

const boundAt = (body: unknown, path: string | undefined, rule: ResourceRule, end: boolean): Bound | Refusal => {
  if (path === undefined) return null
  const value = getPath(body, path)
  if (value === undefined || value === null || value === "") return null
  if (typeof value !== "string") return { reason: `validity field '${path}' is not a date string`, field: path }
  if (end && OPEN_END.test(value)) return null
  const parsed = parseInstant(value, rule.timeZone)
  return typeof parsed === "string" ? parsed : { reason: `validity field '${path}': ${parsed.error}`, field: path }
}

const isRefusal = (x: Bound | Refusal): x is Refusal => x !== null && typeof x === "object"

const base = (rule: ResourceRule, objectId: string, r: Instant) => ({ objectType: rule.objectType, objectId, registreringstid: r })

/**
 * The state the API returned (200). Without validity fields: assert from `r` on.
 * With them: the object holds `data` over [validFrom, validTo) and nothing
 * outside it — a retract of each side and an assert, each a no-op when the
 * store already agrees, so an unchanged state writes nothing.
 */
export const stateOperations = (rule: ResourceRule, objectId: string, body: unknown, r: Instant, eventId: string): ReadonlyArray<Operation> | Refusal => {
  const data = canonicalJson(minimise(body, rule.fields))
  if (rule.validFrom === undefined && rule.validTo === undefined) {
    return [{ op: "assert", ...base(rule, objectId, r), virkningFra: r, virkningTil: null, data, eventId }]
  }
  const fra = boundAt(body, rule.validFrom, rule, false)
  if (isRefusal(fra)) return fra
  const til = boundAt(body, rule.validTo, rule, true)
  if (isRefusal(til)) return til
  if (fra !== null && til !== null && fra >= til) {
    return { reason: `empty validity: ${rule.validFrom} ${fra} is not before ${rule.validTo} ${til}`, field: rule.validTo ?? "validTo" }
  }
  const ops: Array<Operation> = []
  if (fra !== null) ops.push({ op: "retract", ...base(rule, objectId, r), virkningFra: null, virkningTil: fra, eventId: `${eventId}:before` })
  if (til !== null) ops.push({ op: "retract", ...base(rule, objectId, r), virkningFra: til, virkningTil: null, eventId: `${eventId}:after` })
  ops.push({ op: "assert", ...base(rule, objectId, r), virkningFra: fra, virkningTil: til, data, eventId })
  return ops
}

/**
 * The origin said the object is gone (a trusted 404/410). Without validity
 * fields it held until now; with them, the register no longer says it ever held.
 */
export const deletionOperations = (rule: ResourceRule, objectId: string, r: Instant, eventId: string): ReadonlyArray<Operation> => [
  {
    op: "retract",
    ...base(rule, objectId, r),
    virkningFra: rule.validFrom === undefined && rule.validTo === undefined ? r : null,
    virkningTil: null,
    eventId
  }
]
