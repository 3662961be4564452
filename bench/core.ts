/**
 * The core's benchmark (`npm run bench`). Every figure is printed beside a
 * reference measured in the same run on the same machine, as a ratio:
 *
 *   (a) raw better-sqlite3: N rows into a table of the store's row shape and
 *       indexes, one prepared statement, one transaction — the local limit;
 *   (b) the engine importing an NDJSON file of N assert operations (decode,
 *       plan, dedup, rows, heads, outbox) in its configured batches; and `skygge
 *       import` as a whole process (start-up included) of N/4 re-registrations;
 *   (c) as-of point query latency on the resulting store (≥ 1M rows at the
 *       default N): the bare SQL statement, the store service in-process, and
 *       `GET /v1/objects/…` against a real `skygge run` over loopback;
 *   (d) peak RSS of `skygge import` child processes for a file of N/10 and of N lines.
 *
 * SKYGGE_BENCH_N sets N (default 800,000 operations → ~1.2M rows).
 * Targets are printed as PASS/MISS; the run always exits 0 (it measures, it does not gate).
 */
import Database from "better-sqlite3"
import { Context, Effect, Exit, Layer, Logger, LogLevel, Option, Scope } from "effect"
import { spawn } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { once } from "node:events"
import { fromEpochMillis } from "../src/domain/core/Instant.js"
import { Store } from "../src/store/Store.js"
import { BULK_WAL_CHECKPOINT_PAGES } from "../src/StoreFromConfig.js"
import { openSqlite } from "../src/store/sqlite/SqliteOpen.js"
import { MigratedSqliteStoreLive } from "../src/store/sqlite/SqliteStoreLive.js"
import { fmt, httpPointQueries, PEAK_RSS_HOOK, peakRssMiB, percentile, verdict } from "./support.js"
import { BASE, engineImport, objectId, reregistrations, workload } from "./workload.js"
import { floorSeconds } from "./floor.js"
import { sqliteWriteSetFloor } from "./sqlite-floor.js"

const N = Number(process.env.SKYGGE_BENCH_N ?? 800_000)
const QUERIES = 20_000
const HTTP_QUERIES = 5_000
const dir = resolve(".bench", `core-${process.pid}`)
const root = resolve(import.meta.dirname, "..")

const { objects, writeFile, pick } = workload(N)

// ---- Helpers ---------------------------------------------------------------------
const results: Array<string> = []
const report = (line: string) => {
  results.push(line)
  console.log(line)
}


const skygge = (args: ReadonlyArray<string>, env: Record<string, string>, nodeArgs: ReadonlyArray<string> = []) =>
  spawn(process.execPath, [...nodeArgs, join(root, "bin/skygge.js"), ...args], {
    cwd: dir,
    env: { ...process.env, ...env, SKYGGE_LOG_LEVEL: "Warn" },
    stdio: ["ignore", "pipe", "pipe"]
  })


/** `skygge import FILE` of `lines` operations in a child process: its wall time (start-up included) and peak RSS. */
const importChild = async (file: string, db: string, lines: number): Promise<{ seconds: number; rss: number }> => {
  const start = performance.now()
  const child = skygge(["import", file], { SKYGGE_STORE_URL: `sqlite:${db}`, SKYGGE_STORE_SYNCHRONOUS: "NORMAL" }, ["--import", PEAK_RSS_HOOK])
  let stderr = "", stdout = ""
  child.stderr.on("data", (d) => (stderr += String(d)))
  child.stdout.on("data", (d) => (stdout += String(d)))
  const [code] = (await once(child, "exit")) as [number]
  const seconds = (performance.now() - start) / 1000
  const rss = peakRssMiB(stderr)
  if (code !== 0 || rss === undefined) throw new Error(`skygge import exited ${code}: ${stderr.slice(-2000)}`)
  if (!stdout.includes(`${fmt(lines)} applied`)) throw new Error(`skygge import did not apply all ${fmt(lines)} operations: ${stdout.slice(-2000)}`)
  return { seconds, rss }
}

