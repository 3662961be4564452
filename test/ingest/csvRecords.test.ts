import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { csvField } from "../../src/domain/core/Csv.js"
import { type CsvRecord, csvRecords } from "../../src/ingest/CsvRecords.js"
import { chunked } from "../support/chunks.js"


const read = async (text: string, cuts: ReadonlyArray<number> = [], maxRecordBytes = 1 << 20) => {
  const out: Array<CsvRecord> = []
  for await (const r of csvRecords(chunked(new TextEncoder().encode(text), cuts), { maxRecordBytes })) out.push(r)
  return out
}

describe("streaming CSV records", () => {
  it("reads back whatever the writer wrote, however the bytes are cut", async () => {
    const value = fc.string({ unit: fc.constantFrom("a", "Å", ",", '"', "\n", "\r\n", " ", "x", "ø"), maxLength: 8 })
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(value, value, value), { minLength: 1, maxLength: 8 }),
        fc.constantFrom("\r\n", "\n"),
        fc.array(fc.nat({ max: 400 }), { maxLength: 6 }),
        async (rows, eol, cuts) => {
          const text = ["id,navn,note", ...rows.map((r) => r.map(csvField).join(","))].join(eol) + eol
          const records = await read(text, cuts)
          expect(records.map((r) => (r._tag === "Record" ? [r.values.id, r.values.navn, r.values.note] : r))).toEqual(rows)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("names bad records by line and keeps going: wrong field count, text after a quote, an over-long record, an unfinished quote", async () => {
    const records = await read('id,navn\n1,ok\n2\n3,"x"y\n4,' + "z".repeat(100) + '\n5,fine\n6,"open', [], 60)
    expect(records).toEqual([
      { _tag: "Record", line: 2, values: { id: "1", navn: "ok" } },
      { _tag: "Bad", line: 3, reason: "1 fields where the header has 2" },
      { _tag: "Bad", line: 4, reason: "text after a closing quote" },
      { _tag: "Bad", line: 5, reason: "record is over 60 bytes" },
      { _tag: "Record", line: 6, values: { id: "5", navn: "fine" } },
      { _tag: "Bad", line: 7, reason: "the file ends inside a quoted field" }
    ])
  })

  it("drops a byte-order mark and counts lines inside quoted fields", async () => {
    const records = await read('\uFEFFid,navn\r\n1,"two\r\nlines"\r\n2,b\r\n')
    expect(records).toEqual([
      { _tag: "Record", line: 2, values: { id: "1", navn: "two\r\nlines" } },
      { _tag: "Record", line: 4, values: { id: "2", navn: "b" } }
    ])
  })
})
