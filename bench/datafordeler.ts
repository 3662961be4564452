/**
 * The Datafordeler PULL benchmark (`npm run bench:datafordeler`): one legacy PULL
 * page of N events (default 100,000, the upstream maximum; SKYGGE_BENCH_DAF_N)
 * from the register simulator, each carrying the rows it changed (as MAT's and
 * EBR's events do), decoded and applied end to end by a real `skygge run` in a
 * child process whose cursor is set just before the events: events/s until
 * every row is in the store, counted from when its API answers (start-up, i.e.
 * loading the TypeScript sources, is printed apart), and the child's peak RSS. Reference in the same
 * run: fetching the same page and parsing it whole with JSON.parse.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { once } from "node:events"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { fromEpochMillis } from "../src/domain/Instant.js"
import { startDafSimulator } from "../src/sources/datafordeler/simulator/DafSimulator.js"
import { makeSqliteSourceCursors } from "../src/store/sqlite/SqliteSourceCursors.js"
import { makeSqliteStore, openSqlite } from "../src/store/sqlite/SqliteStore.js"
import { fmt, freePort, PEAK_RSS_HOOK, peakRssMiB } from "./support.js"

const N = Number(process.env.SKYGGE_BENCH_DAF_N ?? 100_000)
const dir = resolve(".bench", `daf-${process.pid}`)
const root = resolve(import.meta.dirname, "..")


const main = async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`skygge Datafordeler PULL benchmark — one page of N = ${fmt(N)} events, node ${process.version}, ${new Date().toISOString()}`)
  const sim = await startDafSimulator({ seed: 5, inlineRows: true })
  const before = fromEpochMillis(Date.now() - 1000)
  sim.randomChanges(N)
  const events = sim.events()
  const rows = sim.ids().reduce((n, id) => n + sim.rows(id).length, 0)
  await new Promise((r) => setTimeout(r, 50))
  const to = fromEpochMillis(Date.now() + 1000)

  // Reference: the same page fetched and parsed whole.
  const url = `${sim.baseUrl}/system/EventMessages/1.0.0/custom?datefrom=${before}&dateto=${to}&page=1&pagesize=100000&format=json`
  const t0 = performance.now()
  const page = JSON.parse(await (await fetch(url)).text()) as Array<unknown>
  const bareSeconds = (performance.now() - t0) / 1000
  if (page.length !== events) throw new Error(`the page holds ${page.length} of ${events} events`)
  const bareRate = events / bareSeconds
  console.log(`bare: fetch the page and JSON.parse it whole          ${fmt(bareRate).padStart(9)} events/s   (${fmt(bareSeconds, 2)} s)`)

  // The engine: its cursor just before the events, so its first window is the whole page.
  const dbFile = join(dir, "skygge.db")
  const db = openSqlite({ filename: dbFile, synchronous: "NORMAL" })
  Effect.runSync(makeSqliteSourceCursors(db).set("dar", before))
  const store = makeSqliteStore(db)
  const configFile = join(dir, "skygge.json")
  const port = await freePort()
  writeFileSync(
    configFile,
    JSON.stringify({
      store: { url: `sqlite:${dbFile}`, synchronous: "NORMAL" },
      api: { host: "127.0.0.1", port },
      activations: { enabled: false },
      log: { level: "Warn" },
      sources: [
        {
          kind: "datafordeler",
          name: "dar",
          pull: { url: sim.baseUrl, pageSize: 100_000, lagSeconds: 0, overlapSeconds: 0, pollSeconds: 0.5 },
          entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
        }
      ]
    })
  )
  const start = performance.now()
  const child = spawn(process.execPath, ["--import", PEAK_RSS_HOOK, join(root, "bin/skygge.js"), "run", "--config", configFile], { stdio: ["ignore", "ignore", "pipe"] })
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
  child.kill("SIGTERM")
  await once(child, "exit")
  db.close()
  await sim.close()
  const rss = peakRssMiB(stderr)
  const afterReady = ready === undefined ? seconds : seconds - (ready - start) / 1000
  const rate = events / afterReady
  console.log(
    `engine: skygge run, PULL → decode → mirror → commit    ${fmt(rate).padStart(9)} events/s   (${fmt(afterReady, 2)} s after start-up; ${fmt(events / seconds)} events/s over ${fmt(seconds, 2)} s with it; ${fmt(rows)} rows)   ` +
      `ratio ${fmt(rate / bareRate, 2)}   peak RSS ${rss === undefined ? "?" : fmt(rss)} MiB   target ≥ 20,000 events/s: ${rate >= 20_000 ? "PASS" : "MISS"}`
  )
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  rmSync(dir, { recursive: true, force: true })
  process.exitCode = 1
})
