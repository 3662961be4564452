/**
 * The real `skygge` command, run as a child process the way scripts run it:
 * exit codes, stdout/stderr, configuration from file and environment, and a
 * `run` that serves and stops cleanly on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/net.js"
import { bin, CLI_BUDGET_MS, skygge } from "./skygge.js"

const fixture = fileURLToPath(new URL("../fixtures/worked-examples.ndjson", import.meta.url))

describe("skygge command", () => {
  let dir: string
  let env: Record<string, string>
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skygge-cli-"))
    env = { SKYGGE_STORE_URL: `sqlite:${join(dir, "cli.db")}` }
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("lists its commands in --help", async () => {
    const r = await skygge(["--help"])
    expect(r.code).toBe(0)
    for (const command of ["run", "import", "get", "history", "snapshot", "changes", "refused"]) expect(r.stdout).toContain(command)
  })

  it("imports the DESIGN tables and answers get, history, snapshot and changes from the store", async () => {
    const imported = await skygge(["import", fixture, "--json"], env)
    expect(imported.code).toBe(0)
    expect(JSON.parse(imported.stdout)).toMatchObject({ lines: 4, applied: 4, refused: 0 })

    const again = await skygge(["import", fixture], env)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain("4 operations: 0 applied, 0 unchanged, 4 duplicate, 0 refused")

    const get = await skygge(["get", "vej", "yyyy", "--registreringstid", "2017-01-05", "--virkningstid", "2017-03-01", "--json"], env)
    expect(get.code).toBe(0)
    expect(JSON.parse(get.stdout)).toMatchObject({ data: { navn: "Åbakke" }, registreringFra: "2017-01-04T00:00:00.000000Z", virkningTil: null })

    const before = await skygge(["get", "vej", "yyyy", "--registreringstid", "2017-01-03", "--virkningstid", "2017-03-01"], env)
    expect(before.code).toBe(0)
    expect(before.stdout).toMatch(/data\s+\{"navn":"Aabakke"\}/)

    const history = await skygge(["history", "vej", "yyyy"], env)
    expect(history.code).toBe(0)
    const lines = history.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^registreringFra\s+registreringTil\s+virkningFra\s+virkningTil\s+data$/)
    expect(lines).toHaveLength(4)

    const snapshot = await skygge(["snapshot", "vej", "--json"], env)
    expect(snapshot.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { objectId: string }).objectId)).toEqual(["xxxx", "yyyy"])

    const changes = await skygge(["changes", "--since", "2017-01-01", "--until", "2017-02-01", "--json"], env)
    const rows = changes.stdout.trim().split("\n").map((l) => JSON.parse(l) as { change: string })
    expect(rows.map((r) => r.change)).toEqual(["closed", "registered", "registered"])

    // The deltafile a downstream still wants: CSV into a file that appears only when complete.
    const file = join(dir, "delta.csv")
    const csv = await skygge(["changes", "--since", "2017-01-01", "--until", "2017-02-01", "--format", "csv", "--output", file], env)
    expect(csv.code).toBe(0)
    expect(csv.stdout).toBe("")
    expect(existsSync(`${file}.partial`)).toBe(false)
    const csvLines = readFileSync(file, "utf8").split("\r\n")
    expect(csvLines[0]).toBe("change,changeAt,objectType,objectId,registreringFra,registreringTil,virkningFra,virkningTil,data,eventId,storedAt")
    expect(csvLines.slice(1, -1).map((l) => l.split(",")[0])).toEqual(["closed", "registered", "registered"])
    expect(csvLines[csvLines.length - 1]).toBe("")
    const snapshotCsv = await skygge(["snapshot", "vej", "--registreringstid", "2017-01-05", "--virkningstid", "2017-03-01", "--format", "csv"], env)
    expect(snapshotCsv.stdout).toContain(`vej,yyyy,2017-01-04T00:00:00.000000Z,,2017-02-01T00:00:00.000000Z,,"{""navn"":""Åbakke""}"`)
  }, CLI_BUDGET_MS) // a dozen processes one after another

  it("loads a CSV dump with import-extract, reporting records, outcomes and refusals", async () => {
    const file = join(dir, "ansatte.csv")
    writeFileSync(file, 'ansattnummer,navn\r\n1,"Nordmann, Ola"\r\n2,Kari\r\n,no id\r\n')
    const own = { SKYGGE_STORE_URL: `sqlite:${join(dir, "extract.db")}` } // its refusal must not show in other tests' lists
    const r = await skygge(["import-extract", file, "--type", "hr.ansatt", "--id-field", "ansattnummer", "--registreringstid", "2026-01-01", "--json"], own)
    expect(r.code).toBe(2) // done, one record refused
    expect(JSON.parse(r.stdout)).toMatchObject({ records: 3, applied: 2, refused: 1, retracted: 0 })
    const got = await skygge(["get", "hr.ansatt", "1", "--json"], own)
    expect(JSON.parse(got.stdout)).toMatchObject({ data: { ansattnummer: "1", navn: "Nordmann, Ola" }, registreringFra: "2026-01-01T00:00:00.000000Z" })
  })

  it("exits 3 when an object is not found, and 1 with a one-line message on bad input", async () => {
    const missing = await skygge(["get", "vej", "nope"], env)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain("no row of vej/nope")
    const badTime = await skygge(["get", "vej", "yyyy", "--virkningstid", "2017-02-30"], env)
    expect(badTime.code).toBe(1)
    expect(badTime.stderr.trim()).toBe("skygge: --virkningstid: not a valid date and time: '2017-02-30'")
    const noFile = await skygge(["import", join(dir, "absent.ndjson")], env)
    expect(noFile.code).toBe(1)
    expect(noFile.stderr).toContain("ENOENT")
  })

  it("exits 2 when lines were refused, lists them, and keeps the good ones", async () => {
    const file = join(dir, "mixed.ndjson")
    writeFileSync(
      file,
      [
        '{"op":"assert","objectType":"m","objectId":"1","registreringstid":"2020-01-01T00:00:00Z","virkningFra":null,"virkningTil":null,"data":{"a":1},"eventId":"m1"}',
        '{"op":"assert","objectType":"m","objectId":"2","registreringstid":"2020-01-01T00:00:00Z","virkningFra":null,"data":{"a":1},"eventId":"m2"}',
        '{"op":"assert","objectType":"m","objectId":"1","registreringstid":"2019-01-01T00:00:00Z","virkningFra":null,"virkningTil":null,"data":{"a":2},"eventId":"m3"}'
      ].join("\n")
    )
    const r = await skygge(["import", file], env)
    expect(r.code).toBe(2)
    expect(r.stdout).toContain("1 applied")
    expect(r.stdout).toContain("line 2: missing field 'virkningTil' (use null for an open end)")
    expect(r.stdout).toMatch(/line 3: stale registration/)
    const refused = await skygge(["refused", "--json"], env)
    const records = refused.stdout.trim().split("\n").map((l) => JSON.parse(l) as { line: number; source: string; field: string | null })
    expect(records.map((x) => [x.line, x.field])).toEqual([
      [2, "virkningTil"],
      [3, null]
    ])
    expect(records[0]!.source).toBe(`import:${file}`)
  })

  it("reads --config, refuses unknown keys by name, and lets SKYGGE_* override the file", async () => {
    const config = join(dir, "typo.json")
    writeFileSync(config, JSON.stringify({ api: { prot: 9 } }))
    const typo = await skygge(["snapshot", "vej", "--config", config])
    expect(typo.code).toBe(1)
    expect(typo.stderr).toContain("unknown key 'api.prot'")

    const other = join(dir, "other.json")
    writeFileSync(other, JSON.stringify({ store: { url: `sqlite:${join(dir, "other.db")}` } }))
    // The file's store.url is the one read; reading does not create a store.
    const fromFile = await skygge(["snapshot", "vej", "--json", "--config", other])
    expect(fromFile.code).toBe(1)
    expect(fromFile.stderr.trim()).toBe(`skygge: no store at ${join(dir, "other.db")}: check store.url, or create it with skygge run or skygge import`)
    expect(existsSync(join(dir, "other.db"))).toBe(false)
    const overridden = await skygge(["snapshot", "vej", "--json"], { ...env, SKYGGE_CONFIG: other })
    expect(overridden.stdout.trim().split("\n")).toHaveLength(2) // env store.url wins over the file

    const badPort = await skygge(["run"], { ...env, SKYGGE_API_PORT: "not-a-port" })
    expect(badPort.code).toBe(1)
    expect(badPort.stderr).toMatch(/^skygge: configuration: .*port/i)
  })

  it("runs a demo against the built-in register simulator: addresses flow in with no account, and it stops on SIGTERM", async () => {
    const port = await freePort()
    const db = join(dir, "demo", "demo.db")
    const child: ChildProcess = spawn(process.execPath, [bin, "demo", "--interval-ms", "200", "--db", db], { env: { ...process.env, SKYGGE_API_PORT: String(port) } })
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
    try {
      let rows: Array<unknown> = []
      for (let i = 0; i < 150 && rows.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 200))
        const res = await fetch(`http://127.0.0.1:${port}/v1/objects/dar.adresse?limit=5`).catch(() => undefined)
        if (res?.status === 200) rows = ((await res.json()) as { rows: Array<unknown> }).rows
      }
      expect(rows.length).toBeGreaterThan(0)
      expect(rows[0]).toMatchObject({ objectType: "dar.adresse", registreringTil: null })
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
  })

  it("runs the engine on SKYGGE_STORE_URL and SKYGGE_API_PORT, serves, and stops cleanly on SIGTERM", async () => {
    const port = await freePort()
    const db = join(dir, "run", "engine.db")
    const child: ChildProcess = spawn(process.execPath, [bin, "run"], {
      env: { ...process.env, SKYGGE_STORE_URL: `sqlite:${db}`, SKYGGE_API_PORT: String(port) }
    })
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
    try {
      let health: Response | undefined
      for (let i = 0; i < 100 && health === undefined; i++) {
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)
        if (health === undefined) await new Promise((r) => setTimeout(r, 100))
      }
      expect(health?.status).toBe(200)
      const post = await fetch(`http://127.0.0.1:${port}/v1/registrations`, {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body: readFileSync(fixture)
      })
      expect(post.status).toBe(200)
      expect(existsSync(db)).toBe(true)
      // The as-of question and a history, as an analyst's client asks them (on SQLite the fast path answers them, test/api/fastPath.test.ts).
      const asOf = await fetch(`http://127.0.0.1:${port}/v1/objects/vej/yyyy?registreringstid=2017-01-05&virkningstid=2017-03-01`)
      expect(asOf.status).toBe(200)
      expect(((await asOf.json()) as { data: unknown }).data).toEqual({ navn: "Åbakke" })
      const history = (await (await fetch(`http://127.0.0.1:${port}/v1/objects/vej/xxxx/history`)).json()) as { rows: Array<{ data: unknown }> }
      expect(history.rows.map((r) => r.data)).toEqual([{ navn: "Grøndahl" }, { navn: "Grøndal" }])
      expect((await fetch(`http://127.0.0.1:${port}/v1/objects/vej/nope`)).status).toBe(404)
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/skygge_http_requests_total\{route="objects.get",status="200"\} 1\b/)
      // limit=0 and a limit over api.maxPageSize are refused over HTTP, as --limit is by the CLI (test/cli/output.test.ts).
      expect((await fetch(`http://127.0.0.1:${port}/v1/refused?limit=0`)).status).toBe(400)
      const over = await fetch(`http://127.0.0.1:${port}/v1/refused?limit=10001`)
      expect(over.status).toBe(400)
      expect(await over.text()).toContain("limit must be a whole number between 1 and 10000")
      // The API's documentation page, whose Swagger UI script the bundle reads from dist/ only when the page is made.
      const docs = await fetch(`http://127.0.0.1:${port}/docs`)
      const page = await docs.text()
      expect(docs.status).toBe(200)
      expect(page).toContain("window.ui = SwaggerUIBundle(")
      expect(page).toMatch(/<script>\s*\/\*! For license information please see swagger-ui-bundle\.js/)
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
    expect(stderr).toContain("skygge stopped")
    // What the engine committed is there for the next process.
    const history = await skygge(["history", "vej", "xxxx", "--json"], { SKYGGE_STORE_URL: `sqlite:${db}` })
    expect((JSON.parse(history.stdout) as { rows: Array<unknown> }).rows).toHaveLength(2)
  })
})
