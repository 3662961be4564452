/**
 * Instants: UTC, microsecond precision, held in one canonical text form
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ`. The form is fixed width, so comparing two
 * instants is comparing two strings — in JavaScript and in SQL indexes alike —
 * and it reaches year 9999 (epoch microseconds would overflow a JS number).
 *
 * Parsing never goes through JS `Date`: that would lose microseconds and
 * misread placeholder dates. Finer inputs are truncated, not rounded.
 */
import type { Brand } from "effect"

export type Instant = string & Brand.Brand<"Instant">

/** `null` is an open end: −∞ as a start, +∞ as an end. */
export type Bound = Instant | null

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
const GENERAL =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/

export const isCanonical = (s: string): s is Instant => CANONICAL.test(s)

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
const daysFromCivil = (y: number, m: number, d: number): number => {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const mp = (m + 9) % 12
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

const civilFromDays = (z0: number): [number, number, number] => {
  const z = z0 + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  return [m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d]
}

const daysInMonth = (y: number, m: number): number =>
  m === 2 ? ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/** Canonical text of whole UTC seconds since the epoch plus a 6-digit fraction. */
const fromEpochSeconds = (seconds: number, fraction6: string): Instant => {
  const days = Math.floor(seconds / 86400)
  const rest = seconds - days * 86400
  const [y, m, d] = civilFromDays(days)
  if (y < 1 || y > 9999) throw new RangeError(`year ${y} is outside 0001–9999`)
  const hh = Math.floor(rest / 3600)
  const mm = Math.floor((rest % 3600) / 60)
  const ss = rest % 60
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}.${fraction6}Z` as Instant
}

/** Offset in seconds east of UTC that `timeZone` has at the given UTC instant. */
const zoneOffsetAt = (timeZone: string, utcSeconds: number): number => {
  const parts = zoneFormatter(timeZone).formatToParts(new Date(utcSeconds * 1000))
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value)
  const hour = get("hour") % 24
  const local = daysFromCivil(get("year"), get("month"), get("day")) * 86400 + hour * 3600 + get("minute") * 60 + get("second")
  return local - utcSeconds
}

const formatters = new Map<string, Intl.DateTimeFormat>()
const zoneFormatter = (timeZone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric"
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** Throws a RangeError when `timeZone` is not an IANA zone this runtime knows. */
export const checkTimeZone = (timeZone: string): void => {
  if (timeZone !== "UTC") zoneFormatter(timeZone)
}

/**
 * Parse an ISO 8601 instant. Accepts a date alone (midnight), `T` or a space,
 * seconds and fraction optional, `Z` or an offset. Without an offset the
 * wall-clock time is read in `timeZone` (default UTC).
 * Returns the canonical instant or a message saying what is wrong.
 */
export const parseInstant = (input: string, timeZone = "UTC"): Instant | { readonly error: string } =>
  parseFixedForm(input) ?? parseGeneralInstant(input, timeZone)

/** Two decimal digits at `i` as a number; NaN when either is not a digit (so every range check fails). */
const twoDigits = (s: string, i: number): number => {
  const a = s.charCodeAt(i) - 48, b = s.charCodeAt(i + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

/**
 * The fast path: the fixed form canonical instants and Datafordeler's rows are written in —
 * `2020-01-01T12:00:00.1234567+01:00`, any number of fractional digits (or none), `Z` or `±hh:mm` —
 * read by character codes, without a regex, and shifted to UTC without leaving the day when it can
 * (a row's instants are most of what a register sends). Anything else, or anything out of range,
 * is left to the general reading (undefined), which also says what is wrong.
 */
const parseFixedForm = (s: string): Instant | undefined => {
  const n = s.length
  if (n < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined
  const y = twoDigits(s, 0) * 100 + twoDigits(s, 2), mo = twoDigits(s, 5), d = twoDigits(s, 8)
  const h = twoDigits(s, 11), mi = twoDigits(s, 14), sec = twoDigits(s, 17)
  if (!(y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h <= 23 && mi <= 59 && sec <= 59)) return undefined
  let i = 19
  if (s.charCodeAt(i) === 46) {
    do i++
    while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57)
    if (i === 20) return undefined // a point without digits
  }
  const digits = i - 20 // fractional digits (−1: none)
  let offsetMinutes: number
  const zone = s.charCodeAt(i)
  if (zone === 90 && i + 1 === n) offsetMinutes = 0 // Z
  else if ((zone === 43 || zone === 45) && i + 6 === n && s.charCodeAt(i + 3) === 58) {
    const oh = twoDigits(s, i + 1), om = twoDigits(s, i + 4)
    if (!(oh <= 23 && om <= 59)) return undefined
    offsetMinutes = (zone === 45 ? -1 : 1) * (oh * 60 + om)
  } else return undefined
  if (digits === 6 && zone === 90) return s as Instant // canonical already
  const fraction6 = digits <= 0 ? "000000" : digits >= 6 ? s.slice(20, 26) : s.slice(20, i).padEnd(6, "0")
  const minutes = h * 60 + mi - offsetMinutes
  if (minutes >= 0 && minutes < 1440) return `${s.slice(0, 11)}${pad2(Math.floor(minutes / 60))}:${pad2(minutes % 60)}:${s.slice(17, 19)}.${fraction6}Z` as Instant
  // Another day: through epoch seconds (a year leaving 0001–9999 is the general reading's to refuse).
  const seconds = daysFromCivil(y, mo, d) * 86400 + minutes * 60 + sec
  const days = Math.floor(seconds / 86400)
  if (days < MIN_DAY || days > MAX_DAY) return undefined
  return fromEpochSeconds(seconds, fraction6)
}

/** Days since the epoch of 0001-01-01 and of 9999-12-31: the instants' range. */
const MIN_DAY = daysFromCivil(1, 1, 1), MAX_DAY = daysFromCivil(9999, 12, 31)

/** The general reading (every accepted form, and the error messages): parseInstant without its fast path; exported for the test that they agree. */
export const parseGeneralInstant = (input: string, timeZone = "UTC"): Instant | { readonly error: string } => {
  const m = GENERAL.exec(input)
  if (m === null) return { error: `not an ISO 8601 instant: '${truncateForMessage(input)}'` }
  const [, ys, mos, ds, hs, mis, ss, frac, zone] = m
  const y = +ys!, mo = +mos!, d = +ds!
  const h = hs === undefined ? 0 : +hs, mi = mis === undefined ? 0 : +mis, s = ss === undefined ? 0 : +ss
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) {
    return { error: `not a valid date and time: '${truncateForMessage(input)}'` }
  }
  const fraction6 = (frac ?? "").slice(0, 6).padEnd(6, "0")
  const local = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
  let offset: number
  if (zone === undefined) {
    if (timeZone === "UTC") offset = 0
    else {
      // Two passes find the offset in force at that wall-clock time (DST-safe except in the skipped hour).
      const first = zoneOffsetAt(timeZone, local)
      offset = zoneOffsetAt(timeZone, local - first)
    }
  } else if (zone === "Z" || zone === "z") offset = 0
  else {
    const sign = zone[0] === "-" ? -1 : 1
    const digits = zone.slice(1).replace(":", "")
    const oh = +digits.slice(0, 2), om = digits.length > 2 ? +digits.slice(2, 4) : 0
    if (oh > 23 || om > 59) return { error: `not a valid UTC offset in '${truncateForMessage(input)}'` }
    offset = sign * (oh * 3600 + om * 60)
  }
  try {
    return fromEpochSeconds(local - offset, fraction6)
  } catch (e) {
    return { error: `${(e as Error).message} in '${truncateForMessage(input)}'` }
  }
}

const truncateForMessage = (s: string): string => (s.length > 60 ? `${s.slice(0, 60)}…` : s)

/** The canonical instant of an epoch-milliseconds clock reading. */
export const fromEpochMillis = (millis: number): Instant => {
  const seconds = Math.floor(millis / 1000)
  const ms = millis - seconds * 1000
  return fromEpochSeconds(seconds, `${pad(Math.floor(ms), 3)}${pad(Math.round((ms % 1) * 1000), 3)}`)
}

/** Epoch milliseconds of an instant (microseconds dropped); for clocks and durations only. */
export const toEpochMillis = (instant: Instant): number => {
  const y = +instant.slice(0, 4), mo = +instant.slice(5, 7), d = +instant.slice(8, 10)
  const seconds = daysFromCivil(y, mo, d) * 86400 + +instant.slice(11, 13) * 3600 + +instant.slice(14, 16) * 60 + +instant.slice(17, 19)
  return seconds * 1000 + Math.floor(+instant.slice(20, 26) / 1000)
}

/** Unsafe constructor for literals in code and tests; throws on bad input. */
export const instant = (input: string): Instant => {
  const parsed = parseInstant(input)
  if (typeof parsed !== "string") throw new RangeError(parsed.error)
  return parsed
}

// Comparisons with open ends. `null` as a start is −∞, as an end +∞.
export const startBefore = (a: Bound, b: Bound): boolean => (a === null ? b !== null : b !== null && a < b)
export const endAfter = (a: Bound, b: Bound): boolean => (a === null ? b !== null : b !== null && a > b)
/** start < end, where a null end is +∞ and a null start −∞. */
export const startsBeforeEnd = (start: Bound, end: Bound): boolean => start === null || end === null || start < end
/** Is `at` inside the half-open interval [fra, til)? */
export const within = (fra: Bound, til: Bound, at: Instant): boolean =>
  (fra === null || fra <= at) && (til === null || at < til)
