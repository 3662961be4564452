/** Zip entries read through the central directory, with archives written by Python's zipfile (stored, deflated) and Info-ZIP (ZIP64). */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { zipEntries, zipEntryStream } from "../../src/ingest/Zip.js"

const text = async (chunks: AsyncIterable<Uint8Array>) => {
  const parts: Array<Buffer> = []
  for await (const c of chunks) parts.push(Buffer.from(c))
  return Buffer.concat(parts).toString("utf8")
}

/** Write a zip with Python (on every machine here); fails saying so if python3 is missing. */
const pyZip = (file: string, entries: Record<string, string>, options: { deflate: boolean; zip64: boolean }) => {
  const script = `
import json, sys, zipfile
entries = json.loads(sys.argv[2])
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED if sys.argv[3] == "1" else zipfile.ZIP_STORED) as z:
    for name, body in entries.items():
        with z.open(name, "w", force_zip64=(sys.argv[4] == "1")) as f:
            f.write(body.encode("utf-8"))
`
  try {
    execFileSync("python3", ["-c", script, file, JSON.stringify(entries), options.deflate ? "1" : "0", options.zip64 ? "1" : "0"])
  } catch (e) {
    throw new Error(`writing a test zip needs python3 (${(e as Error).message})`)
  }
}

describe("zip entries", () => {
  let dir: string
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), "skygge-zip-"))))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  for (const [deflate, zip64] of [[false, false], [true, false]] as const) {
    it(`reads ${deflate ? "deflated" : "stored"} entries${zip64 ? " with ZIP64 records" : ""}`, async () => {
      const file = join(dir, `t-${deflate}-${zip64}.zip`)
      const big = JSON.stringify({ AdresseList: Array.from({ length: 2000 }, (_, i) => ({ id_lokalId: `a-${i}`, navn: "Åbakke ø" })) })
      pyZip(file, { "DAR_Totaludtraek.json": big, "læs mig.txt": "hej" }, { deflate, zip64 })
      const entries = zipEntries(file)
      expect(entries.map((e) => e.name)).toEqual(["DAR_Totaludtraek.json", "læs mig.txt"])
      expect(await text(zipEntryStream(file, entries[0]!))).toBe(big)
      expect(await text(zipEntryStream(file, entries[1]!))).toBe("hej")
    })
  }

  it("reads a ZIP64 archive (end record, locator and 64-bit directory fields, as Info-ZIP writes with -fz)", async () => {
    const src = join(dir, "src")
    mkdirSync(src, { recursive: true })
    const body = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ id_lokalId: `h-${i}` })))
    writeFileSync(join(src, "rows.json"), body)
    const file = join(dir, "z64.zip")
    try {
      execFileSync("zip", ["-q", "-fz", "-j", file, join(src, "rows.json")])
    } catch (e) {
      throw new Error(`writing a ZIP64 test archive needs Info-ZIP's zip (apt install zip): ${(e as Error).message}`)
    }
    const bytes = readFileSync(file)
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true) // really ZIP64
    const entries = zipEntries(file)
    expect(entries.map((e) => [e.name, e.size])).toEqual([["rows.json", Buffer.byteLength(body)]])
    expect(await text(zipEntryStream(file, entries[0]!))).toBe(body)
  })

  it("refuses a file that is not a zip, naming it", () => {
    expect(() => zipEntries(new URL(import.meta.url).pathname)).toThrow(/is not a zip file/)
  })
})
