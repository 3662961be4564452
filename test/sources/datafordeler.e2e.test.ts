/**
 * The Datafordeler source end to end over real HTTP against the register
 * simulator, on each event path: legacy PULL (events visible late and stamped
 * in the past), GraphQL events (row-level, re-imports that delete and insert
 * every row of an object, imports that take time), with REST / GraphQL data
 * lagging the events, 5xx answers and answers cut off half-way. After random
 * change streams the shadow must equal the register row for row, and as-of
 * questions must get the register's answers.
 */
import { Effect, Fiber, Logger, LogLevel, Option, Schema } from "effect"
import { type ChildProcess, execFileSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { once } from "node:events"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { fromEpochMillis, type Instant, toEpochMillis } from "../../src/domain/core/Instant.js"
import { DafSourceSchema } from "../../src/sources/datafordeler/DafConfig.js"
import { Leadership } from "../../src/cluster/Leadership.js"
import { startDafSource } from "../../src/sources/datafordeler/DafSourceLive.js"
import { type DafSimulator, startDafSimulator } from "../../src/sources/datafordeler/simulator/DafSimulator.js"
import { SourceCursors } from "../../src/store/SourceCursors.js"
import { type OpenStore, openStore } from "../support/engine.js"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { TEST_BACKENDS, testStores } from "../support/testStores.js"

const logLevel = process.env.SKYGGE_TEST_LOG === "1" ? LogLevel.Debug : LogLevel.Error
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const FIELDS = "id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid datafordelerRegisterImportSequenceNumber"
/** An object's whole history by id, as an entity's `graphql` setting gives it. */
export const BY_ID = `query Adresse($id: String!) { DAR_Adresse(where: { id_lokalId: { eq: $id } }) { nodes { ${FIELDS} } } }`
/** Many objects' histories in one query (`$ids`): fetched a hundred at a time. */
export const BY_IDS = `query Adresser($ids: [String!]!) { DAR_Adresse(where: { id_lokalId: { in: $ids } }) { nodes { ${FIELDS} } } }`
/** Every row of the entity, paged: an entity's `list` setting (the full load). */
export const LIST = `query Adresser($first: Int!, $after: String) { DAR_Adresse(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${FIELDS} } } }`

/** The GraphQL path's cursor, read through the SourceCursors service (there must be one). */
const graphqlCursorOf = async (engine: OpenStore) => Option.getOrThrow(await Effect.runPromise(Effect.flatMap(SourceCursors, (c) => c.get("dar:graphql")).pipe(Effect.provide(engine.context))))

const diff = async (engine: OpenStore, sim: DafSimulator): Promise<Array<string>> => {
  const out: Array<string> = []
  for (const id of sim.ids()) {
    const want = sim.rows(id).map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])).sort()
    const got = (await Effect.runPromise(engine.store.history("dar.adresse", id))).map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])).sort()
    if (JSON.stringify(want) !== JSON.stringify(got)) out.push(`${id}: register ${want.length} rows, shadow ${got.length}`)
  }
  return out
}

/** As-of answers agree with the register: every object, as of each of its rows' start, at that row's validity. */
const asOfDisagreements = (engine: OpenStore, sim: DafSimulator): Array<string> =>
  sim.ids().flatMap((id) =>
    sim.rows(id).flatMap((row) => {
      if (row.registreringTil === row.registreringFra) return [] // visible to no query
      const got = Effect.runSync(engine.store.asOf({ objectType: "dar.adresse", objectId: id, registreringstid: row.registreringFra, virkningstid: (row.virkningFra ?? fromEpochMillis(0)) as Instant }))
      return Option.isSome(got) && JSON.stringify(got.value.data) === JSON.stringify(row.data) ? [] : [`${id} as of ${row.registreringFra}`]
    })
  )

/**
 * What following the register cost it, printed per change: row fetches (REST and GraphQL row queries) and event
 * requests. Bounded at 3 fetches per change (about 0.1–0.7 measured under these faults; a lagging answer is
 * fetched again, a batch serves many): a request storm — once 70 per change — fails it.
 */
