/**
 * Minimisation and retention through the real doors (issue 18): `skygge run --config FILE` following the FS
 * simulator (RabbitMQ + REST) and the Datafordeler register simulator (PULL + REST) with a dropped field — it is
 * in no API answer and nowhere in the SQLite file's bytes; `skygge import-extract` (plain and --mirror) applying the
 * configured fields or --keep/--drop; `skygge minimise` rewriting what was stored before the setting; `skygge prune`
 * pruning closed registrations with every as-of answer inside the window unchanged — the store commands on SQLite
 * and PostgreSQL.
 */
import { type ChildProcess } from "node:child_process"
import { once } from "node:events"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { type Instant, parseInstant } from "../../src/domain/core/Instant.js"
import { fsPerson, startFsSimulator } from "../../src/sources/intark/simulator/FsSimulator.js"
import { startDafSimulator } from "../../src/sources/datafordeler/simulator/DafSimulator.js"
import { CLI_BUDGET_MS, skygge } from "../cli/skygge.js"
import { brokerNames, declareDeadLetter, fsSourceConfig, stopSkyggeRun, waitForConsumer } from "../support/intark.js"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { connectRabbit, RABBIT_URL } from "../support/rabbit.js"
import { TEST_BACKENDS, testStores } from "../support/testStores.js"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const newStore = testStores()

/** Every byte of a SQLite store (its WAL too): where a value would be if any table held it. */
const storeBytes = (dbFile: string) => [dbFile, `${dbFile}-wal`].filter(existsSync).map((f) => readFileSync(f).toString("latin1") + readFileSync(f).toString("utf8")).join("\n")

const getJson = async (url: string): Promise<{ status: number; body: unknown }> => {
  const res = await fetch(url)
  return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() }
}