// ---- Main ------------------------------------------------------------------------
const main = async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`skygge core benchmark — N = ${fmt(N)} operations, node ${process.version}, ${new Date().toISOString()}`)
  const file = join(dir, "ops.ndjson")
  await writeFile(file, N)

  // (a) Raw insert: the store's row shape and indexes, nothing else.
  const rawDb = new Database(join(dir, "raw.db"))
  rawDb.pragma("journal_mode = WAL")
  rawDb.pragma("synchronous = NORMAL")
  rawDb.pragma("cache_size = -262144")
  rawDb.exec(`CREATE TABLE rows (id integer PRIMARY KEY, object_type text NOT NULL, object_id text NOT NULL,
    registrering_fra text NOT NULL, registrering_til text, virkning_fra text, virkning_til text, data text NOT NULL,
    event_id text NOT NULL, stored_at text NOT NULL, closed_at text);
    CREATE INDEX rows_object_idx ON rows (object_type, object_id, registrering_til);
    CREATE INDEX rows_registered_idx ON rows (registrering_fra);`)
  const insert = rawDb.prepare("INSERT INTO rows (object_type, object_id, registrering_fra, virkning_fra, data, event_id, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
  const now = fromEpochMillis(Date.now())
  const rawStart = performance.now()
  rawDb.transaction(() => {
    for (let k = 0; k < N; k++) {
      const i = k % objects
      insert.run("adresse", objectId(i), fromEpochMillis(BASE + i * 1000), fromEpochMillis(BASE), `{"husnr":"${i % 300}","vejnavn":"Gammelvej ${i}"}`, `ev-${k}`, now)
    }
  })()
  const rawRate = N / ((performance.now() - rawStart) / 1000)
  report(`(a) raw better-sqlite3 insert, one transaction   ${fmt(rawRate).padStart(10)} rows/s`)

  // (b) The engine's import path, in-process (what `skygge import` runs).
  const dbFile = join(dir, "skygge.db")
  const scope = Effect.runSync(Scope.make())
  const services = Effect.runSync(Layer.buildWithScope(MigratedSqliteStoreLive({ filename: dbFile, synchronous: "NORMAL", walCheckpointPages: BULK_WAL_CHECKPOINT_PAGES }).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))), scope))
  const store = Context.get(services, Store)
  const importSeconds = await engineImport(store, file, N)
  const importRate = N / importSeconds
  const stats = Effect.runSync(store.stats)
  const ratio = importRate / rawRate
  report(
    `(b) engine import of N asserts                    ${fmt(importRate).padStart(10)} ops/s   ratio to (a) ${fmt(ratio, 2)}   ` +
      `(${fmt(importSeconds, 1)} s, ${fmt(stats.rows)} rows)   target ≥ 50,000 ops/s and ≥ 0.30: ${verdict(importRate >= 50_000 && ratio >= 0.3)}`
  )

  // (a′) What the import wrote, written again alone: the bound on (b) with this write set.
  const floor = sqliteWriteSetFloor(dbFile, join(dir, "floor.db"), join(dir, "floor-plan.db"), 2000, fromEpochMillis(Date.now()))
  if (floor.operations !== N) throw new Error(`the write set held ${floor.operations} operations, not ${N}`)
  const floorRate = N / floor.seconds
  report(
    `(a′) the engine's write set alone (what (b) wrote, in its batches: set-based statements, no reads or planning) ${fmt(floorRate).padStart(10)} ops/s   ` +
      `ratio to (a) ${fmt(floorRate / rawRate, 2)} (the most (b) can reach with this write set); (b) is ${fmt(importRate / floorRate, 2)} of it\n` +
      `     its seconds: ${floorSeconds(floor)}`
  )
  for (const f of ["floor.db", "floor.db-wal", "floor.db-shm", "floor-plan.db"]) rmSync(join(dir, f), { force: true })

  // The same path as a user runs it: `skygge import` in a child process, start-up included, of issue 17's
  // workload (N/4 asserts on N/40 objects, each re-registered ten times, its validity moving).
  const wholeLines = Math.ceil(N / 4)
  const wholeFile = join(dir, "reregistrations.ndjson")
  await reregistrations(wholeLines).writeFile(wholeFile)
  const whole = await importChild(wholeFile, join(dir, "whole.db"), wholeLines)
  const wholeRate = wholeLines / whole.seconds
  report(
    `    skygge import, whole process (${fmt(wholeLines)} re-registrations) ${fmt(wholeRate).padStart(7)} ops/s   ratio to (a) ${fmt(wholeRate / rawRate, 2)}   ` +
      `(${fmt(whole.seconds, 1)} s)   target ≥ 0.30: ${verdict(wholeRate / rawRate >= 0.3)}`
  )
  rmSync(wholeFile, { force: true })

  // (c) Point queries at random objects and instants.
  // The store's own statement, run bare on a handle of its own (tuned as the store's): the reference for the service's overhead.
  const bareDb = openSqlite({ filename: dbFile, readOnly: true })
  const bare = bareDb.prepare(
    `SELECT id, object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at FROM rows
     WHERE object_type = ? AND object_id = ?
       AND registrering_fra <= ? AND (registrering_til IS NULL OR registrering_til > ?)
       AND (virkning_fra IS NULL OR virkning_fra <= ?) AND (virkning_til IS NULL OR virkning_til > ?)
     ORDER BY registrering_fra DESC, id DESC LIMIT 1`
  )
  const time = (fn: (q: number) => void, count: number) => {
    const samples: Array<number> = []
    for (let q = 0; q < count; q++) {
      const t = performance.now()
      fn(q)
      samples.push(performance.now() - t)
    }
    return samples.sort((a, b) => a - b)
  }
  let found = 0
  const bareQuery = (q: number) => {
    const { objectId: id, r, v } = pick(q)
    if (bare.get("adresse", id, r, r, v, v) !== undefined) found++
  }
  const storeQuery = (q: number) => {
    const { objectId: id, r, v } = pick(q)
    if (Option.isSome(Effect.runSync(store.asOf({ objectType: "adresse", objectId: id, registreringstid: r, virkningstid: v })))) found++
  }
  // Two handles, two page caches: each reads the queries' pages once, untimed, before it is timed.
  time(bareQuery, QUERIES)
  const bareTimes = time(bareQuery, QUERIES)
  time(storeQuery, QUERIES)
  const storeTimes = time(storeQuery, QUERIES)
  bareDb.close()
  Effect.runSync(Scope.close(scope, Exit.void))
  const bp99 = percentile(bareTimes, 0.99), sp99 = percentile(storeTimes, 0.99)
  report(`(c) point query, bare SQL statement               p50 ${fmt(percentile(bareTimes, 0.5) * 1000).padStart(5)} µs   p99 ${fmt(bp99 * 1000).padStart(5)} µs`)
  report(
    `    point query, store in-process                 p50 ${fmt(percentile(storeTimes, 0.5) * 1000).padStart(5)} µs   p99 ${fmt(sp99 * 1000).padStart(5)} µs` +
      `   p99 ratio to bare ${fmt(sp99 / bp99, 1)}   target p99 < 1 ms: ${verdict(sp99 < 1)}`
  )

  const http = await httpPointQueries(`sqlite:${dbFile}`, HTTP_QUERIES, pick)
  found += http.found
  const hp99 = percentile(http.times, 0.99)
  report(
    `    point query, GET over loopback HTTP           p50 ${fmt(percentile(http.times, 0.5) * 1000).padStart(5)} µs   p99 ${fmt(hp99 * 1000).padStart(5)} µs` +
      `   p99 ratio to in-process ${fmt(hp99 / sp99, 1)}`
  )
  if (found === 0) throw new Error("no query found a row: the workload and the queries disagree")

  // (d) Peak RSS of the import command for a small and a large file, beside its floor: an import of one line.
  const one = join(dir, "one.ndjson")
  await writeFile(one, 1)
  const rssFloor = (await importChild(one, join(dir, "rss-one.db"), 1)).rss
  const small = join(dir, "small.ndjson")
  await writeFile(small, Math.ceil(N / 10))
  const rssSmall = (await importChild(small, join(dir, "rss-small.db"), Math.ceil(N / 10))).rss
  const rssLarge = (await importChild(file, join(dir, "rss-large.db"), N)).rss
  report(
    `(d) peak RSS of skygge import, 1 line (the floor: runtime, bundle, store) ${fmt(rssFloor).padStart(6)} MiB\n` +
      `    peak RSS of skygge import, N/10 lines        ${fmt(rssSmall).padStart(6)} MiB\n` +
      `    peak RSS of skygge import, N lines           ${fmt(rssLarge).padStart(6)} MiB   ratio ${fmt(rssLarge / rssSmall, 2)}   target flat (≤ 1.5) and ≤ 256 MiB: ${verdict(rssLarge / rssSmall <= 1.5 && rssLarge <= 256)}`
  )
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  rmSync(dir, { recursive: true, force: true })
  process.exitCode = 1
})