const costPerChange = (sim: DafSimulator, label: string, changes: number) => {
  const r = sim.requests()
  const fetches = r.rest + r.graphqlRows
  console.log(`${label}: ${changes} changes — ${(fetches / changes).toFixed(2)} row fetches per change (REST ${r.rest}, GraphQL rows ${r.graphqlRows}), ${r.pull} PULL and ${r.graphql - r.graphqlRows} GraphQL event/status requests in all`)
  expect(fetches, "row fetches").toBeLessThanOrEqual(3 * changes)
}

const converge = async (engine: OpenStore, sim: DafSimulator, ms: number) => {
  const deadline = Date.now() + ms
  while ((await diff(engine, sim)).length > 0 && Date.now() < deadline) await sleep(200)
  return diff(engine, sim)
}

const newStore = testStores()

describe("Datafordeler sources against the register simulator", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c()
    cleanups.length = 0
  })

  /** A simulator and a store; `run` starts the source in-process between them (stopped after the test). */
  const setUp = async (simOptions: Parameters<typeof startDafSimulator>[0]) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-"))
    const sim = await startDafSimulator(simOptions)
    const engine = openStore(join(dir, "skygge.db"))
    cleanups.push(async () => {
      await sim.close()
      engine.close()
      rmSync(dir, { recursive: true, force: true })
    })
    /** Start the source; with `logs`, every log line (all levels) is kept there instead of printed. */
    const run = async (config: Record<string, unknown>, logs?: Array<string>) => {
      const source = Schema.decodeUnknownSync(DafSourceSchema)({ kind: "datafordeler", name: "dar", ...config })
      const logged = logs === undefined
        ? Logger.withMinimumLogLevel(logLevel)
        : (e: Effect.Effect<never, unknown, never>) =>
          e.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, Logger.map(Logger.logfmtLogger, (line) => void logs.push(line)))), Logger.withMinimumLogLevel(LogLevel.All))
      const fiber = Effect.runFork(Effect.scoped(Effect.zipRight(startDafSource(source), Effect.never)).pipe(Effect.provide(engine.context), Effect.provide(Leadership.layerAlone), logged))
      cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined))
      await sleep(300) // the first start sets its cursor
    }
    return { sim, engine, run, dir }
  }

  const restEntity = (sim: DafSimulator, rest?: string) => ({ Adresse: { objectType: "dar.adresse", rest: rest ?? `${sim.baseUrl}/rest/adresse?id={id}` } })
  const graphqlEntity = (extra: Record<string, unknown> = {}, query = BY_ID) => ({ Adresse: { objectType: "dar.adresse", graphql: { query }, ...extra } })
  const pullSettings = (sim: DafSimulator, extra: Record<string, unknown>) => ({ url: sim.baseUrl, lagSeconds: 0.2, overlapSeconds: 1, pollSeconds: 0.1, ...extra })
  const graphqlSettings = (sim: DafSimulator, extra: Record<string, unknown>) => ({ url: sim.graphqlUrl, register: "DAR", pollSeconds: 0.1, ...extra })

  it.each([
    [3, "json"],
    [8, "xml"]
  ])("PULL: random change streams with late events, lagging REST and 5xx end equal to the register (seed %i, format=%s)", async (seed, format) => {
    // REST lags longer than an event stays in the overlapping windows: only waiting for the rows to show the event keeps the change.
    const { sim, engine, run } = await setUp({ seed, faults: { error5xxRate: 0.05, restLagMs: 3000, commitDelayMs: 400 } })
    await run({ pull: pullSettings(sim, { pageSize: 7, format, maxAttempts: 6, maxBackoffSeconds: 0.5 }), entities: restEntity(sim) })
    for (let round = 0; round < 12; round++) {
      sim.randomChanges(5)
      await sleep(80)
    }
    expect(await converge(engine, sim, 30_000)).toEqual([])
    costPerChange(sim, `PULL (${format})`, sim.events())
    expect(sim.ids().length).toBeGreaterThan(5)
    // Closes happened (updates, corrections, invalidations), and the mirror obeyed every one.
    expect(sim.ids().some((id) => sim.rows(id).some((r) => r.registreringTil !== null))).toBe(true)
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
    expect(asOfDisagreements(engine, sim)).toEqual([])
  }, 60_000)

  it("PULL: uses the rows events carry inline (Objektdata) without fetching, pages streamed", async () => {
    // Nothing answers at the REST URL: a fetch would park the window and the shadow would never catch up.
    const { sim, engine, run } = await setUp({ seed: 13, inlineRows: true, faults: { commitDelayMs: 300 } })
    await run({ pull: pullSettings(sim, { pageSize: 4, maxAttempts: 2, maxBackoffSeconds: 0.2 }), entities: restEntity(sim, `${sim.baseUrl}/nowhere?id={id}`) })
    for (let round = 0; round < 8; round++) {
      sim.randomChanges(5)
      await sleep(60)
    }
    expect(await converge(engine, sim, 20_000)).toEqual([])
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
  }, 40_000)

  it.each([
    ["rows by GraphQL, many objects a query", 5],
    ["rows by REST", 9]
  ])("GraphQL events: random changes and re-imports with slow imports, lagging data, 5xx and cut-off answers end equal to the register (%s)", async (how, seed) => {
    const { sim, engine, run } = await setUp({ seed, faults: { error5xxRate: 0.05, truncateRate: 0.05, restLagMs: 1500, importMs: 300, slowRate: 0.05, slowMs: 200 } })
    await run({
      graphql: graphqlSettings(sim, { pageSize: 6, maxAttempts: 6, maxBackoffSeconds: 0.3 }),
      entities: how === "rows by REST" ? restEntity(sim) : graphqlEntity({}, BY_IDS)
    })
    for (let round = 0; round < 12; round++) {
      sim.randomChanges(5)
      if (round % 3 === 2) sim.reimports(3)
      await sleep(80)
    }
    expect(await converge(engine, sim, 30_000)).toEqual([])
    costPerChange(sim, `GraphQL (${how})`, sim.events() + 4 * 3) // the changes and the re-imports
    expect(sim.ids().some((id) => sim.rows(id).some((r) => r.registreringTil !== null))).toBe(true)
    // Re-imports (every row deleted and inserted again) changed nothing, and nothing was half-applied.
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
    expect(asOfDisagreements(engine, sim)).toEqual([])
    // The cursor reaches the last eventid (committed with each page; the data may be ahead of it).
    const cursor = async () => Number((await graphqlCursorOf(engine)).cursor)
    const deadline = Date.now() + 20_000
    while ((await cursor()) < sim.rowEvents() && Date.now() < deadline) await sleep(200)
    expect(await cursor()).toBe(sim.rowEvents())
  }, 60_000)

  it("GraphQL events: a round of more objects than one mirror transaction takes (1,000) is mirrored in several, the cursor moved after the last", async () => {
    const { sim, engine, run } = await setUp({ seed: 23 })
    const logs: Array<string> = []
    await run({ graphql: graphqlSettings(sim, { pageSize: 10_000 }), entities: graphqlEntity({}, BY_IDS) }, logs)
    sim.change(Array.from({ length: 2_500 }, () => randomUUID()))
    expect(await converge(engine, sim, 45_000)).toEqual([])
    // One round held them all: its objects went through several mirror transactions.
    const rounds = logs.filter((l) => l.includes("GraphQL events round committed")).map((l) => Number(/ objects=(\d+)/.exec(l)?.[1] ?? 0))
    expect(Math.max(...rounds)).toBeGreaterThan(1_000)
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
    expect(asOfDisagreements(engine, sim)).toEqual([])
    expect(Number((await graphqlCursorOf(engine)).cursor)).toBe(sim.rowEvents())
  }, 60_000)

  it("GraphQL events: the import-status gate is what keeps a re-import in progress from looking like deleted rows", async () => {
    const reimportWhileRunning = async (gate: boolean) => {
      const { sim, engine, run } = await setUp({ seed: 17, faults: { importMs: 1500 } })
      await run({ graphql: graphqlSettings(sim, { importStatusGate: gate, maxAttempts: 3, maxBackoffSeconds: 0.2 }), entities: graphqlEntity() })
      sim.randomChanges(20)
      expect(await converge(engine, sim, 15_000)).toEqual([])
      sim.reimports(5)
      await sleep(2500)
      expect(await converge(engine, sim, 10_000)).toEqual([])
      return Effect.runSync(engine.mirror.anomalyCount)
    }
    expect(await reimportWhileRunning(true)).toBe(0)
    // Without it the deletes are read before the inserts exist: the rows look gone upstream (recorded, kept).
    expect(await reimportWhileRunning(false)).toBeGreaterThan(0)
  }, 60_000)

  it("GraphQL events: an object fetched half-way through an import longer than the retry budget is parked, not mirrored as complete (a failed import, then a re-import)", async () => {
    const { sim, engine, run } = await setUp({ seed: 19 })
    await run({ graphql: graphqlSettings(sim, { maxAttempts: 3, maxBackoffSeconds: 0.1 }), entities: graphqlEntity({}, BY_IDS) })
    sim.randomChanges(15)
    expect(await converge(engine, sim, 15_000)).toEqual([])
    const cursor = () => graphqlCursorOf(engine)
    const before = Number((await cursor()).cursor)
    // A failed import names the objects (its events complete, demanding no rows); the re-import that follows
    // deletes their rows at once and inserts them again only after 4 s — far past the fetch retries.
    const ids = sim.ids().slice(0, 4)
    sim.failedImport(ids)
    sim.setFaults({ importMs: 4000 })
    sim.reimport(ids)
    sim.setFaults({ importMs: 0 })
    await sleep(2500)
    // Parked: the cursor stays before the failed import's events, unconfirmed (its age grows), nothing recorded missing.
    expect(Number((await cursor()).cursor)).toBe(before)
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
    expect(await diff(engine, sim)).toEqual([])
    // Once the import completes the objects are mirrored, unchanged, and the cursor reaches the last event.
    const deadline = Date.now() + 15_000
    while (Number((await cursor()).cursor) < sim.rowEvents() && Date.now() < deadline) await sleep(200)
    expect(Number((await cursor()).cursor)).toBe(sim.rowEvents())
    expect(await diff(engine, sim)).toEqual([])
    expect(Effect.runSync(engine.mirror.anomalies({ after: 0, limit: 10 })).map((a) => `${a.kind}: ${a.detail}`)).toEqual([])
  }, 40_000)

  it("GraphQL events: a path stuck on objects whose rows never show their events keeps its cursor and lets it age (for alerts)", async () => {
    const { sim, engine, run } = await setUp({ seed: 51 })
    await run({ graphql: graphqlSettings(sim, { maxAttempts: 2, maxBackoffSeconds: 0.1 }), entities: restEntity(sim, `${sim.baseUrl}/nowhere?id={id}`) })
    const cursor = () => graphqlCursorOf(engine)
    const before = await cursor()
    sim.randomChanges(5)
    await sleep(2500)
    // Parked every round: the cursor neither moves nor is confirmed.
    expect(await cursor()).toEqual(before)
    expect(Date.now() - toEpochMillis(before.updatedAt as Instant)).toBeGreaterThan(2000)
  }, 20_000)

  it("a first start loads every row by the entity's list query once, however many paths ask, then follows the events", async () => {
    const { sim, engine, run } = await setUp({ seed: 23 })
    sim.randomChanges(60) // history from before the subscription
    await run({ graphql: graphqlSettings(sim, {}), pull: pullSettings(sim, {}), push: { port: await freePort() }, entities: graphqlEntity({ list: { query: LIST } }) })
    expect(await converge(engine, sim, 15_000)).toEqual([])
    expect(sim.listRequests()).toBe(1)
    sim.randomChanges(20)
    expect(await converge(engine, sim, 15_000)).toEqual([])
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
  }, 40_000)

  it("a first start loads the register's file download (a zip of entity lists, its key never shown) before following PULL", async () => {
    const { sim, engine, run, dir } = await setUp({ seed: 53 })
    sim.randomChanges(40)
    // The register as a file download: every object's rows in Datafordeler's shape, plus a list no entity wants.
    const rows = (await Promise.all(sim.ids().map(async (id) => (await (await fetch(`${sim.baseUrl}/rest/adresse?id=${id}`)).json()) as Array<unknown>))).flat()
    const file = join(dir, "DAR_Totaludtraek.zip")
    const script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z: z.writestr('DAR_Totaludtraek_1.json', sys.stdin.read())"
    execFileSync("python3", ["-c", script, file], { input: JSON.stringify({ AdresseList: rows, HusnummerList: [{ id_lokalId: "h1", registreringFra: "2020-01-01T00:00:00Z" }] }) })
    const key = "download-key-77ab"
    let asked = 0
    const server = createServer((req, res) => {
      asked++
      if (new URL(req.url ?? "/", "http://x").searchParams.get("apiKey") !== key) return void res.writeHead(401).end()
      res.writeHead(200, { "content-type": "application/zip" }).end(readFileSync(file))
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/FileDownloads/GetFile?Register=DAR`
    process.env.SKYGGE_TEST_DAF_DOWNLOAD_KEY = key
    cleanups.push(() => void delete process.env.SKYGGE_TEST_DAF_DOWNLOAD_KEY)
    const logs: Array<string> = []
    await run({ pull: pullSettings(sim, {}), fullLoad: { download: url, downloadApiKey: { env: "SKYGGE_TEST_DAF_DOWNLOAD_KEY" } }, entities: restEntity(sim) }, logs)
    // Should it fail, the source's warnings and errors say why.
    const said = () => logs.filter((l) => /level=(WARN|ERROR)/.test(l)).join("\n")
    expect(await converge(engine, sim, 15_000), said()).toEqual([])
    expect(asked).toBe(1)
    sim.randomChanges(10)
    expect(await converge(engine, sim, 15_000), said()).toEqual([])
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
    // The download itself brought every row (convergence alone would hide a download read as nothing: PULL repairs it).
    const loaded = logs.find((l) => l.includes("full load: file download loaded"))
    expect(loaded, said()).toBeDefined()
    expect({ inserted: /inserted=(\d+)/.exec(loaded!)?.[1], refused: /refused=(\d+)/.exec(loaded!)?.[1] }).toEqual({ inserted: String(rows.length), refused: "0" })
    expect(logs.filter((l) => l.includes(key))).toEqual([])
  }, 40_000)

  it("GraphQL events: a cursor older than the service keeps events triggers the full load again", async () => {
    const { sim, engine, run } = await setUp({ seed: 29 })
    sim.randomChanges(10)
    const events = sim.rowEvents()
    // A cursor at the register's newest event, last confirmed long ago: the events it would need may be gone.
    Effect.runSync(engine.support.setCursorAt("dar:graphql", String(events), "2020-01-01T00:00:00.000000Z"))
    await run({ graphql: graphqlSettings(sim, {}), entities: graphqlEntity({ list: { query: LIST } }) })
    expect(await converge(engine, sim, 15_000)).toEqual([])
  }, 30_000)

  it.each([1, 7])("PUSH: events pushed (%i per request) with duplicates, lagging REST and 5xx end equal to the register; recorded before the 201, once", async (batch) => {
    const { sim, engine, run } = await setUp({ seed: 31 + batch, faults: { error5xxRate: 0.05, restLagMs: 1000, commitDelayMs: 100 } })
    const port = await freePort()
    await run({ push: { port, maxAttempts: 6, maxBackoffSeconds: 0.3 }, entities: restEntity(sim) })
    sim.pushTo(`http://127.0.0.1:${port}/`, { batch, duplicateRate: 0.2 })
    for (let round = 0; round < 10; round++) {
      sim.randomChanges(5)
      await sleep(60)
    }
    expect(await converge(engine, sim, 30_000)).toEqual([])
    costPerChange(sim, `PUSH (${batch} per request)`, sim.events())
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
    expect(asOfDisagreements(engine, sim)).toEqual([])
    // Every envelope once in the inbox, all processed (an object's fetch may show a change before its own push arrives: wait for the pushes).
    const inbox = () => Effect.runSync(engine.support.inboxCounts)
    const drained = Date.now() + 20_000
    while ((sim.pushed() < sim.events() || inbox().done < sim.events()) && Date.now() < drained) await sleep(100)
    expect(inbox()).toEqual({ n: sim.events(), done: sim.events() })
    // A malformed event is a clear 400 and nothing of the request is stored.
    const res = await fetch(`http://127.0.0.1:${port}/Events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify([{ Id: 1, Message: { Grunddatabesked: {} } }]) })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/no Message\.Grunddatabesked\.Hændelsesbesked/)
    expect(Effect.runSync(engine.support.inboxCounts).n).toBe(sim.events())
  }, 60_000)

  it("a scheduled full load (fullLoad.cron) repairs what lost events never brought", async () => {
    // Events that never arrive: an events query for an entity the register does not have (graphql.eventsQuery).
    // After the first start's load, only the schedule brings changes.
    const { sim, engine, run } = await setUp({ seed: 47 })
    sim.randomChanges(20)
    const blind = 'query ($first: Int!, $gt: Long!, $lte: Long!) { DAR_Events(first: $first, where: { eventid: { gt: $gt, lte: $lte }, entityname: { in: ["Nothing"] } }) { pageInfo { hasNextPage } nodes { eventid } } }'
    await run({ graphql: graphqlSettings(sim, { eventsQuery: blind }), fullLoad: { cron: "*/2 * * * * *" }, entities: graphqlEntity({ list: { query: LIST } }) })
    expect(await converge(engine, sim, 10_000)).toEqual([])
    sim.randomChanges(30)
    expect(await converge(engine, sim, 10_000)).toEqual([])
    expect(sim.listRequests()).toBeGreaterThan(1)
  }, 40_000)

  it("credentials: PULL and REST with an API key, GraphQL with OAuth client credentials (tokens renewed before they expire); no secret in any log line", async () => {
    const apiKey = "pull-key-5f1c0e"
    const pulled = await setUp({ seed: 41, credentials: { apiKey }, faults: { error5xxRate: 0.2 } })
    const pullLogs: Array<string> = []
    await pulled.run({ pull: pullSettings(pulled.sim, { apiKey, maxAttempts: 6, maxBackoffSeconds: 0.2 }), entities: restEntity(pulled.sim) }, pullLogs)
    pulled.sim.randomChanges(20)
    expect(await converge(pulled.engine, pulled.sim, 15_000)).toEqual([])

    const clientSecret = "oauth-secret-9d2a41"
    const oauth = { clientId: "skygge", clientSecret, expiresInSeconds: 61 } // reused for one second (renewed a minute before expiry)
    const graphql = await setUp({ seed: 43, credentials: { oauth }, faults: { error5xxRate: 0.2 } })
    const graphqlLogs: Array<string> = []
    process.env.SKYGGE_TEST_DAF_SECRET = clientSecret
    cleanups.push(() => void delete process.env.SKYGGE_TEST_DAF_SECRET)
    await graphql.run(
      {
        graphql: graphqlSettings(graphql.sim, { maxAttempts: 6, maxBackoffSeconds: 0.2, oauth: { tokenUrl: `${graphql.sim.baseUrl}/oauth/token`, clientId: "skygge", clientSecret: { env: "SKYGGE_TEST_DAF_SECRET" } } }),
        entities: graphqlEntity()
      },
      graphqlLogs
    )
    for (let round = 0; round < 6; round++) {
      graphql.sim.randomChanges(5)
      await sleep(400)
    }
    expect(await converge(graphql.engine, graphql.sim, 15_000)).toEqual([])
    expect(graphql.sim.tokenRequests()).toBeGreaterThan(1)
    // The 5xx answers were logged (with their URLs): neither the key nor the client secret is in them.
    expect(pullLogs.some((l) => l.includes("503") || l.includes("level=WARN"))).toBe(true)
    expect([...pullLogs, ...graphqlLogs].filter((l) => l.includes(apiKey) || l.includes(clientSecret) || l.includes("Bearer"))).toEqual([])
  }, 60_000)

  it.each(TEST_BACKENDS)("loses nothing and doubles nothing when skygge run, following PULL, GraphQL and PUSH at once, is killed hard (SIGKILL) mid-stream and started again (store: %s)", async (backend) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-kill-"))
    const sim = await startDafSimulator({ seed: 21, faults: { error5xxRate: 0.05, restLagMs: 300, commitDelayMs: 300, importMs: 100 } })
    const store = await newStore(backend, dir)
    const configFile = join(dir, "skygge.json")
    const apiPort = await freePort()
    const pushPort = await freePort()
    writeFileSync(
      configFile,
      JSON.stringify({
        store: store.config,
        api: { host: "127.0.0.1", port: apiPort },
        log: { level: "Error" },
        sources: [
          {
            kind: "datafordeler",
            name: "dar",
            pull: pullSettings(sim, { pageSize: 5, maxAttempts: 6, maxBackoffSeconds: 0.5 }),
            graphql: graphqlSettings(sim, { pageSize: 5, maxAttempts: 6, maxBackoffSeconds: 0.5 }),
            push: { port: pushPort, maxAttempts: 6, maxBackoffSeconds: 0.5 },
            entities: restEntity(sim)
          }
        ]
      })
    )
    let child: ChildProcess | undefined
    const engine = await store.open()
    cleanups.push(async () => {
      await killIfRunning(child)
      await sim.close()
      await engine.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const start = () => startSkygge(configFile)
    child = start()
    // Started: every path has set its first cursor (start-up takes longer on a loaded machine).
    const started = Date.now()
    const cursors = async () => (await Effect.runPromise(Effect.flatMap(SourceCursors, (c) => c.list).pipe(Effect.provide(engine.context)))).length
    while ((await cursors()) < 3 && Date.now() - started < 30_000) await sleep(100)
    expect(await cursors(), `paths with a cursor ${Date.now() - started} ms after the start`).toBe(3)
    // Pushes that fail while the engine is down are sent again, as Datafordeler does.
    sim.pushTo(`http://127.0.0.1:${pushPort}/`, { batch: 3 })
    for (let round = 0; round < 10; round++) {
      sim.randomChanges(6)
      if (round % 4 === 3) sim.reimports(2)
      await sleep(100)
    }
    child.kill("SIGKILL")
    await once(child, "exit")
    // Changes while it is down are read from the cursors on.
    for (let round = 0; round < 5; round++) sim.randomChanges(6)
    child = start()
    expect(await converge(engine, sim, 40_000)).toEqual([])
    expect((await Effect.runPromise(engine.mirror.anomalies({ after: 0, limit: 10 }))).map((a) => `${a.source} ${a.kind}: ${a.detail}`)).toEqual([])
    // The other paths may have converged first: let the pushes (resent after the kill) all be applied.
    const inbox = () => Effect.runPromise(engine.support.inboxCounts)
    const drained = Date.now() + 20_000
    while ((sim.pushed() < sim.events() || (await inbox()).done < sim.pushed()) && Date.now() < drained) await sleep(100)
    // Both paths' cursors are fresh in /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text()
    for (const path of ["dar", "dar:graphql"]) {
      const age = new RegExp(`skygge_source_cursor_age_seconds\\{source="${path}"\\} ([0-9.]+)`).exec(metrics)?.[1]
      expect(Number(age)).toBeLessThan(30)
    }
    expect(metrics).toContain("skygge_push_inbox_pending 0")
    // Every pushed envelope recorded once and applied.
    expect(await inbox()).toEqual({ n: sim.pushed(), done: sim.pushed() })
    expect(sim.pushed()).toBe(sim.events())
    // The GraphQL path may trail the others (pages of 5 events): let it reach the register's last event.
    const graphqlCursor = async () => Number((await graphqlCursorOf(engine)).cursor)
    const caughtUp = Date.now() + 30_000
    while ((await graphqlCursor()) < sim.rowEvents() && Date.now() < caughtUp) await sleep(200)
    // Where each path stands, over HTTP and from the command line.
    const status = (await (await fetch(`http://127.0.0.1:${apiPort}/v1/sources`)).json()) as { cursors: Array<{ source: string; cursor: string; ageSeconds: number }>; pushInboxPending: number }
    expect(status.cursors.map((c) => c.source)).toEqual(["dar", "dar:graphql", "dar:push"])
    expect(status.pushInboxPending).toBe(0)
    child.kill("SIGTERM")
    const [code] = (await once(child, "exit")) as [number | null]
    expect(code).toBe(0)
    const cli = JSON.parse(execFileSync(process.execPath, [fileURLToPath(new URL("../../bin/skygge.js", import.meta.url)), "sources", "--json", "--config", configFile], { encoding: "utf8" })) as typeof status
    expect(cli.cursors.find((c) => c.source === "dar:graphql")!.cursor).toBe(String(sim.rowEvents()))
  }, 90_000)
})
