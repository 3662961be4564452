/**
 * The as-of API on a real server (127.0.0.1, ephemeral port) over a real
 * SQLite file: the DESIGN.md tables, the MariaDB oracle, errors, streams, auth.
 */
import { Effect } from "effect"
import { ResyncReports } from "../../src/store/ResyncReports.js"
import { MirrorStore } from "../../src/store/Mirror.js"
import { decodeMirrorRow } from "../../src/domain/core/Mirror.js"
import { DATAFORDELER_SHAPE } from "../../src/domain/datafordeler/DatafordelerRows.js"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ndjson, parseNdjson, postNdjson, startServer, type TestServer } from "../support/server.js"

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8")
const oracleDir = new URL("../fixtures/oracle/", import.meta.url) // a copy of ../shared/oracle: CI clones elsewhere

const d = (date: string) => `${date}T00:00:00.000000Z`
const pick = (row: Record<string, unknown>) => [row.registreringFra, row.registreringTil, row.virkningFra, row.virkningTil, row.data]

describe("as-of API", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(() => server.close())

  it("reproduces both DESIGN.md tables row for row, posted as NDJSON and read back", async () => {
    const res = await postNdjson(server.baseUrl, fixture("worked-examples.ndjson"))
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ lines: 4, applied: 4, refused: 0 })

    const xxxx = (await (await fetch(`${server.baseUrl}/v1/objects/vej/xxxx/history`)).json()) as { rows: Array<Record<string, unknown>> }
    expect(xxxx.rows.map(pick)).toEqual([
      [d("2016-09-01"), d("2016-09-07"), d("2016-10-01"), null, { navn: "Grøndahl" }],
      [d("2016-09-07"), null, d("2016-10-01"), null, { navn: "Grøndal" }]
    ])
    const yyyy = (await (await fetch(`${server.baseUrl}/v1/objects/vej/yyyy/history`)).json()) as { rows: Array<Record<string, unknown>> }
    expect(yyyy.rows.map(pick)).toEqual([
      [d("2016-11-01"), d("2017-01-04"), d("2016-12-01"), null, { navn: "Aabakke" }],
      [d("2017-01-04"), null, d("2016-12-01"), d("2017-02-01"), { navn: "Aabakke" }],
      [d("2017-01-04"), null, d("2017-02-01"), null, { navn: "Åbakke" }]
    ])
    for (const row of yyyy.rows) expect(typeof row.storedAt).toBe("string")

    // The analyst's question: on 2017-01-05, what did the register say about 2017-03-01?
    const asOf = await fetch(`${server.baseUrl}/v1/objects/vej/yyyy?registreringstid=2017-01-05&virkningstid=2017-03-01`)
    expect(((await asOf.json()) as { data: unknown }).data).toEqual({ navn: "Åbakke" })
    // Half-open: at exactly registreringTil the closed row is not seen.
    const atClose = await fetch(`${server.baseUrl}/v1/objects/vej/xxxx?registreringstid=2016-09-07&virkningstid=2016-10-01`)
    expect(((await atClose.json()) as { data: unknown }).data).toEqual({ navn: "Grøndal" })
  })

  it("agrees with the MariaDB oracle on all 3,000 points", async () => {
    const res = await postNdjson(server.baseUrl, readFileSync(new URL("ops.ndjson", oracleDir), "utf8"))
    const summary = (await res.json()) as { duplicate: number; refused: number; applied: number }
    expect(summary.duplicate).toBeGreaterThan(0)
    expect(summary.refused).toBeGreaterThan(0) // the stale registrations
    const lines = readFileSync(new URL("expected.tsv", oracleDir), "utf8").split("\n").filter((l) => l.length > 0)
    expect(lines.length).toBe(3000)
    const disagreements: Array<string> = []
    const ask = async (line: string) => {
      const [objectId, r, v, expected] = line.split("\t") as [string, string, string, string]
      const res = await fetch(
        `${server.baseUrl}/v1/objects/thing/${objectId}?registreringstid=${encodeURIComponent(r)}&virkningstid=${encodeURIComponent(v)}`
      )
      const actual = res.status === 404 ? "<none>" : JSON.stringify(((await res.json()) as { data: unknown }).data)
      const want = expected === "<none>" ? "<none>" : JSON.stringify(JSON.parse(expected))
      if (actual !== want) disagreements.push(`${line} → ${actual}`)
    }
    // Eight clients at a time, as analysts' tools would ask (one at a time took half a minute on a loaded machine).
    let next = 0
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < lines.length) await ask(lines[next++]!)
    }))
    expect(disagreements).toEqual([])
  })

  it("answers 404 with a JSON error, and 400 naming a bad parameter", async () => {
    const missing = await fetch(`${server.baseUrl}/v1/objects/vej/nope`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ _tag: "NotFound", message: expect.stringContaining("vej/nope") })

    const bad = await fetch(`${server.baseUrl}/v1/objects/vej/yyyy?virkningstid=2017-02-30`)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toMatch(/^virkningstid: not a valid date/)

    const noHistory = await fetch(`${server.baseUrl}/v1/objects/vej/nope/history`)
    expect(noHistory.status).toBe(404)

    const tooMany = await fetch(`${server.baseUrl}/v1/objects/vej?limit=1000000`)
    expect(tooMany.status).toBe(400)
    const backwards = await fetch(`${server.baseUrl}/v1/changes?since=2020-01-01&until=2019-01-01`)
    expect(backwards.status).toBe(400)
    const noSince = await fetch(`${server.baseUrl}/v1/changes`)
    expect(noSince.status).toBe(400)
  })

  it("pages a snapshot by keyset, and streams it as NDJSON on request", async () => {
    const ops = Array.from({ length: 25 }, (_, i) => ({
      op: "assert",
      objectType: "page",
      objectId: `p${String(i).padStart(2, "0")}`,
      registreringstid: "2020-01-01T00:00:00Z",
      virkningFra: null,
      virkningTil: null,
      data: { i },
      eventId: `page-${i}`
    }))
    expect((await postNdjson(server.baseUrl, ndjson(ops))).status).toBe(200)
    const seen: Array<string> = []
    let after: string | null = ""
    while (after !== null) {
      const url = `${server.baseUrl}/v1/objects/page?limit=10${after ? `&after=${after}` : ""}`
      const page = (await (await fetch(url)).json()) as { rows: Array<{ objectId: string }>; next: string | null }
      seen.push(...page.rows.map((r) => r.objectId))
      after = page.next
    }
    expect(seen).toEqual(ops.map((o) => o.objectId))

    const streamed = await fetch(`${server.baseUrl}/v1/objects/page`, { headers: { accept: "application/x-ndjson" } })
    expect(streamed.headers.get("content-type")).toContain("application/x-ndjson")
    expect(parseNdjson(await streamed.text()).map((r) => r.objectId)).toEqual(seen)

    // As of a registration time before anything was known: empty.
    const before = (await (await fetch(`${server.baseUrl}/v1/objects/page?registreringstid=2019-12-31`)).json()) as { rows: Array<unknown> }
    expect(before.rows).toEqual([])
  })

  it("streams changes in [since, until), each row as it stood at until, the same answer later", async () => {
    const window = `since=2016-09-01&until=2016-09-08&objectType=vej`
    const first = parseNdjson(await (await fetch(`${server.baseUrl}/v1/changes?${window}`)).text())
    expect(first.map((r) => [r.change, r.objectId, r.registreringFra, r.registreringTil])).toEqual([
      ["closed", "xxxx", d("2016-09-01"), d("2016-09-07")],
      ["registered", "xxxx", d("2016-09-07"), null]
    ])
    // A later registration closes the 2016-09-07 row; the window's answer does not change.
    const later = {
      op: "assert", objectType: "vej", objectId: "xxxx", registreringstid: "2018-01-01T00:00:00Z",
      virkningFra: "2016-10-01T00:00:00Z", virkningTil: null, data: { navn: "Grøndal Allé" }, eventId: "dk-later"
    }
    expect((await postNdjson(server.baseUrl, ndjson([later]))).status).toBe(200)
    const again = parseNdjson(await (await fetch(`${server.baseUrl}/v1/changes?${window}`)).text())
    expect(again).toEqual(first)
    // … while a window covering the close shows it.
    const covering = parseNdjson(await (await fetch(`${server.baseUrl}/v1/changes?since=2018-01-01&until=2018-01-02`)).text())
    expect(covering.map((r) => r.change).sort()).toEqual(["closed", "registered"])

    // The same window as a CSV download, by parameter or by Accept.
    const csv = await fetch(`${server.baseUrl}/v1/changes?${window}&format=csv`)
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/)
    expect(csv.headers.get("content-disposition")).toMatch(/^attachment; filename="changes-2016-09-01/)
    const lines = (await csv.text()).split("\r\n").filter((l) => l.length > 0)
    expect(lines[0]!.startsWith("change,changeAt,objectType,objectId,")).toBe(true)
    expect(lines.slice(1).map((l) => l.split(",").slice(0, 4).join(","))).toEqual(first.map((r) => `${r.change},${r.changeAt},vej,xxxx`))
    const byAccept = await fetch(`${server.baseUrl}/v1/objects/vej?registreringstid=2018-06-01&virkningstid=2018-06-01`, { headers: { accept: "text/csv" } })
    const snapshotLines = (await byAccept.text()).split("\r\n").filter((l) => l.length > 0)
    expect(snapshotLines[0]).toBe("objectType,objectId,registreringFra,registreringTil,virkningFra,virkningTil,data,eventId,storedAt")
    expect(snapshotLines.length).toBeGreaterThan(1)
  })

  it("refuses bad lines with a reason naming the field, records them, and still applies the good ones", async () => {
    const good = (id: string) => ({
      op: "assert", objectType: "bad", objectId: id, registreringstid: "2020-01-01T00:00:00Z",
      virkningFra: null, virkningTil: null, data: { ok: true }, eventId: `bad-${id}`
    })
    const body = [
      JSON.stringify(good("a")),
      "{not json",
      JSON.stringify({ ...good("x"), objectId: undefined }),
      JSON.stringify({ ...good("y"), registreringstid: "yesterday" }),
      JSON.stringify({ ...good("z"), virkningFra: "2020-05-01T00:00:00Z", virkningTil: "2020-05-01T00:00:00Z" }),
      JSON.stringify({ ...good("w"), op: "upsert" }),
      JSON.stringify(good("b"))
    ].join("\n")
    const res = await postNdjson(server.baseUrl, body)
    expect(res.status).toBe(422)
    const summary = (await res.json()) as { applied: number; refused: number; refusals: Array<{ line: number; reason: string; field?: string }> }
    expect(summary.applied).toBe(2)
    expect(summary.refused).toBe(5)
    expect(summary.refusals.map((r) => [r.line, r.field])).toEqual([
      [2, undefined],
      [3, "objectId"],
      [4, "registreringstid"],
      [5, "virkningTil"],
      [6, "op"]
    ])
    expect(summary.refusals[0]!.reason).toMatch(/malformed JSON/)
    expect(summary.refusals[1]!.reason).toBe("missing field 'objectId'")
    expect(summary.refusals[3]!.reason).toMatch(/empty validity portion/)
    expect(summary.refusals[4]!.reason).toMatch(/unknown op "upsert"/)
    for (const id of ["a", "b"]) expect((await fetch(`${server.baseUrl}/v1/objects/bad/${id}`)).status).toBe(200)

    const recorded = (await (await fetch(`${server.baseUrl}/v1/refused?limit=1000`)).json()) as { refused: Array<{ source: string; line: number; reason: string; input: string }> }
    const mine = recorded.refused.filter((r) => r.source === "http" && r.line >= 2 && r.line <= 6 && r.reason === summary.refusals[r.line - 2]!.reason)
    expect(mine).toHaveLength(5)
    expect(mine[0]!.input).toBe("{not json")
  })

  it("accepts one JSON object or a JSON array with Content-Type application/json", async () => {
    const op = {
      op: "assert", objectType: "json", objectId: "one", registreringstid: "2020-01-01T00:00:00Z",
      virkningFra: null, virkningTil: null, data: { n: 1 }, eventId: "json-1"
    }
    const post = (body: unknown) =>
      fetch(`${server.baseUrl}/v1/registrations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body, null, 2) })
    expect(await (await post(op)).json()).toMatchObject({ applied: 1 })
    expect(await (await post([op, { ...op, eventId: "json-2", registreringstid: "2020-02-01T00:00:00Z" }])).json()).toMatchObject({
      duplicate: 1,
      unchanged: 1
    })
    const malformed = await fetch(`${server.baseUrl}/v1/registrations`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" })
    expect(malformed.status).toBe(400)
  })

  it("serves health, readiness, Prometheus metrics and the OpenAPI document", async () => {
    expect(await (await fetch(`${server.baseUrl}/health`)).json()).toEqual({ status: "ok" })
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text()
    for (const name of ["skygge_rows ", "skygge_events ", "skygge_refused ", 'skygge_http_request_duration_seconds_bucket{route="objects.get"']) {
      expect(metrics).toContain(name)
    }
    expect(Number(/^skygge_rows (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0)
    expect(metrics).not.toContain("xxxx") // no object ids in labels
    const spec = (await (await fetch(`${server.baseUrl}/docs/openapi.json`)).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(["/v1/objects/{objectType}/{objectId}", "/v1/objects/{objectType}/{objectId}/history", "/v1/objects/{objectType}", "/v1/changes", "/v1/registrations"])
    )
    expect((await fetch(`${server.baseUrl}/docs`)).status).toBe(200)
  })

  it("lists the mirror's anomalies, pages them, filters by type, and counts them in /metrics", async () => {
    const row = (navn: string) => {
      const r = decodeMirrorRow({ id_lokalId: "v9", registreringFra: "2020-01-01T00:00:00Z", virkningFra: "2020-01-01T00:00:00Z", navn }, DATAFORDELER_SHAPE, "UTC")
      if ("reason" in r) throw new Error(r.reason)
      return r
    }
    const item = (navn: string) => ({ objectType: "dar.vej", objectId: "v9", rows: [row(navn)], complete: true, identity: [], checkOverlaps: true })
    await server.run(Effect.flatMap(MirrorStore, (m) => Effect.all([m.mirror("http-test", "e1", [item("A")]), m.mirror("http-test", "e2", [item("B")]), m.mirror("http-test", "e3", [item("C")])])))
    const first = (await (await fetch(`${server.baseUrl}/v1/anomalies?limit=1`)).json()) as { anomalies: Array<{ kind: string; objectId: string }>; next: number }
    expect(first.anomalies).toMatchObject([{ kind: "rewrite", objectId: "v9" }])
    const rest = (await (await fetch(`${server.baseUrl}/v1/anomalies?after=${first.next}&objectType=dar.vej`)).json()) as { anomalies: Array<unknown>; next: number | null }
    expect(rest.anomalies).toHaveLength(1)
    expect(rest.next).toBeNull()
    expect(await (await fetch(`${server.baseUrl}/metrics`)).text()).toMatch(/^skygge_anomalies 2$/m)
    expect((await fetch(`${server.baseUrl}/v1/anomalies?after=x`)).status).toBe(400)
  })

  it("lists resync reports newest first, filtered by source, with a bounded limit", async () => {
    const base = { resource: "personer", objectType: "fs.person", startedAt: d("2026-01-01"), finishedAt: d("2026-01-01"), dryRun: false, checked: 3, missing: 1, changed: 1, extra: 0, repaired: 2, revived: 0, error: null }
    await server.run(Effect.flatMap(ResyncReports, (r) => Effect.all([r.record({ ...base, source: "a" }), r.record({ ...base, source: "b" }), r.record({ ...base, source: "a", dryRun: true })])))
    const all = (await (await fetch(`${server.baseUrl}/v1/resync-reports`)).json()) as { reports: Array<{ source: string; dryRun: boolean }> }
    expect(all.reports.map((r) => [r.source, r.dryRun])).toEqual([["a", true], ["b", false], ["a", false]])
    const onlyA = (await (await fetch(`${server.baseUrl}/v1/resync-reports?source=a&limit=1`)).json()) as { reports: Array<{ source: string }> }
    expect(onlyA.reports).toHaveLength(1)
    expect((await fetch(`${server.baseUrl}/v1/resync-reports?limit=999999`)).status).toBe(400)
  })
})

describe("limits", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ api: { maxBodyBytes: 2000, maxLineBytes: 400 } })
  })
  afterAll(() => server.close())

  const op = (i: number, pad = 0) =>
    JSON.stringify({
      op: "assert", objectType: "lim", objectId: `l${i}`, registreringstid: "2020-01-01T00:00:00Z",
      virkningFra: null, virkningTil: null, data: { pad: "x".repeat(pad) }, eventId: `lim-${i}`
    })

  it("refuses an over-long line and applies the lines around it", async () => {
    const res = await postNdjson(server.baseUrl, [op(1), op(2, 1000), op(3)].join("\n"))
    expect(res.status).toBe(422)
    const summary = (await res.json()) as { applied: number; refusals: Array<{ line: number; reason: string }> }
    expect(summary.applied).toBe(2)
    expect(summary.refusals).toEqual([{ line: 2, reason: expect.stringMatching(/line 2 is \d+ bytes, over the limit/) }])
  })

  it("refuses a body whose Content-Length is over the limit with 413, reading nothing", async () => {
    const lines = Array.from({ length: 30 }, (_, i) => op(100 + i))
    const res = await postNdjson(server.baseUrl, lines.join("\n"))
    expect(res.status).toBe(413)
    // The rest of the body is not read: the connection is not kept for another request.
    expect(res.headers.get("connection")).toBe("close")
    const summary = (await res.json()) as { applied: number; refusals: Array<{ reason: string }> }
    expect(summary.applied).toBe(0)
    expect(summary.refusals[0]!.reason).toMatch(/over api.maxBodyBytes/)
    expect((await fetch(`${server.baseUrl}/v1/objects/lim/l100`)).status).toBe(404)
  })

  it("stops a streamed (chunked) body at the limit with 413, keeping the operations before it", async () => {
    const lines = Array.from({ length: 30 }, (_, i) => op(200 + i) + "\n")
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const line of lines) controller.enqueue(new TextEncoder().encode(line))
        controller.close()
      }
    })
    const res = await fetch(`${server.baseUrl}/v1/registrations`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body,
      duplex: "half"
    } as RequestInit)
    expect(res.status).toBe(413)
    expect(res.headers.get("connection")).toBe("close")
    const summary = (await res.json()) as { applied: number; refusals: Array<{ reason: string }> }
    expect(summary.applied).toBeGreaterThan(5)
    expect(summary.applied).toBeLessThan(30)
    expect(summary.refusals.at(-1)!.reason).toMatch(/over api.maxBodyBytes/)
    // Exactly the operations before the cut were applied, none half-read.
    for (let i = 0; i < 30; i++) {
      const status = (await fetch(`${server.baseUrl}/v1/objects/lim/l${200 + i}`)).status
      expect(status).toBe(i < summary.applied ? 200 : 404)
    }
  })
})

describe("bearer tokens", () => {
  let server: TestServer
  const hashed = "reader-two"
  beforeAll(async () => {
    server = await startServer({
      api: { readTokens: ["reader-one", `sha256:${createHash("sha256").update(hashed).digest("hex")}`], writeTokens: ["writer"] }
    })
  })
  afterAll(() => server.close())

  const get = (token?: string) =>
    fetch(`${server.baseUrl}/v1/objects/vej?limit=1`, token ? { headers: { authorization: `Bearer ${token}` } } : {})
  const post = (token?: string) =>
    postNdjson(
      server.baseUrl,
      JSON.stringify({ op: "retract", objectType: "t", objectId: "1", registreringstid: "2020-01-01T00:00:00Z", virkningFra: null, virkningTil: null, eventId: `tok-${token}` }),
      token ? { authorization: `Bearer ${token}` } : {}
    )

  it("separates read and write scopes", async () => {
    expect((await get()).status).toBe(401)
    expect((await get("wrong")).status).toBe(401)
    expect((await get("reader-one")).status).toBe(200)
    expect((await get(hashed)).status).toBe(200)
    expect((await get("writer")).status).toBe(200)
    expect((await post()).status).toBe(401)
    expect((await post("reader-one")).status).toBe(403)
    expect((await post("writer")).status).toBe(200)
    // Health and metrics stay open for probes and scrapers.
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200)
  })
})
