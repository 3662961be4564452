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

const rowsOf = (sim: DafSimulator) => sim.ids().reduce((n, id) => n + sim.rows(id).length, 0)

/** `skygge run` with one source until the store holds `rows` rows: seconds after start-up, in all, its CPU time, and peak RSS. */
const runEngine = async (name: string, source: Record<string, unknown>, cursor: { name: string; value: string }, rows: number) => {
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
  const child = spawn(process.execPath, [...profile, "--import", PEAK_RSS_HOOK, join(root, "bin/skygge.js"), "run", "--config", configFile], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d) => (stderr += String(d)))
  // When the API answers, start-up (loading and compiling the TypeScript sources) is over.
  let ready: number | undefined
  for (;;) {
    if (ready === undefined) {
      const up = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)
      if (up) ready = performance.now()
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
  return { afterReady: ready === undefined ? seconds : seconds - (ready - start) / 1000, seconds, cpu, rss: peakRssMiB(stderr) }
}

/** Targets (issue 17): events/s as a share of parsing the same events whole, and the child's peak RSS. */
const RSS_TARGET_MIB = 256
/** The idle `skygge run`'s peak RSS, measured first: the part of each path's peak that is not the path's. */
let floorMiB: number | undefined

const report = (label: string, events: number, rows: number, bareRate: number, ratioTarget: number, run: Awaited<ReturnType<typeof runEngine>>) => {
  const rate = events / run.afterReady
  const ratio = rate / bareRate
  console.log(
    `${label} ${fmt(rate).padStart(9)} events/s   (${fmt(run.afterReady, 2)} s after start-up; ${fmt(events / run.seconds)} events/s over ${fmt(run.seconds, 2)} s with it; ${fmt(rows)} rows)\n` +
      `    child CPU ${run.cpu === undefined ? "?" : fmt(run.cpu, 1)} s (user + system, start-up included) in ${fmt(run.seconds, 1)} s wall\n` +
      `    ratio to parse-only ${fmt(ratio, 2)} (target ≥ ${fmt(ratioTarget, 2)}: ${verdict(ratio >= ratioTarget)})   ` +
      `peak RSS ${run.rss === undefined ? "?" : fmt(run.rss)} MiB (target ≤ ${RSS_TARGET_MIB}: ${verdict(run.rss !== undefined && run.rss <= RSS_TARGET_MIB)})` +
      (run.rss !== undefined && floorMiB !== undefined ? `, ${fmt(run.rss - floorMiB)} MiB above the idle floor` : "")
  )
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
  const run = await runEngine(
    "pull",
    {
      pull: { url: sim.baseUrl, pageSize: 100_000, lagSeconds: 0, overlapSeconds: 0, pollSeconds: 0.5 },
      entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
    },
    { name: "dar", value: before },
    rows
  )
  await sim.close()
  report("PULL engine: skygge run, PULL → decode → mirror → commit  ", events, rows, bareRate, 0.7, run)
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
  const run = await runEngine(
    "graphql",
    {
      graphql: { url: sim.graphqlUrl, register: "DAR", pageSize: GRAPHQL_PAGE, pollSeconds: 0.5, concurrency: 16 },
      entities: { Adresse: { objectType: "dar.adresse", graphql: { query: byIds } } }
    },
    { name: "dar:graphql", value: "0" },
    rows
  )
  await sim.close()
  report(`GraphQL engine: events → fold → fetch ${fmt(sim.ids().length)} objects → mirror`, events, rows, bareRate, 0.3, run)
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
  process.exitCode = 1
})
