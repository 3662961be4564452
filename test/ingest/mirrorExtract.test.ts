/**
 * A Datafordeler-style file download (a zip of JSON entity lists) through the
 * mirror path, built from real DAR histories renamed to Datafordeler's field
 * names: the store ends equal to the file row for row; loading it again
 * changes nothing; a daily delta applies its closes; bad rows are refused by
 * name while the rest applies. Also through the real `skygge import-extract --mirror`.
 */
import { Effect } from "effect"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { createServer } from "node:http"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { instant } from "../../src/domain/core/Instant.js"
import { DATAFORDELER_SHAPE } from "../../src/domain/datafordeler/DatafordelerRows.js"
import { ingestMirrorExtract } from "../../src/ingest/MirrorExtract.js"
import { tempStore } from "../support/engine.js"
import { CLI_BUDGET_MS } from "../cli/skygge.js"

const dawa = (name: string) =>
  readFileSync(new URL(`../fixtures/datafordeler/${name}`, import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const { id, registreringfra, registreringtil, virkningfra, virkningtil, eventopdater: _drop, ...rest } = JSON.parse(l) as Record<string, unknown>
      // Datafordeler's names; current rows omit their open ends, as the REST and file services do.
      return {
        id_lokalId: id,
        registreringFra: registreringfra,
        ...(registreringtil === null ? {} : { registreringTil: registreringtil }),
        virkningFra: virkningfra,
        ...(virkningtil === null ? {} : { virkningTil: virkningtil }),
        ...rest
      }
    })

const zip = (file: string, doc: unknown) => {
  const script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z: z.writestr('DAR_Totaludtraek_1.json', sys.stdin.read())"
  execFileSync("python3", ["-c", script, file], { input: JSON.stringify(doc) })
}

