/**
 * Several engines on one PostgreSQL (`npm run bench:cluster`, also part of `npm run bench`).
 *
 *   IntArk: M notifications (M distinct persons) published by the provider process (bench/intark-provider.ts,
 *           the FS simulator's API and notifications) into one queue; 1, then 2, then 3 `skygge run` processes
 *           on one PostgreSQL database consume it as competing consumers and fetch from the simulator. Timed
 *           from the publish until every person is registered; printed as notifications/s beside the one-process
 *           figure of the same run, with each process's CPU seconds (on 2 cores the curve is bounded by them:
 *           the provider, PostgreSQL and RabbitMQ share the same cores).
 *   Datafordeler: N_DAF GraphQL row events already waiting; 1, 2, 3 processes follow the path from eventid 0
 *           until every row is mirrored. The path is a singleton — one process reads and mirrors it whatever the
 *           count — so the curve is flat by design; printed to show it, with CPU per process.
 *   Takeover: three processes; the holder of the activation scheduler is killed (SIGKILL) K times; the time
 *           until another process holds it (as GET /v1/cluster reports), printed as median and worst.
 *
 * SKYGGE_BENCH_M sets M (default 10,000), SKYGGE_BENCH_DAF_N N_DAF (default 20,000); SKYGGE_BENCH_PG the server (default postgres://postgres@127.0.0.1:5432).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { once } from "node:events"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { performance } from "node:perf_hooks"
import pg from "pg"
import { fromEpochMillis } from "../src/domain/core/Instant.js"
import { startDafSimulator } from "../src/sources/datafordeler/simulator/DafSimulator.js"
import { childCpuSeconds, fmt, freePort, percentile } from "./support.js"

const M = Number(process.env.SKYGGE_BENCH_M ?? 10_000)
const AMQP_URL = process.env.SKYGGE_BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"
const PG_SERVER = process.env.SKYGGE_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432"
const KILLS = 5
const N_DAF = Number(process.env.SKYGGE_BENCH_DAF_N ?? 20_000)
const dir = resolve(".bench", `cluster-${process.pid}`)
const bin = fileURLToPath(new URL("../bin/skygge.js", import.meta.url))
const tag = `skygge-bench-${randomBytes(4).toString("hex")}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const admin = async <A>(f: (c: pg.Client) => Promise<A>): Promise<A> => {
  const c = new pg.Client({ connectionString: `${PG_SERVER}/postgres` })
  try {
    await c.connect()
  } catch (e) {
    throw new Error(`PostgreSQL is not reachable at ${PG_SERVER} (${(e as Error).message}); start it with 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'`)
  }
  try {
    return await f(c)
  } finally {
    await c.end()
  }
}

const newDatabase = async (name: string) => {
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  return `${PG_SERVER}/${name}`
}
const dropDatabase = (name: string) => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))

/** The provider process: the FS simulator's API, publishing M changes of distinct persons on "go". */
const provider = async (exchange: string) => {
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "intark-provider.ts"), "sim", AMQP_URL, exchange, String(M)], { stdio: ["pipe", "pipe", "inherit"] })
  const lines = createInterface({ input: child.stdout! })
  const next = () => new Promise<Record<string, unknown>>((r) => lines.once("line", (l) => r(JSON.parse(l) as Record<string, unknown>)))
  const baseUrl = String((await next()).ready)
  return {
    baseUrl,
    go: () => child.stdin!.write("go\n"),
    stop: async () => {
      child.stdin!.end()
      if (child.exitCode === null) await once(child, "exit")
    }
  }
}

const startEngine = (configFile: string, port: number, name: string): ChildProcess =>
  spawn(process.execPath, [bin, "run", "--config", configFile], {
    env: { ...process.env, SKYGGE_API_PORT: String(port), SKYGGE_CLUSTER_MEMBER_NAME: name, SKYGGE_LOG_LEVEL: "Error" },
    stdio: ["ignore", "ignore", "inherit"]
  })

const untilAnswers = async (url: string) => {
  for (let i = 0; i < 300; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return
    await sleep(100)
  }
  throw new Error(`${url} did not answer`)
}