describe("minimisation and retention through the real doors", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c()
    cleanups.length = 0
  })

  it("skygge run with an IntArk source: dropped fields never reach the store (API, CLI, the file's bytes)", async () => {
    await (await connectRabbit()).close() // fails, never skips, with how to start the broker
    const dir = mkdtempSync(join(tmpdir(), "skygge-min-intark-"))
    const names = brokerNames()
    await declareDeadLetter(names)
    const sim = await startFsSimulator({ amqpUrl: RABBIT_URL, exchange: names.exchange, seed: 3, faults: {} })
    const dbFile = join(dir, "skygge.db")
    const configFile = join(dir, "skygge.json")
    const apiPort = await freePort()
    const config = fsSourceConfig(names, sim, RABBIT_URL, {
      resources: {
        personer: { objectType: "fs.person", fields: { drop: ["epost", "brukernavn", "kommuner.fylke"] } },
        personroller: { objectType: "fs.personrolle", validFrom: "periode.fraDato", validTo: "periode.tilDato", fields: { keep: ["rolle", "rollenummer"] } }
      }
    })
    writeFileSync(configFile, JSON.stringify({ store: { url: `sqlite:${dbFile}` }, api: { port: apiPort }, log: { level: "Error" }, sources: [config] }))
    let child: ChildProcess | undefined
    cleanups.push(stopSkyggeRun(() => child, sim, names, dir))
    child = startSkygge(configFile)
    await waitForConsumer(names.queue)
    const origin = new URL(sim.baseUrl).origin
    const ids = Array.from({ length: 12 }, (_, i) => String(900 + i))
    const persons = new Map(ids.map((id) => [id, fsPerson(origin, id, 1)]))
    for (const [id, person] of persons) await sim.upsert("personer", id, person)
    await sim.upsert("personroller", "900,1", { href: `${origin}/personroller/900,1`, person: { personlopenummer: 900 }, rollenummer: 1, rolle: { href: `${origin}/roller/SENSOR` }, periode: { fraDato: "2024-01-01" }, hemmelig: "role-secret-value" })
    await sim.flush()

    const deadline = Date.now() + 60_000
    const stored = new Map<string, Record<string, unknown>>()
    while (stored.size < ids.length && Date.now() < deadline) {
      for (const id of ids) {
        if (stored.has(id)) continue
        const r = await getJson(`http://127.0.0.1:${apiPort}/v1/objects/fs.person/${id}`)
        if (r.status === 200) stored.set(id, (r.body as { data: Record<string, unknown> }).data)
      }
      await sleep(200)
    }
    expect(stored.size).toBe(ids.length)
    for (const [id, data] of stored) {
      const { epost: _e, brukernavn: _b, kommuner, ...kept } = persons.get(id)!
      expect(data).toEqual({ ...kept, kommuner: kommuner.map(({ fylke: _f, ...k }) => k) })
    }
    let role: { status: number; body: unknown } = { status: 0, body: null }
    while (role.status !== 200 && Date.now() < deadline) {
      role = await getJson(`http://127.0.0.1:${apiPort}/v1/objects/fs.personrolle/900,1?virkningstid=2025-01-01`)
      if (role.status !== 200) await sleep(200)
    }
    // Validity read from the whole state; only the kept fields stored.
    expect(role.body).toMatchObject({ virkningFra: "2023-12-31T23:00:00.000000Z" /* 2024-01-01 in Europe/Oslo */, data: { rolle: { href: `${origin}/roller/SENSOR` }, rollenummer: 1 } })
    expect(Object.keys((role.body as { data: object }).data).sort()).toEqual(["rolle", "rollenummer"])

    child.kill("SIGTERM")
    expect(((await once(child, "exit")) as [number | null])[0]).toBe(0)
    const cli = await skygge(["history", "fs.person", "900", "--json", "--config", configFile])
    expect(cli.code, cli.stderr).toBe(0)
    expect(cli.stdout).not.toContain("@example.org")
    // Not in any table, any page, the WAL: the values never reached the store.
    const bytes = storeBytes(dbFile)
    for (const person of persons.values()) {
      expect(bytes).not.toContain(person.epost.adresse)
      expect(bytes).not.toContain(`"${person.brukernavn}"`)
    }
    expect(bytes).not.toContain("role-secret-value")
    expect(bytes).not.toContain('"fylke"')
    // Everything was stored minimised already: nothing to rewrite.
    const again = await skygge(["minimise", "--config", configFile])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/fs\.person: 0 of \d+ rows rewritten/)
  }, CLI_BUDGET_MS)

  it("skygge run following a Datafordeler register by PULL: a dropped field is in no mirrored row, and no row is an anomaly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-min-daf-"))
    const sim = await startDafSimulator({ seed: 8, faults: { restLagMs: 200, commitDelayMs: 200 } })
    const dbFile = join(dir, "skygge.db")
    const configFile = join(dir, "skygge.json")
    const apiPort = await freePort()
    writeFileSync(
      configFile,
      JSON.stringify({
        store: { url: `sqlite:${dbFile}` },
        api: { port: apiPort },
        log: { level: "Error" },
        sources: [
          {
            kind: "datafordeler",
            name: "dar",
            pull: { url: sim.baseUrl, lagSeconds: 0.2, overlapSeconds: 1, pollSeconds: 0.1, maxAttempts: 6, maxBackoffSeconds: 0.3 },
            entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}`, fields: { drop: ["adressebetegnelse"] } } }
          }
        ]
      })
    )
    let child: ChildProcess | undefined
    cleanups.push(async () => {
      await killIfRunning(child)
      await sim.close()
      rmSync(dir, { recursive: true, force: true })
    })
    child = startSkygge(configFile)
    // Started once the PULL path has its first cursor.
    const startDeadline = Date.now() + 30_000
    for (;;) {
      const r = await getJson(`http://127.0.0.1:${apiPort}/v1/sources`).catch(() => ({ status: 0, body: null }))
      if ((r.status === 200 && JSON.stringify(r.body).includes('"source":"dar"')) || Date.now() > startDeadline) break
      await sleep(200)
    }
    for (let round = 0; round < 8; round++) {
      sim.randomChanges(4)
      await sleep(100)
    }
    // Converged: each object's rows as the register has them, without the dropped field.
    const want = (id: string) =>
      sim.rows(id).map((r) => {
        const { adressebetegnelse: _, ...data } = r.data
        return JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, data])
      }).sort()
    const got = async (id: string) => {
      const r = await getJson(`http://127.0.0.1:${apiPort}/v1/objects/dar.adresse/${id}/history`)
      return r.status !== 200 ? [] : (r.body as { rows: Array<{ registreringFra: string; registreringTil: string | null; virkningFra: string | null; virkningTil: string | null; data: unknown }> }).rows.map((x) => JSON.stringify([x.registreringFra, x.registreringTil, x.virkningFra, x.virkningTil, x.data])).sort()
    }
    const deadline = Date.now() + 40_000
    let behind = sim.ids()
    while (behind.length > 0 && Date.now() < deadline) {
      const still: Array<string> = []
      for (const id of behind) if (JSON.stringify(await got(id)) !== JSON.stringify(want(id))) still.push(id)
      behind = still
      if (behind.length > 0) await sleep(300)
    }
    expect(behind).toEqual([])
    expect(sim.ids().length).toBeGreaterThan(3)
    const anomalies = await getJson(`http://127.0.0.1:${apiPort}/v1/anomalies`)
    expect(anomalies.body).toEqual({ anomalies: [], next: null })
    child.kill("SIGTERM")
    expect(((await once(child, "exit")) as [number | null])[0]).toBe(0)
    const bytes = storeBytes(dbFile)
    const names = new Set(sim.ids().flatMap((id) => sim.rows(id).map((r) => String(r.data.adressebetegnelse))))
    expect(names.size).toBeGreaterThan(0)
    for (const name of names) expect(bytes).not.toContain(name)
    expect(bytes).not.toContain("adressebetegnelse")
  }, CLI_BUDGET_MS)

  it("skygge run prunes on retention.cron as the singleton retention: logged with counts, counted in /metrics", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-retention-run-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const dbFile = join(dir, "skygge.db")
    const configFile = join(dir, "skygge.json")
    const apiPort = await freePort()
    writeFileSync(configFile, JSON.stringify({ store: { url: `sqlite:${dbFile}` }, api: { port: apiPort }, log: { level: "Info", format: "json" }, retention: { closedDays: ["vej=30"], cron: "* * * * * *" } }))
    const op = (r: string, navn: string, eventId: string) => JSON.stringify({ op: "assert", objectType: "vej", objectId: "v1", registreringstid: r, virkningFra: null, virkningTil: null, data: { navn }, eventId })
    const ops = join(dir, "ops.ndjson")
    writeFileSync(ops, [op("2020-01-01T00:00:00Z", "A", "e1"), op("2020-02-01T00:00:00Z", "B", "e2"), op("2020-03-01T00:00:00Z", "C", "e3")].join("\n") + "\n")
    const imported = await skygge(["import", ops, "--config", configFile])
    expect(imported.code, imported.stderr).toBe(0)
    const logs: Array<string> = []
    const child = startSkygge(configFile, { stderr: logs })
    cleanups.push(() => killIfRunning(child))
    const deadline = Date.now() + 60_000
    let metrics = ""
    while (Date.now() < deadline && !/skygge_retention_pruned_total\{what="closed_rows",type="vej"\} 2/.test(metrics)) {
      metrics = await fetch(`http://127.0.0.1:${apiPort}/metrics`).then((r) => r.text()).catch(() => "")
      await sleep(250)
    }
    expect(metrics).toMatch(/skygge_retention_pruned_total\{what="closed_rows",type="vej"\} 2/)
    expect(metrics).toMatch(/skygge_cluster_singleton_held\{name="retention"\} 1/)
    const line = logs.join("").split("\n").find((l) => l.includes("retention: pruned") && l.includes('"closed_rows:vej":2'))
    expect(line, logs.join("")).toBeDefined()
    expect(line).not.toContain("v1") // counts, never ids
    child.kill("SIGTERM")
    expect(((await once(child, "exit")) as [number | null])[0]).toBe(0)
    const history = await skygge(["history", "vej", "v1", "--json", "--config", configFile])
    expect(history.stdout).not.toContain('"A"')
    expect(history.stdout).toContain('"C"')
  }, CLI_BUDGET_MS)

  it.each(TEST_BACKENDS)("skygge import-extract, minimise and prune from the command line (store: %s)", async (backend) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-min-cli-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const store = await newStore(backend, dir)
    const engine = await store.open()
    cleanups.push(() => engine.close())
    const day = 86_400_000
    const now = Date.now()
    const at = (daysAgo: number) => new Date(now - daysAgo * day).toISOString()
    const write = (name: string, json: unknown) => {
      const file = join(dir, name)
      writeFileSync(file, JSON.stringify(json))
      return file
    }
    // An IntArk source that stores fs.person (never started here: the commands read its fields setting).
    const intark = (fields?: unknown) => ({
      kind: "intark",
      name: "fs",
      amqp: { url: "amqp://127.0.0.1:1", queue: "q" },
      provider: { baseUrl: "http://127.0.0.1:1" },
      resources: { personer: { objectType: "fs.person", ...(fields !== undefined ? { fields } : {}) } }
    })
    const plain = write("plain.json", { store: store.config, log: { level: "Error" } })
    const minimised = write("minimised.json", { store: store.config, log: { level: "Error" }, sources: [intark({ drop: ["fodselsnummer", "adresse.gate"] })] })
    const retention = write("retention.json", { store: store.config, log: { level: "Error" }, retention: { closedDays: ["fs.person=30", "reg.retained=30"], refusedDays: 5 } })
    const run = async (args: ReadonlyArray<string>, config: string) => {
      const r = await skygge([...args, "--config", config])
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0)
      return r.stdout
    }
    const person = (id: string, version: number) => ({ id, navn: `Navn ${id} v${version}`, fodselsnummer: `0101${id}${version}`, adresse: { gate: `Gate ${id}`, postnummer: "0155" } })
    const dump = (name: string, version: number) => {
      const file = join(dir, name)
      writeFileSync(file, ["1", "2", "3"].map((id) => JSON.stringify(person(id, version))).join("\n") + "\n")
      return file
    }
    const getData = async (id: string, config: string, extra: ReadonlyArray<string> = []) => JSON.parse(await run(["get", "fs.person", id, "--json", ...extra], config)) as { data: unknown }

    // Before the setting: three versions, the first two long ago (closed 60 and 20 days ago), every field stored.
    await run(["import-extract", dump("v1.ndjson", 1), "--type", "fs.person", "--id-field", "id", "--registreringstid", at(90)], plain)
    await run(["import-extract", dump("v2.ndjson", 2), "--type", "fs.person", "--id-field", "id", "--registreringstid", at(60)], plain)
    expect((await getData("1", plain)).data).toEqual(person("1", 2))

    // The setting applies to new data at once: a dump under it stores only what it keeps.
    await run(["import-extract", dump("v3.ndjson", 3), "--type", "fs.person", "--id-field", "id", "--registreringstid", at(20)], minimised)
    expect((await getData("1", minimised)).data).toEqual({ id: "1", navn: "Navn 1 v3", adresse: { postnummer: "0155" } })
    // Old versions keep theirs until skygge minimise — and so do the parts of them the new registration re-registers
    // (the validity before it, FOR PORTION OF): per object v1, v1's remainder, v2, v2's remainder; --dry-run changes nothing.
    expect(await run(["minimise", "--dry-run"], minimised)).toBe("fs.person: 12 of 15 rows to rewrite, 6 of 9 recorded operations to rewrite\n")
    expect((await getData("1", minimised, ["--registreringstid", at(70)])).data).toEqual(person("1", 1))
    const historyOf = async (config: string) => {
      const lines = (await run(["history", "fs.person", "1", "--json"], config)).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
      return (lines.length === 1 && Array.isArray(lines[0]!.rows) ? lines[0]!.rows : lines) as Array<Record<string, unknown>>
    }
    const historyBefore = await historyOf(minimised)
    expect(await run(["minimise"], minimised)).toBe("fs.person: 12 of 15 rows rewritten, 6 of 9 recorded operations rewritten\n")
    // In place: the same rows, instants and event ids; only the dropped fields gone from every version.
    const historyAfter = await historyOf(minimised)
    expect(historyAfter.map(({ data: _, ...r }) => r)).toEqual(historyBefore.map(({ data: _, ...r }) => r))
    expect(historyAfter.map((r) => r.data)).toEqual([1, 1, 2, 2, 3].map((v) => ({ id: "1", navn: `Navn 1 v${v}`, adresse: { postnummer: "0155" } })))
    expect(JSON.stringify(historyAfter)).not.toContain("0101")
    const events = await Effect.runPromise(engine.store.events(0, 100))
    expect(JSON.stringify(events)).not.toContain("fodselsnummer")
    expect(await run(["minimise", "--type", "fs.person"], minimised)).toBe("fs.person: 0 of 15 rows rewritten, 0 of 9 recorded operations rewritten\n")
    // The same dump again under the setting: duplicates (the minimised event log reads as the operations would now).
    expect(await run(["import-extract", join(dir, "v3.ndjson"), "--type", "fs.person", "--id-field", "id", "--registreringstid", at(20), "--json"], minimised)).toMatch(/"duplicate":3[,}].*"refused":0[,}]|"refused":0[,}].*"duplicate":3[,}]/)
    const unknownType = await skygge(["minimise", "--type", "nope", "--config", minimised])
    expect(unknownType.code).toBe(1)
    expect(unknownType.stderr).toContain("'nope' has no fields setting")

    // --keep on the command line, and a register's rows through --mirror with --drop.
    await run(["import-extract", dump("v4.ndjson", 4), "--type", "other.person", "--id-field", "id", "--keep", "navn"], plain)
    expect((JSON.parse(await run(["get", "other.person", "2", "--json"], plain)) as { data: unknown }).data).toEqual({ navn: "Navn 2 v4" })
    const rows = join(dir, "rows.ndjson")
    writeFileSync(rows, JSON.stringify({ id_lokalId: "a1", registreringFra: at(10), virkningFra: at(400), status: "3", navn: "Skjult Person", datafordelerRowId: "r1" }) + "\n")
    await run(["import-extract", rows, "--mirror", "--type", "reg.person", "--drop", "navn"], plain)
    expect((JSON.parse(await run(["get", "reg.person", "a1", "--json"], plain)) as { data: unknown }).data).toEqual({ id_lokalId: "a1", status: "3" })

    // Retention: fs.person keeps closed registrations 30 days. As-of answers inside the window before pruning …
    const inside = [at(29), at(20), at(19), at(1), at(0)]
    const virk = [at(100), at(75), at(45), at(10), at(0)]
    const askAll = () =>
      Effect.runPromise(Effect.forEach(["1", "2", "3"].flatMap((id) => inside.flatMap((r) => virk.map((v) => ({ id, r, v })))), ({ id, r, v }) =>
        Effect.map(engine.store.asOf({ objectType: "fs.person", objectId: id, registreringstid: parseInstant(r) as Instant, virkningstid: parseInstant(v) as Instant }), (row) => JSON.stringify(row))))
    const answersBefore = await askAll()
    await skygge(["import", write("bad.ndjson", "not json at all 0101"), "--config", retention]) // a refused input with its raw text
    expect(await run(["prune", "--dry-run"], retention)).toMatch(/^fs\.person: 3 registrations closed before \S+ to prune\nrefused inputs: 0 raw texts/)
    expect(await run(["prune", "--json"], retention)).toMatch(/"objectType":"fs\.person","before":"[^"]+","rows":3/)
    // … are the same after; before the window, the version closed 60 days ago is gone (nothing, not another version).
    expect(await askAll()).toEqual(answersBefore)
    const old = await skygge(["get", "fs.person", "1", "--registreringstid", at(70), "--config", retention])
    expect(old.code).toBe(3)
    expect((await historyOf(retention)).length).toBe(4)
    // Other types are not named: kept whole.
    expect(await run(["prune"], retention)).toMatch(/^fs\.person: 0 registrations closed/)
    // A register's whole history does not bring back what retention prunes: a row closed before the cutoff is not loaded.
    const retained = join(dir, "retained.ndjson")
    writeFileSync(retained, [
      { id_lokalId: "m1", registreringFra: at(100), registreringTil: at(50), virkningFra: at(100), status: "1" },
      { id_lokalId: "m1", registreringFra: at(50), virkningFra: at(100), status: "2" }
    ].map((r) => JSON.stringify(r)).join("\n") + "\n")
    expect(await run(["import-extract", retained, "--mirror", "--type", "reg.retained", "--json"], retention)).toMatch(/"rows":2,"inserted":1,"closed":0,"unchanged":1,"anomalies":0/)
    expect((JSON.parse(await run(["history", "reg.retained", "m1", "--json"], retention)) as { rows: Array<{ data: unknown }> }).rows.map((r) => r.data)).toEqual([{ id_lokalId: "m1", status: "2" }])
  }, CLI_BUDGET_MS)
})