describe("register file extracts through the mirror path", () => {
  const t = tempStore("skygge-mirror-extract-")
  const load = (file: string) =>
    Effect.runPromise(
      ingestMirrorExtract(file, { objectType: "dar", shape: DATAFORDELER_SHAPE, timeZone: "Europe/Copenhagen", source: "test", batchSize: 7, maxRecordBytes: 1 << 20 }).pipe(
        Effect.provide(t.engine.context)
      )
    )

  it("a total extract loads row for row, loads again as unchanged, and a delta applies its closes", async () => {
    const adresser = dawa("Adresse_multirow_subset.ndjson")
    const postnumre = dawa("Postnummer.ndjson")
    // The weekly total as of before the closes: closed rows still open, rows registered later absent.
    const cut = "2018-06-01T00:00:00Z"
    const asOf = (rows: Array<Record<string, unknown>>) =>
      rows
        .filter((r) => String(r.registreringFra) <= cut)
        .map(({ registreringTil, ...r }) => (registreringTil !== undefined && String(registreringTil) > cut ? r : { ...r, ...(registreringTil === undefined ? {} : { registreringTil }) }))
    const total = join(t.dir, "total.zip")
    zip(total, { AdresseList: asOf(adresser), PostnummerList: [...asOf(postnumre), { navn: "uden id", registreringFra: "2018-01-01T00:00:00Z" }], Metadata: { note: "skipped" } })
    const first = await load(total)
    expect(first).toMatchObject({ inserted: asOf(adresser).length + asOf(postnumre).length, closed: 0, refused: 1, anomalies: 0 })
    expect(first.refusals[0]!.reason).toMatch(/^PostnummerList\[\d+\]: row without an id at 'id_lokalId'/)

    const again = await load(total)
    expect(again).toMatchObject({ inserted: 0, closed: 0, unchanged: first.inserted })

    // The delta since: every row registered or closed after the cut, with its current ends.
    const delta = join(t.dir, "delta.zip")
    const changed = (rows: Array<Record<string, unknown>>) => rows.filter((r) => String(r.registreringFra) > cut || (r.registreringTil !== undefined && String(r.registreringTil) > cut))
    zip(delta, { AdresseList: changed(adresser), PostnummerList: changed(postnumre) })
    const applied = await load(delta)
    expect(applied.closed).toBeGreaterThan(0)
    expect(applied.anomalies).toBe(0)

    const exact = (t: unknown) => (t === undefined ? null : instant(String(t)))
    for (const [type, rows] of [["dar.adresse", adresser], ["dar.postnummer", postnumre]] as const) {
      for (const id of new Set(rows.map((r) => String(r.id_lokalId)))) {
        const stored = Effect.runSync(t.engine.store.history(type, id)).map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil])).sort()
        const want = rows.filter((r) => r.id_lokalId === id).map((r) => JSON.stringify([exact(r.registreringFra), exact(r.registreringTil), exact(r.virkningFra), exact(r.virkningTil)])).sort()
        expect(stored).toEqual(want)
      }
    }
  })

  it("runs as skygge import-extract --mirror on a zip", () => {
    const file = join(t.dir, "cli.zip")
    zip(file, { PostnummerList: dawa("Postnummer.ndjson") })
    const bin = fileURLToPath(new URL("../../bin/skygge.js", import.meta.url))
    const r = spawnSync(process.execPath, [bin, "import-extract", file, "--mirror", "--type", "dar", "--json"], {
      env: { ...process.env, SKYGGE_STORE_URL: `sqlite:${join(t.dir, "cli.db")}` },
      encoding: "utf8"
    })
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ rows: 60, inserted: 60, refused: 0 })
  })

  it("reads a download that is a zip by its content, not its name (Datafordeler's GetFile sends no file name), and refuses one that is neither zip nor JSON by name", async () => {
    const file = join(t.dir, "unnamed.zip")
    zip(file, { PostnummerList: dawa("Postnummer.ndjson") })
    const body = readFileSync(file)
    const server = createServer((req, res) => {
      if (new URL(req.url ?? "/", "http://x").pathname === "/FileDownloads/GetFile") return void res.writeHead(200, { "content-type": "application/zip" }).end(body)
      res.writeHead(200, { "content-type": "text/html" }).end("<html>Vedligeholdelse</html>")
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    const bin = fileURLToPath(new URL("../../bin/skygge.js", import.meta.url))
    const run = (url: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [bin, "import-extract", url, "--mirror", "--type", "dar", "--json"], { env: { ...process.env, SKYGGE_STORE_URL: `sqlite:${join(t.dir, "getfile.db")}` } })
        let stdout = "", stderr = ""
        p.stdout.on("data", (d) => (stdout += String(d)))
        p.stderr.on("data", (d) => (stderr += String(d)))
        p.on("close", (code) => resolve({ code, stdout, stderr }))
      })
    try {
      const ok = await run(`${base}/FileDownloads/GetFile?Register=DAR&type=current&format=JSON`)
      expect(ok.code, ok.stderr).toBe(0)
      expect(JSON.parse(ok.stdout)).toMatchObject({ rows: 60, inserted: 60, refused: 0 })
      const html = await run(`${base}/maintenance`)
      expect(html.code).toBe(1)
      expect(html.stderr).toContain('maintenance: not a JSON array or object: it starts with "<"')
    } finally {
      server.close()
    }
  })

  it("downloads the extract from a download service first (following its redirect, the API key never shown)", async () => {
    const file = join(t.dir, "served.zip")
    zip(file, { PostnummerList: dawa("Postnummer.ndjson") })
    const body = readFileSync(file)
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x")
      if (url.pathname === "/FileDownloads/GetFile") {
        if (url.searchParams.get("apiKey") !== "s3cret-key") return void res.writeHead(401).end("no")
        return void res.writeHead(302, { location: "/blob/DAR_Totaludtraek.zip" }).end()
      }
      res.writeHead(200, { "content-type": "application/zip", "content-disposition": 'attachment; filename="DAR_Totaludtraek.zip"' }).end(body)
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/FileDownloads/GetFile?Register=DAR&type=current&format=JSON`
    const bin = fileURLToPath(new URL("../../bin/skygge.js", import.meta.url))
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [bin, "import-extract", url, "--mirror", "--type", "dar", "--api-key-env", "DAF_KEY", "--json"], {
          env: { ...process.env, SKYGGE_STORE_URL: `sqlite:${join(t.dir, "download.db")}`, ...env }
        })
        let stdout = "", stderr = ""
        p.stdout.on("data", (d) => (stdout += String(d)))
        p.stderr.on("data", (d) => (stderr += String(d)))
        p.on("close", (code) => resolve({ code, stdout, stderr }))
      })
    try {
      const ok = await run({ DAF_KEY: "s3cret-key" })
      expect(ok.code, ok.stderr).toBe(0)
      expect(JSON.parse(ok.stdout)).toMatchObject({ rows: 60, inserted: 60 })
      const denied = await run({ DAF_KEY: "wrong-key" })
      expect(denied.code).toBe(1)
      expect(denied.stderr).toContain(`HTTP 401 from http://127.0.0.1:${(server.address() as { port: number }).port}/FileDownloads/GetFile`)
      expect(denied.stderr).not.toContain("wrong-key")
      const unset = await run({ DAF_KEY: "" })
      expect(unset.stderr).toContain("environment variable DAF_KEY is not set")
    } finally {
      server.close()
    }
  }, CLI_BUDGET_MS)
})