const metric = async (port: number, name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  return Number(new RegExp(`^${name} ([0-9.]+)`, "m").exec(text)?.[1] ?? 0)
}

/** n engines on a fresh database consuming M notifications: notifications/s and each engine's CPU seconds. */
const intarkRun = async (n: number) => {
  const db = `skygge_bench_cluster_${process.pid}_${n}`
  const url = await newDatabase(db)
  const exchange = `${tag}-${n}-fs`, queue = `${tag}-${n}-q`
  const sim = await provider(exchange)
  const configFile = join(dir, `cluster-${n}.json`)
  writeFileSync(configFile, JSON.stringify({
    store: { url, poolSize: 8 },
    api: { host: "127.0.0.1" },
    sources: [{
      kind: "intark",
      name: "bench",
      format: "fs",
      amqp: { url: AMQP_URL, queue, declare: true, exchange, bindings: ["no.uio.fs.FS-prod.personer.*"] },
      provider: { baseUrl: sim.baseUrl, concurrency: 32, deletion: { header: { name: "x-fs-origin", value: "fs-api" } } },
      resources: { personer: { objectType: "fs.person" } }
    }]
  }))
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()))
  const engines = ports.map((p, i) => startEngine(configFile, p, `engine-${i}`))
  try {
    for (const p of ports) await untilAnswers(`http://127.0.0.1:${p}/ready`)
    await sleep(500) // every consumer attached
    const cpuBefore = engines.map((e) => childCpuSeconds(e.pid!))
    const start = performance.now()
    sim.go()
    for (;;) {
      if ((await metric(ports[0]!, "skygge_objects")) >= M) break
      if (performance.now() - start > 600_000) throw new Error(`${n} engines: not every person registered after 10 minutes`)
      await sleep(50)
    }
    const seconds = (performance.now() - start) / 1000
    return { rate: M / seconds, cpu: engines.map((e, i) => childCpuSeconds(e.pid!) - cpuBefore[i]!), seconds }
  } finally {
    for (const e of engines) {
      e.kill("SIGKILL")
      if (e.exitCode === null && e.signalCode === null) await once(e, "exit")
    }
    await sim.stop()
    await dropDatabase(db)
  }
}

/** n engines following one GraphQL path from eventid 0 over N_DAF waiting row events: events/s and CPU per process. */
const datafordelerRun = async (n: number) => {
  const sim = await startDafSimulator({ seed: 7 })
  while (sim.rowEvents() < N_DAF) sim.randomChanges(1000)
  const rows = sim.ids().reduce((k, id) => k + sim.rows(id).length, 0)
  const db = `skygge_bench_cluster_${process.pid}_daf_${n}`
  const url = await newDatabase(db)
  const configFile = join(dir, `daf-${n}.json`)
  const byIds = "query ($ids: [String!]!) { DAR_Adresse(where: { id_lokalId: { in: $ids } }) { nodes { id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid } } }"
  writeFileSync(configFile, JSON.stringify({
    store: { url, poolSize: 8 },
    api: { host: "127.0.0.1" },
    sources: [{ kind: "datafordeler", name: "dar", graphql: { url: sim.graphqlUrl, register: "DAR", pageSize: 10_000, pollSeconds: 0.5, concurrency: 16 }, entities: { Adresse: { objectType: "dar.adresse", graphql: { query: byIds } } } }]
  }))
  // The store migrated and the path's cursor set before any engine starts (no first-start full load).
  const migrate = spawn(process.execPath, [bin, "migrate", "--config", configFile], { stdio: "ignore" })
  await once(migrate, "exit")
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query("INSERT INTO source_cursors (source, cursor, updated_at) VALUES ('dar:graphql', '0', $1)", [fromEpochMillis(Date.now())])
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()))
  const start = performance.now()
  const engines = ports.map((p, i) => startEngine(configFile, p, `engine-${i}`))
  try {
    for (;;) {
      if (Number((await client.query("SELECT count(*) AS n FROM rows")).rows[0].n) >= rows) break
      if (performance.now() - start > 600_000) throw new Error(`${n} engines: not every row mirrored after 10 minutes`)
      await sleep(100)
    }
    const seconds = (performance.now() - start) / 1000
    return { rate: sim.rowEvents() / seconds, cpu: engines.map((e) => childCpuSeconds(e.pid!)), seconds }
  } finally {
    for (const e of engines) {
      e.kill("SIGKILL")
      if (e.exitCode === null && e.signalCode === null) await once(e, "exit")
    }
    await client.end()
    await sim.close()
    await dropDatabase(db)
  }
}

