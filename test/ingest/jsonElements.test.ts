import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type JsonElement, jsonElements } from "../../src/ingest/JsonElements.js"
import { chunked } from "../support/chunks.js"


const read = async (text: string, cuts: ReadonlyArray<number> = [], maxElementBytes = 1 << 20) => {
  const out: Array<JsonElement> = []
  for await (const e of jsonElements(chunked(new TextEncoder().encode(text), cuts), { maxElementBytes })) out.push(e)
  return out
}

const row = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 })

describe("streamed JSON array elements", () => {
  it("cuts out every element of a root array or of a root object's arrays, however the bytes are split", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.array(row, { maxLength: 4 })), { maxLength: 4 }),
        fc.jsonValue({ maxDepth: 2 }),
        fc.array(fc.nat({ max: 600 }), { maxLength: 8 }),
        fc.boolean(),
        async (lists, other, cuts, pretty) => {
          const unique = [...new Map(lists.map(([k, v]) => [`${k}List`, v])).entries()]
          const doc = { ...Object.fromEntries(unique), "other ": other }
          const text = JSON.stringify(doc, null, pretty ? 2 : undefined)
          const got = await read(text, cuts)
          // Arrays among `other` nested deeper are not lists; a top-level array value of "other " is.
          // Expected from what the text holds (JSON writes -0 as 0).
          const expected = Object.entries(JSON.parse(text) as Record<string, unknown>).flatMap(([k, v]) =>
            Array.isArray(v) ? v.map((value) => (value !== null && typeof value === "object" ? { list: k, value } : { list: k, bad: true })) : []
          )
          expect(got.map((e) => (e._tag === "Element" ? { list: e.list, value: e.value } : { list: e.list, bad: true }))).toEqual(expected)
          const rootText = JSON.stringify(lists.flatMap(([, v]) => v))
          const root = await read(rootText, cuts)
          expect(root.map((e) => (e._tag === "Element" ? e.value : e))).toEqual(JSON.parse(rootText))
        }
      ),
      { numRuns: 300 }
    )
  })

  it("reports an over-long element, a malformed one and a truncated document, and keeps going", async () => {
    const got = await read(`{"AList":[{"a":1},{"b":"${"x".repeat(100)}"},{"c":3}]`, [], 50)
    expect(got).toEqual([
      { _tag: "Element", list: "AList", index: 0, value: { a: 1 } },
      { _tag: "Bad", list: "AList", index: 1, reason: "element is over 50 bytes" },
      { _tag: "Element", list: "AList", index: 2, value: { c: 3 } },
      { _tag: "Bad", list: null, index: 3, reason: "the document ends before it is complete" }
    ])
  })

  it("reads no further than a document that is not an array or object, or has a malformed key, and says so", async () => {
    expect(await read("PK\u0003\u0004\u0014{\"x\u0001\":[]}")).toEqual([{ _tag: "Bad", list: null, index: 0, reason: 'not a JSON array or object: it starts with "P"', fatal: true }])
    expect(await read('  [{"a":1}] <html>')).toEqual([
      { _tag: "Element", list: null, index: 0, value: { a: 1 } },
      { _tag: "Bad", list: null, index: 1, reason: 'not a JSON array or object: the document goes on with "<"', fatal: true }
    ])
    const [bad, ...rest] = await read('{"A\u0001List":[{"a":1}]}', [3])
    expect(rest).toEqual([])
    expect(bad).toMatchObject({ _tag: "Bad", fatal: true, reason: expect.stringMatching(/^malformed key "A\\u0001List" of the document: Bad control character/) })
  })
})
