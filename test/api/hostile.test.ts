/**
 * Hostile and odd input at both doors — `POST /v1/registrations` on a real
 * server on loopback, and the real `skygge import` process with a real
 * configuration file: a clear refusal naming the input, and nothing else lost.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postNdjson, startServer, type TestServer } from "../support/server.js"

const bin = fileURLToPath(new URL("../../bin/skygge.js", import.meta.url))

const skygge = (args: ReadonlyArray<string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args])
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** `{"a":{"a":…1…}}`, `levels` objects deep, as text (JSON.stringify itself overflows a few thousand levels down). */
const nestedText = (levels: number) => '{"a":'.repeat(levels) + "1" + "}".repeat(levels)
const nested = (levels: number): unknown => JSON.parse(nestedText(levels))

/** An operation's JSON text with `data` spliced in as text. */
const opText = (objectType: string, objectId: string, data: string) =>
  JSON.stringify(op(objectType, objectId, "DATA")).replace('"DATA"', data)

const op = (objectType: string, objectId: string, data: unknown, eventId = `${objectType}-${objectId}`) => ({
  op: "assert", objectType, objectId, registreringstid: "2020-01-01T00:00:00Z", virkningFra: null, virkningTil: null, data, eventId
})

interface Summary {
  lines: number
  applied: number
  refused: number
  notRecorded?: number
  refusals: Array<{ line?: number; field?: string; reason: string }>
}

interface Refused {
  id: number
  source: string
  line: number | null
  reason: string
  input: string | null
}

/** Every refused record, paged through GET /v1/refused. */
const allRefused = async (baseUrl: string): Promise<Array<Refused>> => {
  const all: Array<Refused> = []
  let after = 0
  for (;;) {
    const page = (await (await fetch(`${baseUrl}/v1/refused?after=${after}&limit=10000`)).json()) as { refused: Array<Refused>; next: number | null }
    all.push(...page.refused)
    if (page.next === null) return all
    after = page.next
  }
}

