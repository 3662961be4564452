/** The PULL fold's compact id set: exactly a Set<string> (no id taken for another), whatever the ids look like. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { idSet } from "../../../src/sources/datafordeler/IdSet.js"

const guid = fc.uuid()
/** The ids a register sends, and the near misses that must stay apart from them. */
const id = fc.oneof(
  guid,
  guid.map((g) => g.toUpperCase()),
  guid.map((g) => g.slice(0, 35)),
  fc.nat().map(String),
  fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
  fc.nat({ max: 999 }).map((n) => `0${n}`),
  fc.string({ maxLength: 40 })
)

describe("idSet", () => {
  it("answers as a Set<string> does, for any ids in any order", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), id), { maxLength: 300 }), (ops) => {
        const set = idSet()
        const model = new Set<string>()
        for (const [add, x] of ops) {
          if (add) {
            set.add(x)
            model.add(x)
          }
          expect(set.has(x)).toBe(model.has(x))
        }
        expect(set.size).toBe(model.size)
      })
    )
  })

  it("keeps apart what a loose reading would take for one id", () => {
    const set = idSet()
    const g = "0f8fad5b-d9cb-469f-a165-70867728950e"
    set.add(g)
    set.add("007")
    set.add("9007199254740993") // 2^53 + 1: as a double it would be 2^53
    set.add("18446744073709551617") // 2^64 + 1
    set.add("00000000-0000-0000-0000-000000000000") // all zero bits is a GUID too
    expect([g, g.toUpperCase(), "0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5b-d9cb-469f-a165-70867728950f"].map((x) => set.has(x))).toEqual([true, false, false, false])
    expect(["007", "7", "07", "0"].map((x) => set.has(x))).toEqual([true, false, false, false])
    expect(["9007199254740993", "9007199254740992", "18446744073709551617", "1"].map((x) => set.has(x))).toEqual([true, false, true, false])
    expect(set.has("00000000-0000-0000-0000-000000000000")).toBe(true)
    set.add(g.toUpperCase())
    set.add("7")
    set.add(g) // again: no new entry
    expect(set.size).toBe(7)
  })

  it("holds many ids of each kind through its tables' growth", () => {
    const set = idSet()
    const n = 100_000
    const g = (i: number) => `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${(i * 7919).toString(16).padStart(12, "0")}`
    for (let i = 0; i < n; i++) {
      set.add(String(i * 3))
      set.add(g(i))
    }
    expect(set.size).toBe(2 * n)
    let hits = 0, misses = 0
    for (let i = 0; i < n; i++) {
      if (set.has(String(i * 3)) && set.has(g(i))) hits++
      if (set.has(String(i * 3 + 1)) || set.has(g(i + n))) misses++
    }
    expect([hits, misses]).toEqual([n, 0])
  })
})
