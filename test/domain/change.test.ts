/** The created / updated / deleted rule, and what a mirror plan announces. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { changeKind, mirroredChange, operationChangeKind } from "../../src/domain/core/Change.js"
import { type Bound, instant } from "../../src/domain/core/Instant.js"
import type { MirrorRow } from "../../src/domain/core/Mirror.js"

const t = (date: string | null): Bound => (date === null ? null : instant(date))

describe("changeKind", () => {
  it("names a change by the current rows before and after it", () => {
    expect(changeKind(0, 1)).toBe("created")
    expect(changeKind(1, 2)).toBe("updated")
    expect(changeKind(2, 0)).toBe("deleted")
    // An object with nothing current before is created, even by a change that leaves nothing current.
    expect(changeKind(0, 0)).toBe("created")
  })

  it("is created exactly without rows before, deleted exactly without rows after otherwise (property)", () => {
    fc.assert(
      fc.property(fc.nat(5), fc.nat(5), (before, after) => {
        const kind = changeKind(before, after)
        expect(kind === "created").toBe(before === 0)
        expect(kind === "deleted").toBe(before > 0 && after === 0)
      })
    )
  })

  it("counts an operation's plan: the DESIGN.md change closes one row and inserts two, a retract of everything deletes", () => {
    expect(operationChangeKind(0, { close: [], insert: [1] })).toBe("created")
    expect(operationChangeKind(1, { close: [3], insert: [1, 2] })).toBe("updated")
    expect(operationChangeKind(2, { close: [1, 2], insert: [] })).toBe("deleted")
  })
})

describe("mirroredChange", () => {
  const row = (registreringFra: string, registreringTil: string | null, virkningFra: string | null, virkningTil: string | null): MirrorRow => ({
    objectId: "yyyy", registreringFra: instant(registreringFra), registreringTil: t(registreringTil),
    virkningFra: t(virkningFra), virkningTil: t(virkningTil), data: "{}", key: `${registreringFra} ${virkningFra}`
  })

  it("writes nothing: no change, the head stays", () => {
    expect(mirroredChange({ close: [], insert: [] }, 3)).toBeUndefined()
  })

  it("announces DESIGN.md's change (row 3 closed, rows 4 and 5 inserted) at the latest instant, with the first current row's portion", () => {
    const plan = {
      close: [{ id: 3, at: instant("2017-01-04") }],
      insert: [row("2017-01-04", null, "2016-12-01", "2017-02-01"), row("2017-01-04", null, "2017-02-01", null)]
    }
    expect(mirroredChange(plan, 1)).toEqual({ kind: "updated", registreringstid: instant("2017-01-04"), virkningFra: t("2016-12-01"), virkningTil: t("2017-02-01") })
  })

  it("counts only inserted rows still current, and reads the latest instant from closes and closed rows too", () => {
    // A whole history of a deleted object arrives: its rows are all closed.
    const history = { close: [], insert: [row("2016-11-01", "2017-01-04", "2016-12-01", null), row("2017-01-04", "2017-03-01", "2016-12-01", null)] }
    expect(mirroredChange(history, 0)).toEqual({ kind: "created", registreringstid: instant("2017-03-01"), virkningFra: t("2016-12-01"), virkningTil: null })
    // Its last current row is closed upstream.
    expect(mirroredChange({ close: [{ id: 7, at: instant("2017-05-01") }], insert: [] }, 1)).toEqual({
      kind: "deleted", registreringstid: instant("2017-05-01"), virkningFra: null, virkningTil: null
    })
  })
})