/** Three engines; the activation scheduler's holder killed KILLS times: ms until another holds it. */
const takeovers = async () => {
  const db = `skygge_bench_cluster_${process.pid}_takeover`
  const url = await newDatabase(db)
  const configFile = join(dir, "takeover.json")
  writeFileSync(configFile, JSON.stringify({ store: { url, poolSize: 4 }, api: { host: "127.0.0.1" } }))
  const ports = await Promise.all([0, 1, 2].map(() => freePort()))
  const engines = ports.map((p, i) => startEngine(configFile, p, `engine-${i}`))
  const holder = async (): Promise<number | undefined> => {
    for (let i = 0; i < engines.length; i++) {
      const view = await fetch(`http://127.0.0.1:${ports[i]}/v1/cluster`).then((r) => (r.ok ? (r.json() as Promise<{ members: Array<{ id: string; name: string }>; singletons: Array<{ name: string; holder: string | null }> }>) : undefined), () => undefined)
      if (view === undefined) continue
      const id = view.singletons.find((s) => s.name === "activations")?.holder
      const name = view.members.find((m) => m.id === id)?.name
      return name === undefined ? undefined : Number(name.replace("engine-", ""))
    }
    return undefined
  }
  const times: Array<number> = []
  try {
    for (const p of ports) await untilAnswers(`http://127.0.0.1:${p}/ready`)
    for (let k = 0; k < KILLS; k++) {
      let h: number | undefined
      while ((h = await holder()) === undefined) await sleep(50)
      const victim = engines[h]!
      victim.kill("SIGKILL")
      await once(victim, "exit")
      const killed = performance.now()
      for (;;) {
        const next = await holder()
        if (next !== undefined && next !== h) break
        await sleep(20)
      }
      times.push(performance.now() - killed)
      engines[h] = startEngine(configFile, ports[h]!, `engine-${h}`)
      await untilAnswers(`http://127.0.0.1:${ports[h]}/ready`)
    }
  } finally {
    for (const e of engines) {
      e.kill("SIGKILL")
      if (e.exitCode === null && e.signalCode === null) await once(e, "exit")
    }
    await dropDatabase(db)
  }
  return times.sort((a, b) => a - b)
}

const main = async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`skygge cluster benchmark — M = ${fmt(M)} notifications, one PostgreSQL, node ${process.version}, ${new Date().toISOString()}`)
  let one = 0
  for (const n of [1, 2, 3]) {
    const r = await intarkRun(n)
    if (n === 1) one = r.rate
    console.log(
      `IntArk, ${n} process${n > 1 ? "es" : "  "}: ${fmt(r.rate).padStart(7)} notifications/s   ratio to one ${fmt(r.rate / one, 2)}   ` +
        `CPU per process ${r.cpu.map((c) => `${fmt(c, 1)} s`).join(", ")} over ${fmt(r.seconds, 1)} s`
    )
  }
  let oneDaf = 0
  for (const n of [1, 2, 3]) {
    const r = await datafordelerRun(n)
    if (n === 1) oneDaf = r.rate
    console.log(
      `Datafordeler GraphQL, ${n} process${n > 1 ? "es" : "  "}: ${fmt(r.rate).padStart(7)} events/s   ratio to one ${fmt(r.rate / oneDaf, 2)}   ` +
        `CPU per process ${r.cpu.map((c) => `${fmt(c, 1)} s`).join(", ")} over ${fmt(r.seconds, 1)} s (start-up included; one leads the path)`
    )
  }
  const t = await takeovers()
  console.log(`takeover of the activation scheduler after SIGKILL of its holder (${KILLS} kills, default cluster.* settings): median ${fmt(percentile(t, 0.5))} ms, worst ${fmt(t[t.length - 1]!)} ms`)
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  rmSync(dir, { recursive: true, force: true })
  process.exitCode = 1
})
