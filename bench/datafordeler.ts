/**
 * The Datafordeler benchmark (`npm run bench:datafordeler`), end to end through
 * a real `skygge run` in a child process against the register simulator, for
 * the same volume of N events (default 100,000, the legacy page maximum;
 * SKYGGE_BENCH_DAF_N) on two paths:
 *
 *   PULL     one legacy page of N events, each carrying the rows it changed
 *            (as MAT's and EBR's do), decoded as it streams and mirrored;
 *   GraphQL  N row events in pages of 10,000 (`<REG>_Events`), folded per
 *            object, each object's rows fetched once by a GraphQL query by $ids
 *            (a hundred objects a request), mirrored a thousand objects a
 *            transaction, the eventid cursor committed last.
 *
 * Each engine's cursor is set just before the events. Events/s until every row
 * is in the store, counted from when the API answers (start-up, i.e. loading
 * the TypeScript sources, printed apart), and the child's peak RSS. Reference
 * in the same run: fetching the same events and parsing them whole (JSON.parse).
 * Beside it each path's floor, the least any mirror of these events does: the
 * same fetches and parses (GraphQL: the objects' rows too, by the engine's
 * query), and the rows written raw into a migrated store file (one INSERT each,
 * 20,000 a transaction). Its ratio to parse-only is the most an engine could
 * reach on the target's measure; the engine's share of it is what is its own (measured after the
 * engines, so that a build's run is not slowed by the floor's file writes).
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { once } from "node:events"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { fromEpochMillis } from "../src/domain/core/Instant.js"
import { type DafSimulator, startDafSimulator } from "../src/sources/datafordeler/simulator/DafSimulator.js"
import { makeSqliteSourceCursors } from "../src/store/sqlite/SqliteSourceCursors.js"
import { makeSqliteStore, openSqlite } from "../src/store/sqlite/SqliteStore.js"
import { migrateSqliteFile } from "../src/store/sqlite/SqliteOpen.js"
import { childCpuSeconds, fmt, freePort, idleRunPeakRssMiB, PEAK_RSS_HOOK, peakRssMiB, verdict } from "./support.js"

const N = Number(process.env.SKYGGE_BENCH_DAF_N ?? 100_000)
const GRAPHQL_PAGE = 10_000
const dir = resolve(".bench", `daf-${process.pid}`)
const root = resolve(import.meta.dirname, "..")
/**
 * The builds to run, each against the same simulator and reference: SKYGGE_BENCH_BIN=a/bin/skygge.js,b/bin/skygge.js
 * compares two builds (say a base and a change) under the same load; this checkout's by default.
 */
const bins = (process.env.SKYGGE_BENCH_BIN ?? join(root, "bin/skygge.js")).split(",").map((b) => resolve(b))

const rowsOf = (sim: DafSimulator) => sim.ids().reduce((n, id) => n + sim.rows(id).length, 0)

/**
 * The floor's writes: every row the simulator holds, written raw into a fresh migrated store file with the
 * store's tuning (one prepared INSERT a row, 20,000 a transaction, as the engine's chunks): the seconds.
 */
