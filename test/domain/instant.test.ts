/** Instants: exact parsing (never through JS Date), truncation, zones, order by text. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromEpochMillis, instant, parseGeneralInstant, parseInstant, toEpochMillis, within } from "../../src/domain/core/Instant.js"

const ok = (input: string, zone?: string) => {
  const parsed = parseInstant(input, zone)
  if (typeof parsed !== "string") throw new Error(`expected '${input}' to parse: ${parsed.error}`)
  return parsed
}
const error = (input: string) => {
  const parsed = parseInstant(input)
  if (typeof parsed === "string") throw new Error(`expected '${input}' to be refused, got ${parsed}`)
  return parsed.error
}

describe("parseInstant", () => {
  it("reads the forms the upstream registers send", () => {
    expect(ok("2017-01-04")).toBe("2017-01-04T00:00:00.000000Z")
    expect(ok("2017-01-04T00:00:00Z")).toBe("2017-01-04T00:00:00.000000Z")
    expect(ok("2017-01-04 13:45")).toBe("2017-01-04T13:45:00.000000Z")
    // Datafordeler: seven fractional digits and a local offset.
    expect(ok("2020-05-07T10:11:12.1234567+02:00")).toBe("2020-05-07T08:11:12.123456Z")
    expect(ok("2020-05-07T10:11:12,5-0130")).toBe("2020-05-07T11:41:12.500000Z")
    // Placeholder dates far outside JS Date's comfortable range stay exact.
    expect(ok("1753-01-01T00:00:00")).toBe("1753-01-01T00:00:00.000000Z")
    expect(ok("9999-12-31T23:59:59.9999999Z")).toBe("9999-12-31T23:59:59.999999Z")
  })

  it("truncates finer precision instead of rounding", () => {
    expect(ok("2017-01-04T00:00:00.9999999Z")).toBe("2017-01-04T00:00:00.999999Z")
    expect(ok("2017-01-04T00:00:00.0000009Z")).toBe("2017-01-04T00:00:00.000000Z")
  })

  it("reads a time without offset in the configured zone, across daylight saving", () => {
    expect(ok("2017-01-04T12:00:00", "Europe/Copenhagen")).toBe("2017-01-04T11:00:00.000000Z")
    expect(ok("2017-07-04T12:00:00", "Europe/Oslo")).toBe("2017-07-04T10:00:00.000000Z")
    // An explicit offset wins over the zone.
    expect(ok("2017-07-04T12:00:00Z", "Europe/Oslo")).toBe("2017-07-04T12:00:00.000000Z")
  })

  it("says what is wrong with a bad timestamp", () => {
    expect(error("yesterday")).toMatch(/not an ISO 8601 instant: 'yesterday'/)
    expect(error("2017-02-29")).toMatch(/not a valid date/)
    expect(error("2017-02-28T24:00:00Z")).toMatch(/not a valid date/)
    expect(error("2017-02-28T10:00:00+25:00")).toMatch(/offset/)
    expect(error("0000-01-01T00:00:00Z")).toMatch(/not a valid date/)
    expect(error("2017-13-01T00:00:00.000000Z")).toMatch(/not a valid date/)
  })

  it("orders instants as text exactly as in time, and round-trips epoch milliseconds", () => {
    const millis = fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }) // years 0001–9999
    fc.assert(
      fc.property(millis, millis, (a, b) => {
        const ia = fromEpochMillis(a), ib = fromEpochMillis(b)
        expect(ia < ib).toBe(a < b)
        expect(toEpochMillis(ia)).toBe(a)
        expect(parseInstant(ia)).toBe(ia)
        // Date agrees wherever it is exact (milliseconds).
        expect(ia.slice(0, 23)).toBe(new Date(a).toISOString().slice(0, 23))
      }),
      { numRuns: 2000 }
    )
  })

  it("reads Datafordeler's form on its fast path exactly as the general reading does", () => {
    const digits = (n: number, max = 9) => fc.array(fc.integer({ min: 0, max }), { minLength: n, maxLength: n }).map((d) => d.join(""))
    // Near-valid parts: out-of-range months, days, hours, offsets and year 0000 come up often.
    const two = (max: number) => fc.oneof(fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, "0")), digits(2))
    const fraction = fc.oneof(fc.constant(""), fc.constant("."), fc.integer({ min: 1, max: 9 }).chain((n) => digits(n)).map((d) => `.${d}`), digits(3).map((d) => `,${d}`))
    const zone = fc.oneof(fc.constantFrom("Z", "z", "", " Z", "+01", "+0100", "-0130"), fc.tuple(fc.constantFrom("+", "-"), two(24), two(60)).map(([sign, h, m]) => `${sign}${h}:${m}`))
    const year = fc.oneof(fc.constantFrom("0000", "0001", "9999", "2020", "2024", "1900"), digits(4))
    const made = fc
      .tuple(year, two(13), two(32), fc.constantFrom("T", " ", "t"), two(24), two(60), two(60), fraction, zone)
      .map(([y, mo, d, t, h, mi, sec, f, z]) => `${y}-${mo}-${d}${t}${h}:${mi}:${sec}${f}${z}`)
    // Valid instants written as Datafordeler writes them: local time, seven digits, the offset.
    const offsetMinutes = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })
    const written = fc.tuple(fc.integer({ min: -62_135_596_800_000 + 86_400_000, max: 253_402_300_799_999 - 86_400_000 }), offsetMinutes, digits(7), fc.integer({ min: 0, max: 9 })).map(([ms, off, frac, keep]) => {
      const local = fromEpochMillis(ms + off * 60_000)
      const sign = off < 0 ? "-" : "+", abs = Math.abs(off)
      return `${local.slice(0, 19)}${keep === 0 ? "" : `.${frac.slice(0, keep)}`}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`
    })
    const canonical = fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }).map(fromEpochMillis)
    fc.assert(
      fc.property(fc.oneof(made, written, canonical), fc.constantFrom("UTC", "Europe/Copenhagen"), (input, zone) => {
        expect(parseInstant(input, zone)).toEqual(parseGeneralInstant(input, zone))
      }),
      { numRuns: 20_000 }
    )
    // At the edges of the range and across a day, a month and a year.
    for (const input of ["0001-01-01T00:30:00.0000000+01:00", "0001-01-01T01:00:00.0000000+01:00", "9999-12-31T23:30:00.1-01:00", "2020-12-31T23:59:59.9999999-00:01", "2020-03-01T00:00:00+00:01", "2024-02-29T23:00:00.5-01:00"]) {
      expect(parseInstant(input)).toEqual(parseGeneralInstant(input))
    }
    expect(ok("2020-01-01T12:00:00.123456+01:00")).toBe("2020-01-01T11:00:00.123456Z")
    expect(ok("2021-01-01T00:30:00.1234567+01:00")).toBe("2020-12-31T23:30:00.123456Z")
  })

  it("treats intervals as half-open with open ends", () => {
    const a = instant("2017-01-01"), b = instant("2017-02-01")
    expect(within(a, b, a)).toBe(true)
    expect(within(a, b, b)).toBe(false)
    expect(within(null, b, instant("0001-01-01"))).toBe(true)
    expect(within(a, null, instant("9999-12-31"))).toBe(true)
  })
})
