import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { drift, fingerprint, itemFingerprint } from "../../src/domain/intark/Drift.js"

describe("drift between upstream and shadow", () => {
  it("names missing, changed, unverified and extra objects", () => {
    const upstream = new Map<string, string | null>([["a", "1"], ["b", "2"], ["c", null], ["d", "4"]])
    const shadow = new Map([["b", "2"], ["c", "3"], ["d", "x"], ["e", "5"]])
    expect(drift(upstream, shadow)).toEqual({ missing: ["a"], changed: ["d"], unverified: ["c"], extra: ["e"], checked: 5 })
  })

  it("finds nothing when both hold the same, and every object lands in exactly one class", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 3 }), fc.option(fc.string({ maxLength: 2 }))), fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 2 })), (up, sh) => {
        const upstream = new Map(Object.entries(up))
        const shadow = new Map(Object.entries(sh))
        const d = drift(upstream, shadow)
        const same = [...upstream].filter(([id, p]) => p !== null && shadow.get(id) === p).length
        expect(d.missing.length + d.changed.length + d.unverified.length + d.extra.length + same).toBe(d.checked)
        const known = new Map([...shadow].map(([id, p]) => [id, p as string | null]))
        expect(drift(known, shadow)).toMatchObject({ missing: [], changed: [], extra: [] })
      })
    )
  })

  it("fingerprints ignore key order, and a bare pointer has none", () => {
    expect(fingerprint({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(fingerprint({ b: [1, { d: 3, c: 2 }], a: 1 }))
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }))
    expect(itemFingerprint({ id: { href: "https://x/personer/1" } })).toBeNull()
    expect(itemFingerprint({ href: "https://x/personer/1", fornavn: "Ola" })).toBe(fingerprint({ href: "https://x/personer/1", fornavn: "Ola" }))
  })
})