const rawRowWrites = (sim: DafSimulator, name: string): number => {
  const dbFile = join(dir, `${name}-floor.db`)
  migrateSqliteFile({ filename: dbFile })
  const db = openSqlite({ filename: dbFile, synchronous: "NORMAL" })
  const insert = db.prepare(
    `INSERT INTO rows (object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at, closed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
  )
  const now = fromEpochMillis(Date.now())
  const rows = sim.ids().flatMap((id) => sim.rows(id).map((r) => ({ id, r })))
  const t0 = performance.now()
  for (let i = 0; i < rows.length; i += 20_000) {
    db.transaction(() => {
      for (const { id, r } of rows.slice(i, i + 20_000)) {
        const til = r.registreringTil
        insert.run("dar.adresse", id, r.registreringFra, til, r.virkningFra, r.virkningTil, JSON.stringify(r.data), "floor", now, til === null ? null : now)
      }
    }).immediate()
  }
  const seconds = (performance.now() - t0) / 1000
  db.close()
  return seconds
}

/** The floor line (measured after the engines): its events/s, its ratio to parse-only, the engines' share of it, and the parts of its seconds. */
const reportFloor = (label: string, events: number, bareRate: number, engineRates: ReadonlyArray<number>, parts: Record<string, number>) => {
  const seconds = Object.values(parts).reduce((a, b) => a + b, 0)
  const rate = events / seconds
  console.log(
    `${label} ${fmt(rate).padStart(9)} events/s   ratio to parse-only ${fmt(rate / bareRate, 2)} (the most an engine reaches on that measure)\n` +
      `    its seconds: ${Object.entries(parts).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(", ")} (of ${fmt(seconds, 2)}); ` +
      `the engine is ${engineRates.map((r) => fmt(r / rate, 2)).join(", ")} of it`
  )
}

/**
 * `skygge run` (the build `bin`) with one source until the store holds `rows` rows: seconds after start-up and
 * in all, the child's CPU seconds after start-up and in all, and its peak RSS.
 */
const runEngine = async (bin: string, name: string, source: Record<string, unknown>, cursor: { name: string; value: string }, rows: number) => {
  const dbFile = join(dir, `${name}.db`)
  migrateSqliteFile({ filename: dbFile })
  const db = openSqlite({ filename: dbFile, synchronous: "NORMAL" })
  Effect.runSync(makeSqliteSourceCursors(db).set(cursor.name, cursor.value, null))
  const store = makeSqliteStore(db)
  const configFile = join(dir, `${name}.json`)
  const port = await freePort()
  writeFileSync(
    configFile,
    JSON.stringify({
      store: { url: `sqlite:${dbFile}`, synchronous: "NORMAL" },
      api: { host: "127.0.0.1", port },
      activations: { enabled: false },
      log: { level: "Warn" },
      sources: [{ kind: "datafordeler", name: "dar", ...source }]
    })
  )
  const start = performance.now()
  // SKYGGE_BENCH_CPU_PROF=DIR writes the child's CPU profile there (chrome://inspect or any .cpuprofile viewer).
  const profile = process.env.SKYGGE_BENCH_CPU_PROF === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${resolve(process.env.SKYGGE_BENCH_CPU_PROF)}`]
  const child = spawn(process.execPath, [...profile, "--import", PEAK_RSS_HOOK, bin, "run", "--config", configFile], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d) => (stderr += String(d)))
  // When the API answers, start-up (loading and compiling the TypeScript sources) is over.
  let ready: number | undefined
  let readyCpu = 0
  for (;;) {
    if (ready === undefined) {
      const up = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)
      if (up) {
        ready = performance.now()
        readyCpu = childCpuSeconds(child.pid!)
      }
    }
    if (Effect.runSync(store.stats).rows >= rows) break
    if (child.exitCode !== null) throw new Error(`skygge run exited ${child.exitCode}: ${stderr.slice(-2000)}`)
    if (performance.now() - start > 600_000) throw new Error("not done after 10 minutes")
    await new Promise((r) => setTimeout(r, 50))
  }
  const seconds = (performance.now() - start) / 1000
  const cpu = childCpuSeconds(child.pid!)
  child.kill("SIGTERM")
  await once(child, "exit")
  db.close()
  return { afterReady: ready === undefined ? seconds : seconds - (ready - start) / 1000, seconds, cpu, cpuAfterReady: cpu - readyCpu, rss: peakRssMiB(stderr) }
}

/** Targets (issue 17): events/s as a share of parsing the same events whole, and the child's peak RSS. */
const RSS_TARGET_MIB = 256
/** The idle `skygge run`'s peak RSS, measured first: the part of each path's peak that is not the path's. */
let floorMiB: number | undefined

/** Which build a line is of, when more than one runs. */
const binLabel = (bin: string) => (bins.length > 1 ? `\n    [${bin}]` : "")