describe("hostile input over HTTP", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ api: { maxLineBytes: 100000 } })
  })
  afterAll(() => server.close())

  it("refuses data nested past api.maxDepth (64 by default) by line, and applies the lines beside it", async () => {
    const body = [opText("deep", "a", "{}"), opText("deep", "x", nestedText(5000)), opText("deep", "y", nestedText(65)), opText("deep", "z", nestedText(64)), opText("deep", "b", "{}")].join("\n")
    const res = await fetch(`${server.baseUrl}/v1/registrations`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body })
    expect(res.status).toBe(422)
    const summary = (await res.json()) as Summary
    expect(summary).toMatchObject({ lines: 5, applied: 3, refused: 2 })
    expect(summary.refusals).toEqual([
      { line: 2, eventId: "deep-x", field: "data", reason: expect.stringMatching(/more than 64 levels deep \(api\.maxDepth\)/) },
      { line: 3, eventId: "deep-y", field: "data", reason: expect.stringMatching(/more than 64 levels deep/) }
    ])
    for (const id of ["a", "z", "b"]) expect((await fetch(`${server.baseUrl}/v1/objects/deep/${id}`)).status).toBe(200)
    const z = (await (await fetch(`${server.baseUrl}/v1/objects/deep/z`)).json()) as { data: unknown }
    expect(z.data).toEqual(nested(64))
  })

  it("does the same for a JSON array body", async () => {
    const body = `[${opText("deepjson", "a", "{}")},${opText("deepjson", "x", nestedText(5000))},${opText("deepjson", "b", "{}")}]`
    const res = await fetch(`${server.baseUrl}/v1/registrations`, { method: "POST", headers: { "content-type": "application/json" }, body })
    expect(res.status).toBe(422)
    const summary = (await res.json()) as Summary
    expect(summary).toMatchObject({ applied: 2, refused: 1, refusals: [{ line: 2, field: "data", reason: expect.stringMatching(/api\.maxDepth/) }] })
  })

  it("holds each operation of a JSON body to api.maxLineBytes, naming its index, and applies the rest", async () => {
    const body = JSON.stringify([op("jsonlim", "a", { n: 1 }), op("jsonlim", "big", { pad: "x".repeat(150_000) }), op("jsonlim", "b", { n: 2 })])
    const res = await fetch(`${server.baseUrl}/v1/registrations`, { method: "POST", headers: { "content-type": "application/json" }, body })
    expect(res.status).toBe(422)
    const summary = (await res.json()) as Summary
    expect(summary).toMatchObject({ applied: 2, refused: 1 })
    expect(summary.refusals).toEqual([{ line: 2, reason: expect.stringMatching(/^operation at index 1 is \d+ bytes as JSON, over the limit of 100000 \(api\.maxLineBytes\)$/) }])
    expect((await fetch(`${server.baseUrl}/v1/objects/jsonlim/big`)).status).toBe(404)
    // One object alone is held to the same limit.
    const one = await fetch(`${server.baseUrl}/v1/registrations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(op("jsonlim", "big", { pad: "x".repeat(150_000) }))
    })
    expect(((await one.json()) as Summary).refusals[0]!.reason).toMatch(/^the operation is \d+ bytes as JSON, over the limit/)
  })

  it("records at most 1000 refusals of a megabyte of junk lines one by one, counts the rest, and applies the good line", async () => {
    const before = (await allRefused(server.baseUrl)).length
    const junk = "x\n".repeat(512 * 1024)
    const res = await postNdjson(server.baseUrl, junk + JSON.stringify(op("flood", "ok", { n: 1 })) + "\n")
    expect(res.status).toBe(422)
    const summary = (await res.json()) as Summary
    expect(summary).toMatchObject({ lines: 512 * 1024 + 1, applied: 1, refused: 512 * 1024, notRecorded: 512 * 1024 - 1000 })
    expect(summary.refusals).toHaveLength(100)
    const recorded = (await allRefused(server.baseUrl)).slice(before)
    expect(recorded).toHaveLength(1001)
    expect(recorded.slice(0, 1000).map((r) => [r.line, r.input])).toEqual(Array.from({ length: 1000 }, (_, i) => [i + 1, "x"]))
    expect(recorded[1000]!.reason).toBe(`${512 * 1024 - 1000} more refused inputs of this request or import were counted but not recorded one by one (at most 1000 are)`)
    expect((await fetch(`${server.baseUrl}/v1/objects/flood/ok`)).status).toBe(200)
  })
})

describe("hostile input to skygge import", () => {
  let dir: string
  let config: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skygge-hostile-"))
    config = join(dir, "skygge.json")
    writeFileSync(config, JSON.stringify({ store: { url: `sqlite:${join(dir, "import.db")}` }, api: { maxDepth: 10 } }))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("refuses data deeper than api.maxDepth from the file, without a stack overflow, and applies the rest", async () => {
    const file = join(dir, "deep.ndjson")
    writeFileSync(file, [opText("imp", "a", "{}"), opText("imp", "x", nestedText(5000)), opText("imp", "y", nestedText(11)), opText("imp", "z", nestedText(10)), opText("imp", "b", "{}")].join("\n"))
    const r = await skygge(["import", file, "--config", config, "--json"])
    expect(r.stderr).not.toMatch(/call stack/i)
    expect(r.code).toBe(2)
    const summary = JSON.parse(r.stdout) as Summary
    expect(summary).toMatchObject({ lines: 5, applied: 3, refused: 2 })
    expect(summary.refusals.map((x) => [x.line, x.field, x.reason])).toEqual([
      [2, "data", "field 'data' nests objects and arrays more than 10 levels deep (api.maxDepth)"],
      [3, "data", "field 'data' nests objects and arrays more than 10 levels deep (api.maxDepth)"]
    ])
    const z = await skygge(["get", "imp", "z", "--config", config, "--json"])
    expect(z.code).toBe(0)
    expect(JSON.parse(z.stdout).data).toEqual(nested(10))
  })

  it("records at most 1000 refusals of one import run one by one and counts the rest", async () => {
    const file = join(dir, "junk.ndjson")
    writeFileSync(file, "junk\n".repeat(2500))
    const r = await skygge(["import", file, "--config", config, "--json"])
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout)).toMatchObject({ lines: 2500, refused: 2500, notRecorded: 1500 })
    const listed = await skygge(["refused", "--config", config, "--json", "--limit", "10000"])
    const mine = listed.stdout.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Refused).filter((x) => x.source.endsWith("junk.ndjson"))
    expect(mine).toHaveLength(1001)
    expect(mine[1000]!.reason).toMatch(/^1500 more refused inputs/)
    // The text summary says which refusals were kept and which only counted.
    const text = await skygge(["import", file, "--config", config])
    expect(text.stdout).toContain("… and 1,500 more counted but not recorded one by one")
  })
})
