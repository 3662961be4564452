/** Pure FOR PORTION OF planning: the DESIGN.md tables as plans, and the edge cases. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { operationChangeKind, overlapChangeKind } from "../../src/domain/core/Change.js"
import { type Bound, instant } from "../../src/domain/core/Instant.js"
import { type AssertOperation, canonicalJson, type RetractOperation } from "../../src/domain/core/Operation.js"
import { type CurrentRow, overlaps, planOperation, staleReason } from "../../src/domain/core/Plan.js"

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

describe("planning from the overlapping rows alone (what the SQLite store reads)", () => {
  const day = (d: number | null): Bound => (d === null ? null : instant(`2017-01-${String(d).padStart(2, "0")}`))
  /** Disjoint current rows: cut points on days 1–28 (either end may be open), some gaps, data A/B. */
  const currentRows = fc
    .tuple(fc.uniqueArray(fc.integer({ min: 1, max: 28 }), { maxLength: 8 }), fc.boolean(), fc.boolean(), fc.array(fc.constantFrom("A", "B", "gap"), { minLength: 9, maxLength: 9 }))
    .map(([cuts, openStart, openEnd, kinds]) => {
      const points: Array<number | null> = [...(openStart ? [null] : []), ...cuts.sort((a, b) => a - b), ...(openEnd ? [null] : [])]
      const rows: Array<CurrentRow> = []
      for (let i = 0; i + 1 < points.length; i++) {
        if (kinds[i] !== "gap") rows.push({ id: i + 1, virkningFra: day(points[i]!), virkningTil: day(points[i + 1]!), data: data(kinds[i]!) })
      }
      return rows
    })
  const portion = fc.tuple(fc.option(fc.integer({ min: 1, max: 28 }), { nil: null }), fc.option(fc.integer({ min: 1, max: 28 }), { nil: null }))
    .filter(([f, t]) => f === null || t === null || f < t)
  const operation = fc.tuple(fc.boolean(), portion, fc.constantFrom("A", "B")).map(([isAssert, [f, t], navn]) =>
    isAssert ? { ...assert("2018-01-01", null, null, navn), virkningFra: day(f), virkningTil: day(t) } : { ...retract("2018-01-01", null, null), virkningFra: day(f), virkningTil: day(t) }
  )

  it("gives the same plan and the same change kind as planning from every current row (property)", () => {
    fc.assert(
      fc.property(currentRows, operation, (all, op) => {
        const hits = all.filter((r) => overlaps(r.virkningFra, r.virkningTil, op.virkningFra, op.virkningTil))
        const plan = planOperation(all, op)
        expect(planOperation(hits, op)).toEqual(plan)
        if (plan._tag === "Change") {
          let asked = 0
          const kind = overlapChangeKind(plan, () => (asked++, all.length))
          expect(kind).toBe(operationChangeKind(all.length, plan))
          // The count is asked only when the kind depends on it.
          expect(asked).toBe(plan.close.length > 0 && plan.insert.length > 0 ? 0 : 1)
        }
      }),
      { numRuns: 2000 }
    )
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
