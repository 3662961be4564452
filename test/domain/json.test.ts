import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { jsonDepth, parseJson, stringifyJson } from "../../src/domain/core/Json.js"
import { canonicalJson } from "../../src/domain/core/Operation.js"

const sortKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(sortKeys)
    : value !== null && typeof value === "object"
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]))
      : value

describe("JSON walked without recursion", () => {
  it("writes what JSON.stringify writes, keys sorted or not", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(stringifyJson(value)).toBe(JSON.stringify(value))
        expect(stringifyJson(value, true)).toBe(JSON.stringify(sortKeys(value)))
        expect(canonicalJson(value)).toBe(JSON.stringify(sortKeys(value)))
      }),
      { numRuns: 500 }
    )
  })

  it("keeps a key named __proto__ as data (the property above once found it dropped)", () => {
    const value = JSON.parse('{"b":1,"__proto__":{"x":null},"a":[{"__proto__":2}]}') as unknown
    expect(canonicalJson(value)).toBe('{"__proto__":{"x":null},"a":[{"__proto__":2}],"b":1}')
    expect(stringifyJson(value, true)).toBe(canonicalJson(value))
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })

  it("writes, canonicalises and measures values far deeper than the stack holds", () => {
    const levels = 200_000
    const text = '{"b":['.repeat(levels) + "1" + "]}".repeat(levels)
    const value = JSON.parse(text) as unknown
    expect(stringifyJson(value)).toBe(text)
    expect(canonicalJson(value)).toBe(text)
    expect(jsonDepth(value)).toBe(2 * levels)
    expect(jsonDepth(value, 64)).toBe(65) // stops counting past the limit
    expect(jsonDepth("x")).toBe(0)
    expect(jsonDepth({})).toBe(1)
  })

  it("skips what JSON.stringify skips and refuses a cycle", () => {
    expect(stringifyJson([undefined, () => 1, { a: undefined, d: new Date(0) }])).toBe(JSON.stringify([undefined, () => 1, { a: undefined, d: new Date(0) }]))
    expect(stringifyJson(undefined)).toBeUndefined()
    const cyclic: Record<string, unknown> = {}
    cyclic.self = [cyclic]
    expect(() => stringifyJson(cyclic)).toThrow(TypeError)
  })
})

describe("parseJson: untrusted text", () => {
  it("gives JSON.parse's value, or its own words for why the text is not JSON, and leaves stack traces as they were", () => {
    const before = Error.stackTraceLimit
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), (text) => {
        const parsed = parseJson(text)
        let expected: { value: unknown } | { malformed: string }
        try {
          expected = { value: JSON.parse(text) as unknown }
        } catch (e) {
          expected = { malformed: `malformed JSON: ${(e as Error).message}` }
        }
        expect(parsed).toEqual(expected)
        expect(Error.stackTraceLimit).toBe(before)
      }),
      { numRuns: 2000 }
    )
    expect(parseJson("x")).toEqual({ malformed: `malformed JSON: Unexpected token 'x', "x" is not valid JSON` })
    expect(parseJson("null")).toEqual({ value: null })
    expect(new Error("after").stack).toContain("json.test.ts")
  })
})