const report = (label: string, events: number, rows: number, bareRate: number, ratioTarget: number, run: Awaited<ReturnType<typeof runEngine>>) => {
  const rate = events / run.afterReady
  const ratio = rate / bareRate
  console.log(
    `${label} ${fmt(rate).padStart(9)} events/s   (${fmt(run.afterReady, 2)} s after start-up; ${fmt(events / run.seconds)} events/s over ${fmt(run.seconds, 2)} s with it; ${fmt(rows)} rows)\n` +
      `    child CPU ${fmt(run.cpuAfterReady, 2)} s after start-up (${fmt(run.cpu, 2)} s with it) for ${fmt(run.afterReady, 2)} s of wall time\n` +
      `    ratio to parse-only ${fmt(ratio, 2)} (target ≥ ${fmt(ratioTarget, 2)}: ${verdict(ratio >= ratioTarget)})   ` +
      `peak RSS ${run.rss === undefined ? "?" : fmt(run.rss)} MiB (target ≤ ${RSS_TARGET_MIB}: ${verdict(run.rss !== undefined && run.rss <= RSS_TARGET_MIB)})` +
      (run.rss !== undefined && floorMiB !== undefined ? `, ${fmt(run.rss - floorMiB)} MiB above the idle floor` : "")
  )
  return rate
}

const pull = async () => {
  const sim = await startDafSimulator({ seed: 5, inlineRows: true })
  const before = fromEpochMillis(Date.now() - 1000)
  sim.randomChanges(N)
  const events = sim.events()
  const rows = rowsOf(sim)
  await new Promise((r) => setTimeout(r, 50))
  const to = fromEpochMillis(Date.now() + 1000)
  // Reference: the same page fetched and parsed whole.
  const url = `${sim.baseUrl}/system/EventMessages/1.0.0/custom?datefrom=${before}&dateto=${to}&page=1&pagesize=100000&format=json`
  const t0 = performance.now()
  const page = JSON.parse(await (await fetch(url)).text()) as Array<unknown>
  const bareSeconds = (performance.now() - t0) / 1000
  if (page.length !== events) throw new Error(`the page holds ${page.length} of ${events} events`)
  const bareRate = events / bareSeconds
  console.log(`PULL bare: fetch the page, JSON.parse it whole                 ${fmt(bareRate).padStart(9)} events/s   (${fmt(bareSeconds, 2)} s)`)
  const engineRates: Array<number> = []
  for (const [i, bin] of bins.entries()) {
    const run = await runEngine(
      bin,
      `pull-${i}`,
      {
        pull: { url: sim.baseUrl, pageSize: 100_000, lagSeconds: 0, overlapSeconds: 0, pollSeconds: 0.5 },
        entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
      },
      { name: "dar", value: before },
      rows
    )
    engineRates.push(report(`PULL engine: skygge run, PULL → decode → mirror → commit  ${binLabel(bin)}`, events, rows, bareRate, 0.7, run))
  }
  reportFloor(`PULL floor: the page parsed whole, its ${fmt(rows)} rows written raw`, events, bareRate, engineRates, {
    "fetch and parse": bareSeconds,
    "row writes": rawRowWrites(sim, "pull")
  })
  await sim.close()
}

