/**
 * Random register file downloads through the real file path: entity lists of
 * random rows (Danish letters, quotes, backslashes, control characters escaped
 * as JSON writes them, characters outside the BMP, strings long enough to
 * cross the inflater's 16 KiB chunks) zipped into a real temp file, named as a
 * download service may name it (often without `.zip`: `GetFile`), and read
 * back by `extractRows` (central directory, inflate, streamed JSON elements).
 * Every element comes back exactly, in order, under its list.
 */
import fc from "fast-check"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { DATAFORDELER_SHAPE } from "../../src/domain/datafordeler/DatafordelerRows.js"
import { extractRows } from "../../src/ingest/MirrorExtract.js"
import { writeZip } from "../support/zipFile.js"

const char = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(..."æøåÆØÅé") },
  { weight: 3, arbitrary: fc.constantFrom('"', "\\", "/", "{", "}", "[", "]", ",", ":") },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom("\u2028", "\u2029", "\u{1F600}", "\u{10FFFF}", "\u00A0") },
  { weight: 6, arbitrary: fc.char() }
)
const short = fc.string({ unit: char, maxLength: 40 })
// Long strings: a random piece repeated past a 16 KiB inflate chunk, so any character can sit on a chunk edge.
const long = fc.tuple(fc.string({ unit: char, minLength: 1, maxLength: 13 }), fc.integer({ min: 100, max: 3000 })).map(([s, n]) => s.repeat(n))
const text = fc.oneof({ weight: 8, arbitrary: short }, { weight: 1, arbitrary: long })
const value = fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 3 }), fc.dictionary(text, text, { maxKeys: 3 }))
const row = fc.record({ id_lokalId: text, registreringFra: fc.constant("2020-01-01T00:00:00Z"), data: fc.dictionary(text, value, { maxKeys: 4 }) })
const lists = fc.uniqueArray(fc.tuple(fc.constantFrom("Adresse", "Husnummer", "NavngivenVej", "Postnummer", "Æblegård"), fc.array(row, { maxLength: 8 })), { selector: ([name]) => name, maxLength: 3 })
// A download is named from its URL or Content-Disposition: with .zip or not.
const fileName = fc.constantFrom("DAR_Totaludtraek.zip", "GetFile", "DAR_Totaludtraek_1_20240101.zip", "extract")

describe("random register file downloads through the zip, inflate and JSON element path", () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-zip-property-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("every element of every entity list comes back exactly, whatever the content and the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(lists, fc.integer({ min: 0, max: 9 }), fc.boolean()), { minLength: 1, maxLength: 3 }), fileName, async (entries, name) => {
        const file = join(mkdtempSync(join(dir, "run-")), name)
        const docs = entries.map(([l, , pretty]) => JSON.stringify(Object.fromEntries(l.map(([k, rows]) => [`${k}List`, rows])), null, pretty ? 1 : undefined))
        writeZip(file, docs.map((d, i) => ({ name: `DAR_Totaludtraek_${i + 1}.json`, data: Buffer.from(d, "utf8"), level: entries[i]![1] })))
        const got: Array<unknown> = []
        for await (const r of extractRows(file, { objectType: "dar", shape: DATAFORDELER_SHAPE, timeZone: "UTC", source: "test", batchSize: 100, maxRecordBytes: 1 << 24 }).rows) {
          got.push("bad" in r ? { list: r.list, bad: r.bad } : { list: r.list, value: r.value })
        }
        const want = entries.flatMap(([l]) => l.flatMap(([k, rows]) => rows.map((value) => ({ list: `${k}List`, value }))))
        expect(got).toEqual(want)
        rmSync(file)
      }),
      { numRuns: 200 }
    )
  }, 120_000)
})
