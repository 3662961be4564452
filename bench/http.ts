/**
 * The HTTP and start-up benchmark (`npm run bench:http`, part of `npm run bench`). Each figure beside
 * a reference measured in the same run:
 *
 *   (h) as-of point queries under load: 32 keep-alive connections over loopback, random objects among
 *       ≥ 50k, against a real `skygge run` child on a SQLite store, and against a bare node:http
 *       server (bench/http-bare.mjs, its own child) running the same statement on the same file;
 *   (s) start-up: the real `skygge get …` (bin/skygge.js) against `node -e 0`, each run several times.
 *
 * SKYGGE_BENCH_HTTP_OBJECTS sets the object count (default 50,000; 1.5 rows each),
 * SKYGGE_BENCH_HTTP_SECONDS the measured seconds per server (default 5, after 3 s of warm-up each, in 5 turns
 * taken alternately with the other server), SKYGGE_BENCH_HTTP_PARTS which lines to measure (default `h,s`;
 * `s` alone for the start-up, which needs no servers).
 * The load generator is a few lines of node:net (below): keep-alive HTTP/1.1, one request in flight per
 * connection. On 2 cores a Node client costs about what the server does, and with 32 requests always in
 * flight its own turn time is in every latency: when `wrk` is installed (Debian: `apt-get install wrk`)
 * both servers are measured with it too (bench/http-wrk.lua, one thread), and its figures decide the verdict.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { once } from "node:events"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { MigratedSqliteStoreLive } from "../src/store/sqlite/SqliteStoreLive.js"
import { Store } from "../src/store/Store.js"
import { fmt, freePort, percentile, verdict } from "./support.js"
import { engineImport, workload } from "./workload.js"

const OBJECTS = Number(process.env.SKYGGE_BENCH_HTTP_OBJECTS ?? 50_000)
const SECONDS = Number(process.env.SKYGGE_BENCH_HTTP_SECONDS ?? 5)
const PARTS = new Set((process.env.SKYGGE_BENCH_HTTP_PARTS ?? "h,s").split(",").map((p) => p.trim()))
const CONNECTIONS = 32
// Long enough for each server's caches and compiled code, and skygge run's first heartbeats and prunes, before the count.
const WARMUP = 3
// Turns of SECONDS / ROUNDS each server takes.
const ROUNDS = 5
const STARTS = 7
const root = resolve(import.meta.dirname, "..")
const dir = resolve(".bench", `http-${process.pid}`)

/** Spawns a server child and waits for its port to answer. */
const startServer = async (child: ChildProcess, port: number, name: string): Promise<ChildProcess> => {
  let stderr = ""
  child.stderr?.on("data", (d) => (stderr += String(d)))
  child.stdout?.resume()
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${stderr.slice(-2000)}`)
    const ok = await new Promise<boolean>((done) => {
      const s = connect(port, "127.0.0.1", () => (s.end(), done(true)))
      s.on("error", () => done(false))
    })
    if (ok) return child
    if (attempt > 600) throw new Error(`${name} did not listen: ${stderr.slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGTERM")
  await once(child, "exit")
}

interface Sample {
  readonly times: Array<number>
  readonly statuses: Map<number, number>
  readonly seconds: number
}

interface Load {
  readonly rate: number
  readonly p50: number
  readonly p99: number
  readonly statuses: Map<number, number>
}

/** Rounds of one server as one figure. */
const summary = (samples: ReadonlyArray<Sample>): Load => {
  const times = samples.flatMap((s) => s.times).sort((a, b) => a - b)
  const statuses = new Map<number, number>()
  for (const s of samples) for (const [status, n] of s.statuses) statuses.set(status, (statuses.get(status) ?? 0) + n)
  return { rate: times.length / samples.reduce((sum, s) => sum + s.seconds, 0), p50: percentile(times, 0.5), p99: percentile(times, 0.99), statuses }
}

/**
 * `CONNECTIONS` keep-alive connections, each sending its next GET as soon as the previous answer is whole
 * (Content-Length bodies only: both servers answer so), for `seconds` after `warmup` seconds.
 */
const load = (port: number, path: (q: number) => string, warmup: number, seconds: number): Promise<Sample> =>
  new Promise((done, fail) => {
    const times: Array<number> = []
    const statuses = new Map<number, number>()
    let q = 0
    const t0 = performance.now()
    const measureFrom = t0 + warmup * 1000
    const end = measureFrom + seconds * 1000
    let open = CONNECTIONS
    for (let c = 0; c < CONNECTIONS; c++) {
      const socket = connect(port, "127.0.0.1")
      socket.setNoDelay(true)
      let sent = 0
      let buffer: Buffer = Buffer.alloc(0)
      const send = () => {
        sent = performance.now()
        socket.write(`GET ${path(q++)} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
      }
      socket.on("connect", send)
      socket.on("data", (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
        const head = buffer.indexOf("\r\n\r\n")
        if (head === -1) return
        const headers = buffer.subarray(0, head).toString("latin1")
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers)
        if (length === null) return fail(new Error(`an answer without content-length: ${headers}`))
        const total = head + 4 + Number(length[1])
        if (buffer.length < total) return
        if (buffer.length > total) return fail(new Error("more bytes than one answer"))
        buffer = Buffer.alloc(0)
        const now = performance.now()
        if (sent >= measureFrom) {
          times.push(now - sent)
          const status = Number(headers.slice(9, 12))
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
        }
        if (now < end) send()
        else socket.end()
      })
      socket.on("error", fail)
      socket.on("close", () => {
        if (--open > 0) return
        done({ times, statuses, seconds })
      })
    }
  })

/**
 * With CONNECTIONS requests always in flight, a server's mean latency is CONNECTIONS / rate (Little's law), and
 * a p99 is never below the mean: the rate a p99 of 2 ms needs at the least, beside what each server reached.
 */
const littlesLaw = (bare: Load, skygge: Load): string =>
  `    ${CONNECTIONS} in flight: mean latency = ${CONNECTIONS} / rate (Little's law): bare ${fmt((1000 * CONNECTIONS) / bare.rate, 2)} ms, ` +
  `skygge ${fmt((1000 * CONNECTIONS) / skygge.rate, 2)} ms; a p99 ≤ 2 ms needs ≥ ${fmt(CONNECTIONS / 0.002)} req/s, ` +
  `bare reached ${fmt(bare.rate)} (${fmt(bare.rate / (CONNECTIONS / 0.002), 2)} of it) on this machine`

/** wrk on PATH, or undefined. */
const wrkPath = (): string | undefined => {
  const found = spawnSync("sh", ["-c", "command -v wrk"], { encoding: "utf8" })
  return found.status === 0 && found.stdout.trim().length > 0 ? found.stdout.trim() : undefined
}

/** `seconds` of wrk (one thread, CONNECTIONS connections) over the paths in `pathsFile`. */
const wrkLoad = async (wrk: string, port: number, pathsFile: string, seconds: number): Promise<Load> => {
  const child = spawn(wrk, ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", "-s", join(root, "bench/http-wrk.lua"), `http://127.0.0.1:${port}`], {
    env: { ...process.env, SKYGGE_WRK_PATHS: pathsFile },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  child.stdout.on("data", (d) => (out += String(d)))
  child.stderr.on("data", (d) => (out += String(d)))
  await once(child, "exit")
  const m = /RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+) errors=(\d+)/.exec(out)
  if (m === null) throw new Error(`wrk printed no result: ${out.slice(-2000)}`)
  const [requests, durationUs, p50, p99, non2xx, errors] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const statuses = new Map<number, number>([[200, requests - non2xx - errors]])
  if (non2xx > 0) statuses.set(0, non2xx)
  if (errors > 0) statuses.set(-1, errors)
  return { rate: requests / (durationUs / 1e6), p50: p50 / 1000, p99: p99 / 1000, statuses }
}

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Wall seconds of `node args…`, the median of STARTS runs (one untimed first, for the file cache). */
const startSeconds = (args: ReadonlyArray<string>, env: Record<string, string>): number => {
  const run = () => {
    const t = performance.now()
    const r = spawnSync(process.execPath, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${String(r.stderr).slice(-2000)}`)
    return (performance.now() - t) / 1000
  }
  run()
  return median(Array.from({ length: STARTS }, run))
}

const main = async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`skygge HTTP and start-up benchmark — ${fmt(OBJECTS)} objects, ${CONNECTIONS} connections, ${SECONDS} s per server, node ${process.version}, ${new Date().toISOString()}`)
  const n = OBJECTS * 2
  const { writeFile, pick } = workload(n)
  const file = join(dir, "ops.ndjson")
  await writeFile(file, n)
  const dbFile = join(dir, "skygge.db")
  const scope = Effect.runSync(Scope.make())
  const services = Effect.runSync(
    Layer.buildWithScope(MigratedSqliteStoreLive({ filename: dbFile, synchronous: "NORMAL" }).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))), scope)
  )
  await engineImport(Context.get(services, Store), file, n)
  Effect.runSync(Scope.close(scope, Exit.void))

  const path = (q: number) => {
    const { objectId, r, v } = pick(q)
    return `/v1/objects/adresse/${objectId}?registreringstid=${r}&virkningstid=${v}`
  }
  const line = (name: string, l: Load) =>
    `${name} ${fmt(l.rate).padStart(8)} req/s   p50 ${fmt(l.p50, 2).padStart(6)} ms   p99 ${fmt(l.p99, 2).padStart(6)} ms   (${[...l.statuses].map(([s, c]) => `${fmt(c)}×${s}`).join(", ")})`

  if (PARTS.has("h")) {
    // (h) Both servers up side by side (the idle one costs nothing), each warmed up, then measured in turns,
    // so that what else the machine does meanwhile falls on both alike.
    const barePort = await freePort()
    const bareServer = await startServer(spawn(process.execPath, [join(root, "bench/http-bare.mjs"), dbFile, String(barePort)], { stdio: ["ignore", "pipe", "pipe"] }), barePort, "the bare server")
    const port = await freePort()
    const engine = await startServer(
      spawn(process.execPath, [join(root, "bin/skygge.js"), "run"], {
        cwd: dir,
        env: { ...process.env, SKYGGE_STORE_URL: `sqlite:${dbFile}`, SKYGGE_API_PORT: String(port), SKYGGE_API_HOST: "127.0.0.1", SKYGGE_LOG_LEVEL: "Warn" },
        stdio: ["ignore", "pipe", "pipe"]
      }),
      port,
      "skygge run"
    )
    const bareSamples: Array<Sample> = [], skyggeSamples: Array<Sample> = []
    const wrk = wrkPath()
    const pathsFile = join(dir, "paths.txt")
    if (wrk !== undefined) writeFileSync(pathsFile, Array.from({ length: 100_000 }, (_, q) => path(q)).join("\n") + "\n")
    const wrkBare: Array<Load> = [], wrkSkygge: Array<Load> = []
    try {
      await load(barePort, path, WARMUP, 0)
      await load(port, path, WARMUP, 0)
      for (let round = 0; round < ROUNDS; round++) {
        bareSamples.push(await load(barePort, path, 0, SECONDS / ROUNDS))
        skyggeSamples.push(await load(port, path, 0, SECONDS / ROUNDS))
      }
      if (wrk !== undefined) {
        for (let round = 0; round < ROUNDS; round++) {
          wrkBare.push(await wrkLoad(wrk, barePort, pathsFile, Math.max(1, Math.round(SECONDS / ROUNDS))))
          wrkSkygge.push(await wrkLoad(wrk, port, pathsFile, Math.max(1, Math.round(SECONDS / ROUNDS))))
        }
      }
    } finally {
      await Promise.all([stop(bareServer), stop(engine)])
    }
    const bare = summary(bareSamples), skygge = summary(skyggeSamples)
    console.log(line("(h) as-of GET, bare node:http + the same SQL    ", bare))
    const ratio = skygge.rate / bare.rate
    const target = "target ≥ 0.5 of bare and p99 ≤ 2 ms"
    console.log(
      `${line("    as-of GET, skygge run                       ", skygge)}\n` +
        `    ratio to bare ${fmt(ratio, 2)}   ${wrk === undefined ? `${target}: ${verdict(ratio >= 0.5 && skygge.p99 <= 2)} (install wrk for a client that costs less)` : "(node client)"}`
    )
    if ((skygge.statuses.get(200) ?? 0) === 0 || skygge.statuses.size !== 1) throw new Error("skygge run did not answer every query with a row")
    if (wrk !== undefined) {
      // Each round's rate, the median round's latencies (wrk reports percentiles per run, not its samples).
      const middle = (loads: ReadonlyArray<Load>): Load => {
        const byRate = [...loads].sort((a, b) => a.rate - b.rate)
        const statuses = new Map<number, number>()
        for (const l of loads) for (const [s, n] of l.statuses) statuses.set(s, (statuses.get(s) ?? 0) + n)
        return { ...byRate[Math.floor(byRate.length / 2)]!, statuses }
      }
      const wb = middle(wrkBare), ws = middle(wrkSkygge)
      const wrkRatio = ws.rate / wb.rate
      console.log(line("    as-of GET (wrk), bare node:http + the same SQL", wb))
      console.log(
        `${line("    as-of GET (wrk), skygge run                 ", ws)}\n` +
          `    ratio to bare ${fmt(wrkRatio, 2)}   ${target}: ${verdict(wrkRatio >= 0.5 && ws.p99 <= 2)}`
      )
      if (ws.statuses.size !== 1) throw new Error("skygge run did not answer every wrk query with a row")
      console.log(littlesLaw(wb, ws))
    }
  }

  if (PARTS.has("s")) {
    // (s) Start-up of the real command, one as-of question, against the runtime alone.
    const nodeAlone = startSeconds(["-e", "0"], {})
    const get = startSeconds([join(root, "bin/skygge.js"), "get", "adresse", pick(1).objectId], { SKYGGE_STORE_URL: `sqlite:${dbFile}`, SKYGGE_LOG_LEVEL: "Warn" })
    console.log(
      `(s) start-up, node -e 0                         ${fmt(nodeAlone, 3).padStart(6)} s\n` +
        `    start-up, skygge get (bin/skygge.js)        ${fmt(get, 3).padStart(6)} s   ratio ${fmt(get / nodeAlone, 1)}   ` +
        `over node -e 0 ${fmt(get - nodeAlone, 3)} s   target ≤ 0.3 s: ${verdict(get <= 0.3)}`
    )
  }
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  rmSync(dir, { recursive: true, force: true })
  process.exitCode = 1
})
