/** Activation rules: which boundaries a stored row holds, what closing it cancels, how a due one settles. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { closingCancels, heldActivations, isLate, neighbourAcross, settleActivation } from "../../src/domain/core/Activation.js"
import { type Bound, fromEpochMillis, instant, toEpochMillis } from "../../src/domain/core/Instant.js"

const t = (date: string | null): Bound => (date === null ? null : instant(date))
const stored = (virkningFra: string | null, virkningTil: string | null, storedAt: string) => ({
  virkningFra: t(virkningFra), virkningTil: t(virkningTil), storedAt: instant(storedAt)
})

// Instants over a few days, so equal instants and boundaries exactly at the storing time come up often.
const DAY0 = toEpochMillis(instant("2017-01-01"))
const anInstant = fc.integer({ min: 0, max: 4 }).map((d) => fromEpochMillis(DAY0 + d * 86_400_000))
const aBound = fc.option(anInstant, { nil: null })
const aRow = fc.record({ virkningFra: aBound, virkningTil: aBound, storedAt: anInstant })

describe("heldActivations", () => {
  it("holds the DESIGN.md change's future boundaries: Åbakke stored 2017-01-04 starts 2017-02-01, Aabakke's part ends then", () => {
    expect(heldActivations(stored("2017-02-01", null, "2017-01-04"))).toEqual([{ kind: "started", at: instant("2017-02-01") }])
    expect(heldActivations(stored("2016-12-01", "2017-02-01", "2017-01-04"))).toEqual([{ kind: "ended", at: instant("2017-02-01") }])
  })

  it("holds both boundaries of a period wholly in the future, none of one in the past or open", () => {
    expect(heldActivations(stored("2017-02-01", "2017-03-01", "2017-01-04"))).toEqual([
      { kind: "started", at: instant("2017-02-01") },
      { kind: "ended", at: instant("2017-03-01") }
    ])
    expect(heldActivations(stored("2016-01-01", "2016-12-31", "2017-01-04"))).toEqual([])
    expect(heldActivations(stored(null, null, "2017-01-04"))).toEqual([])
  })

  it("holds nothing for a boundary exactly at the storing time: it is already in force", () => {
    expect(heldActivations(stored("2017-01-04", "2017-01-04T00:00:00.000001Z", "2017-01-04"))).toEqual([
      { kind: "ended", at: instant("2017-01-04T00:00:00.000001Z") }
    ])
  })

  it("holds exactly the boundaries strictly after the storing time, one per kind (property)", () => {
    fc.assert(
      fc.property(aRow, (row) => {
        const held = heldActivations(row)
        const expected = [
          ...(row.virkningFra !== null && row.virkningFra > row.storedAt ? [{ kind: "started", at: row.virkningFra }] : []),
          ...(row.virkningTil !== null && row.virkningTil > row.storedAt ? [{ kind: "ended", at: row.virkningTil }] : [])
        ]
        expect(held).toEqual(expected)
        expect(new Set(held.map((a) => a.kind)).size).toBe(held.length)
      })
    )
  })
})

describe("closingCancels", () => {
  it("is asked only of rows that held an activation (others cost no statement)", () => {
    expect(closingCancels(stored("2017-02-01", null, "2017-01-04"))).toBe(true)
    expect(closingCancels(stored(null, "2017-02-01", "2017-01-04"))).toBe(true)
    expect(closingCancels(stored("2017-01-04", null, "2017-01-04"))).toBe(false)
    expect(closingCancels(stored(null, null, "2017-01-04"))).toBe(false)
  })

  it("agrees with heldActivations (property)", () => {
    fc.assert(fc.property(aRow, (row) => {
        expect(closingCancels(row)).toBe(heldActivations(row).length > 0)
      }))
  })
})

describe("settleActivation", () => {
  const at = instant("2017-02-01")
  const now = instant("2017-02-01T00:00:05Z")

  it("looks across a start at the row ending there, across an end at the row starting there", () => {
    expect([neighbourAcross("started"), neighbourAcross("ended")]).toEqual(["endsAt", "startsAt"])
  })

  it("fires a real boundary and announces it by kind", () => {
    expect(settleActivation({ kind: "started", at, data: "Åbakke" }, { data: "Aabakke" }, now, 60_000)).toEqual({
      _tag: "Fired", late: false, announce: "validity-started"
    })
    expect(settleActivation({ kind: "ended", at, data: "Aabakke" }, undefined, now, 60_000)).toEqual({
      _tag: "Fired", late: false, announce: "validity-ended"
    })
  })

  it("skips an instant the object's view does not change at: the row across it holds the same data", () => {
    expect(settleActivation({ kind: "started", at, data: "Aabakke" }, { data: "Aabakke" }, now, 60_000)).toEqual({ _tag: "Skipped" })
    expect(settleActivation({ kind: "ended", at, data: "Aabakke" }, { data: "Aabakke" }, now, 60_000)).toEqual({ _tag: "Skipped" })
  })

  it("is late only strictly after lateAfterMs, at millisecond precision", () => {
    expect(isLate(at, instant("2017-02-01T00:01:00Z"), 60_000)).toBe(false)
    expect(isLate(at, instant("2017-02-01T00:01:00.000999Z"), 60_000)).toBe(false)
    expect(isLate(at, instant("2017-02-01T00:01:00.001Z"), 60_000)).toBe(true)
    expect(isLate(at, at, 0)).toBe(false)
  })

  it("fires whenever the neighbour differs or is absent, late exactly when the delay exceeds lateAfterMs (property)", () => {
    const data = fc.constantFrom("A", "B")
    fc.assert(
      fc.property(fc.constantFrom("started" as const, "ended" as const), data, fc.option(data, { nil: undefined }), fc.nat(10_000), fc.nat(10_000), (kind, mine, across, delay, lateAfterMs) => {
        const settled = settleActivation({ kind, at, data: mine }, across === undefined ? undefined : { data: across }, fromEpochMillis(toEpochMillis(at) + delay), lateAfterMs)
        if (across === mine) expect(settled).toEqual({ _tag: "Skipped" })
        else expect(settled).toEqual({ _tag: "Fired", late: delay > lateAfterMs, announce: kind === "started" ? "validity-started" : "validity-ended" })
      })
    )
  })
})