const graphql = async () => {
  const sim = await startDafSimulator({ seed: 7 })
  while (sim.rowEvents() < N) sim.randomChanges(1000)
  const events = sim.rowEvents()
  const rows = rowsOf(sim)
  const query = (gt: number) => ({
    query: `query ($first: Int!, $gt: Long!) { DAR_Events(first: $first, where: { eventid: { gt: $gt } }) { pageInfo { hasNextPage endCursor } nodes { eventid entityname eventaction fromfailedimport object_id object_datafordelerRowId datafordelerOpdateringstid } } }`,
    variables: { first: GRAPHQL_PAGE, gt }
  })
  // Reference: the same events, page after page, fetched and parsed whole.
  const t0 = performance.now()
  let seen = 0
  for (let gt = 0; ; ) {
    const res = await fetch(sim.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(query(gt)) })
    const page = (JSON.parse(await res.text()) as { data: { DAR_Events: { nodes: Array<{ eventid: number }>; pageInfo: { hasNextPage: boolean } } } }).data.DAR_Events
    seen += page.nodes.length
    if (!page.pageInfo.hasNextPage) break
    gt = page.nodes[page.nodes.length - 1]!.eventid
  }
  const bareSeconds = (performance.now() - t0) / 1000
  if (seen !== events) throw new Error(`the pages hold ${seen} of ${events} events`)
  const bareRate = events / bareSeconds
  console.log(`GraphQL bare: fetch the event pages, JSON.parse them whole     ${fmt(bareRate).padStart(9)} events/s   (${fmt(bareSeconds, 2)} s, pages of ${fmt(GRAPHQL_PAGE)})`)
  const byIds = "query ($ids: [String!]!) { DAR_Adresse(where: { id_lokalId: { in: $ids } }) { nodes { id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid } } }"
  const engineRates: Array<number> = []
  for (const [i, bin] of bins.entries()) {
    const run = await runEngine(
      bin,
      `graphql-${i}`,
      {
        graphql: { url: sim.graphqlUrl, register: "DAR", pageSize: GRAPHQL_PAGE, pollSeconds: 0.5, concurrency: 16 },
        entities: { Adresse: { objectType: "dar.adresse", graphql: { query: byIds } } }
      },
      { name: "dar:graphql", value: "0" },
      rows
    )
    engineRates.push(report(`GraphQL engine: events → fold → fetch ${fmt(sim.ids().length)} objects → mirror${binLabel(bin)}`, events, rows, bareRate, 0.3, run))
  }
  // The floor: the objects' rows too, fetched as the engine does (a hundred ids a request, 16 at a time) and parsed whole.
  const ids = sim.ids()
  const t1 = performance.now()
  let fetchedRows = 0
  const requests = Array.from({ length: Math.ceil(ids.length / 100) }, (_, k) => ids.slice(k * 100, k * 100 + 100))
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let batch = requests.shift(); batch !== undefined; batch = requests.shift()) {
        const res = await fetch(sim.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: byIds, variables: { ids: batch } }) })
        const nodes = (JSON.parse(await res.text()) as { data: { DAR_Adresse: { nodes: Array<{ id_lokalId: string }> } } }).data.DAR_Adresse.nodes
        fetchedRows += nodes.length
      }
    })
  )
  const objectSeconds = (performance.now() - t1) / 1000
  // Said, not thrown: a bench measures (seen twice and not explained, then not in seven runs: bench/README).
  const answered = fetchedRows === rows ? "" : ` (the queries answered ${fmt(fetchedRows)} of them: less work, so this floor is too high)`
  reportFloor(`GraphQL floor: the pages and ${fmt(ids.length)} objects' rows parsed whole${answered}, ${fmt(rows)} rows written raw`, events, bareRate, engineRates, {
    "event pages": bareSeconds,
    "objects' rows": objectSeconds,
    "row writes": rawRowWrites(sim, "graphql")
  })
  await sim.close()
}

const main = async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`skygge Datafordeler benchmark — N = ${fmt(N)} events per path, node ${process.version}, ${new Date().toISOString()}`)
  // SKYGGE_BENCH_DAF_PATHS=pull or =graphql runs one path only.
  const paths = (process.env.SKYGGE_BENCH_DAF_PATHS ?? "pull,graphql").split(",")
  floorMiB = await idleRunPeakRssMiB(`sqlite:${join(dir, "idle.db")}`)
  console.log(`memory floor: an idle skygge run (no sources, empty store), peak RSS ${fmt(floorMiB)} MiB`)
  if (paths.includes("pull")) await pull()
  if (paths.includes("graphql")) await graphql()
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  rmSync(dir, { recursive: true, force: true })
  // A simulator still listening would keep the process (and `npm run bench`) waiting for ever.
  process.exit(1)
})
