/** Instants: exact parsing (never through JS Date), truncation, zones, order by text. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromEpochMillis, instant, parseInstant, toEpochMillis, within } from "../../src/domain/core/Instant.js"

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

  it("treats intervals as half-open with open ends", () => {
    const a = instant("2017-01-01"), b = instant("2017-02-01")
    expect(within(a, b, a)).toBe(true)
    expect(within(a, b, b)).toBe(false)
    expect(within(null, b, instant("0001-01-01"))).toBe(true)
    expect(within(a, null, instant("9999-12-31"))).toBe(true)
  })
})
