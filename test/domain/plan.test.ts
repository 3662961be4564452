/** Pure FOR PORTION OF planning: the DESIGN.md tables as plans, and the edge cases. */
import { describe, expect, it } from "vitest"
import { type Bound, instant } from "../../src/domain/core/Instant.js"
import { type AssertOperation, canonicalJson, type RetractOperation } from "../../src/domain/core/Operation.js"
import { type CurrentRow, planOperation, staleReason } from "../../src/domain/core/Plan.js"

const t = (date: string | null): Bound => (date === null ? null : instant(date))
const data = (navn: string) => canonicalJson({ navn })
const assert = (r: string, vf: string | null, vt: string | null, navn: string): AssertOperation => ({
  op: "assert", objectType: "vej", objectId: "x", registreringstid: instant(r),
  virkningFra: t(vf), virkningTil: t(vt), data: data(navn), eventId: `e-${r}-${navn}`
})
const retract = (r: string, vf: string | null, vt: string | null): RetractOperation => ({
  op: "retract", objectType: "vej", objectId: "x", registreringstid: instant(r),
  virkningFra: t(vf), virkningTil: t(vt), eventId: `e-${r}-retract`
})
const row = (id: number, vf: string | null, vt: string | null, navn: string): CurrentRow => ({
  id, virkningFra: t(vf), virkningTil: t(vt), data: data(navn)
})
const inserted = (vf: string | null, vt: string | null, navn: string) => ({ virkningFra: t(vf), virkningTil: t(vt), data: data(navn) })

describe("planOperation", () => {
  it("plans the correction of DESIGN.md table 1 (Grøndahl → Grøndal, same validity)", () => {
    expect(planOperation([row(1, "2016-10-01", null, "Grøndahl")], assert("2016-09-07", "2016-10-01", null, "Grøndal"))).toEqual({
      _tag: "Change", close: [1], insert: [inserted("2016-10-01", null, "Grøndal")]
    })
  })

  it("plans the change of DESIGN.md table 2 (Aabakke → Åbakke from 2017-02-01)", () => {
    expect(planOperation([row(3, "2016-12-01", null, "Aabakke")], assert("2017-01-04", "2017-02-01", null, "Åbakke"))).toEqual({
      _tag: "Change", close: [3], insert: [inserted("2016-12-01", "2017-02-01", "Aabakke"), inserted("2017-02-01", null, "Åbakke")]
    })
  })

  it("inserts into an empty object without closing anything", () => {
    expect(planOperation([], assert("2017-01-01", null, null, "A"))).toEqual({ _tag: "Change", close: [], insert: [inserted(null, null, "A")] })
  })

  it("splits a row around a portion in its middle, keeping both outer parts", () => {
    expect(planOperation([row(1, null, null, "A")], assert("2017-01-01", "2017-03-01", "2017-04-01", "B"))).toEqual({
      _tag: "Change", close: [1],
      insert: [inserted(null, "2017-03-01", "A"), inserted("2017-04-01", null, "A"), inserted("2017-03-01", "2017-04-01", "B")]
    })
  })

  it("leaves rows that only touch the portion's ends alone (half-open intervals)", () => {
    const current = [row(1, null, "2017-03-01", "A"), row(2, "2017-04-01", null, "C")]
    expect(planOperation(current, assert("2017-05-01", "2017-03-01", "2017-04-01", "B"))).toEqual({
      _tag: "Change", close: [], insert: [inserted("2017-03-01", "2017-04-01", "B")]
    })
  })

  it("changes nothing when equal data already covers the portion, even across several rows", () => {
    const current = [row(1, "2017-01-01", "2017-02-01", "A"), row(2, "2017-02-01", null, "A")]
    expect(planOperation(current, assert("2018-01-01", "2017-01-15", "2017-06-01", "A"))).toEqual({ _tag: "Unchanged" })
    expect(planOperation(current, assert("2018-01-01", "2017-01-01", null, "A"))).toEqual({ _tag: "Unchanged" })
  })

  it("changes when equal data covers the portion only with a gap, or not to its open end", () => {
    const gap = [row(1, "2017-01-01", "2017-02-01", "A"), row(2, "2017-03-01", null, "A")]
    expect(planOperation(gap, assert("2018-01-01", "2017-01-01", null, "A"))._tag).toBe("Change")
    const bounded = [row(1, "2017-01-01", "2017-02-01", "A")]
    expect(planOperation(bounded, assert("2018-01-01", "2017-01-01", null, "A"))._tag).toBe("Change")
    expect(planOperation(bounded, assert("2018-01-01", null, "2017-02-01", "A"))._tag).toBe("Change")
  })

  it("retracts a portion, keeping the parts outside it, and changes nothing when nothing is there", () => {
    expect(planOperation([row(1, "2017-01-01", null, "A")], retract("2018-01-01", "2017-06-01", null))).toEqual({
      _tag: "Change", close: [1], insert: [inserted("2017-01-01", "2017-06-01", "A")]
    })
    expect(planOperation([row(1, "2017-01-01", "2017-06-01", "A")], retract("2018-01-01", "2017-06-01", null))).toEqual({ _tag: "Unchanged" })
    expect(planOperation([], retract("2018-01-01", null, null))).toEqual({ _tag: "Unchanged" })
  })
})

describe("staleReason", () => {
  it("refuses an older registration by name and accepts an equal or later one", () => {
    const latest = instant("2017-01-04")
    expect(staleReason(latest, assert("2017-01-03", null, null, "A"))).toMatch(
      /stale registration: registreringstid 2017-01-03T00:00:00.000000Z is older than the latest registration 2017-01-04T00:00:00.000000Z of vej\/x/
    )
    expect(staleReason(latest, assert("2017-01-04", null, null, "A"))).toBeUndefined()
    expect(staleReason(latest, assert("2017-01-05", null, null, "A"))).toBeUndefined()
    expect(staleReason(undefined, assert("1900-01-01", null, null, "A"))).toBeUndefined()
  })
})
