/**
 * The store on PostgreSQL (`npm run bench:pg`), with SQLite's figures from the same run beside
 * it. Every figure is printed beside a reference measured in the same run, as a ratio:
 *
 *   (a) raw `COPY rows FROM STDIN` of N rows into a table with the store's row columns and
 *       indexes (`LIKE rows INCLUDING ALL`), one statement — the server's limit; and, for scale,
 *       the same N rows by `INSERT … SELECT FROM unnest(…)` in 2,000-row transactions;
 *   (b) the engine importing the NDJSON file of N assert operations of bench/core.ts through
 *       `Store.ingest` on PgStoreLive, in its configured batches (2,000); SQLite's engine import
 *       of the same file, for comparison;
 *   (c) as-of point query latency on the resulting store (≥ 1M rows at the default N): the
 *       statement `Store.asOf` runs, bare on one pg client, and `Store.asOf` in-process (SQLite's
 *       in-process figure beside it);
 *   (d) this process's peak RSS after importing N/10 operations (into a database of their own)
 *       and after importing N.
 *
 * A database `skygge_bench_<pid>` (and `…_small` for (d)) is created on SKYGGE_BENCH_PG (default
 * postgres://postgres@127.0.0.1:5432), migrated with migratePg, and dropped at the end, also on
 * failure or interrupt. SKYGGE_BENCH_N sets N (default 800,000). The run always exits 0 unless it
 * could not measure.
 */
import { Context, Effect, Exit, Layer, Logger, LogLevel, Option, Scope } from "effect"
import { once } from "node:events"
import { mkdirSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import pg from "pg"
import { fromEpochMillis } from "../src/domain/core/Instant.js"
import { canonicalJson } from "../src/domain/core/Operation.js"
import { migratePg } from "../src/store/pg/PgOpen.js"
import { AS_OF_SQL } from "../src/store/pg/PgStore.js"
import { PgStoreLive } from "../src/store/pg/PgStoreLive.js"
import { MigratedSqliteStoreLive } from "../src/store/sqlite/SqliteStoreLive.js"
import { Store, type StoreShape } from "../src/store/Store.js"
import type { StoreServices } from "../src/store/StoreServices.js"
import type { StoreOpenError } from "../src/store/StoreOpenError.js"
import { fmt, httpPointQueries, percentile, verdict } from "./support.js"
import { BASE, DAY, engineImport, objectId, workload } from "./workload.js"
import { floorSeconds } from "./floor.js"
import { writeSetFloor } from "./pg-floor.js"

const N = Number(process.env.SKYGGE_BENCH_N ?? 800_000)
const BATCH = 2000
const QUERIES = 20_000
const HTTP_QUERIES = 5_000
const server = process.env.SKYGGE_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432"
const database = `skygge_bench_${process.pid}`
const smallDatabase = `${database}_small`
const dir = resolve(".bench", `pg-${process.pid}`)
const { objects, writeFile, pick } = workload(N)

// ---- Databases -------------------------------------------------------------------
/** Run `work` on a client of its own, connected to `url`. */
const withClient = async <A>(url: string, work: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}
const onDatabase = (url: string, sql: string) => withClient(url, (client) => client.query(sql))
const onAdmin = (sql: string) => onDatabase(`${server}/postgres`, sql)
const created: Array<string> = []
const createDatabase = async (name: string) => {
  await onAdmin(`CREATE DATABASE "${name}"`)
  created.push(name)
  const url = `${server}/${name}`
  await Effect.runPromise(migratePg(url))
  return url
}
const cleanUp = async () => {
  rmSync(dir, { recursive: true, force: true })
  for (let name = created.pop(); name !== undefined; name = created.pop()) await onAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)))
}

/** Build a store's layer in a scope of its own: its Store and the scope to close. */
const openStore = async (layer: Layer.Layer<StoreServices, StoreOpenError>) => {
  const scope = Effect.runSync(Scope.make())
  const services = await Effect.runPromise(Layer.buildWithScope(layer.pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))), scope))
  return { store: Context.get(services, Store), close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

// ---- The raw reference (a) ----------------------------------------------------------
/**
 * The raw row k: the first half of the rows are closed ones (registrering_til set), the second
 * half current, so that no two current rows of an object overlap in virkning (the store's
 * exclusion constraint, which the copied table has too).
 */
const rawRow = (k: number, now: string) => {
  const i = k % objects
  const second = k >= objects
  const data = canonicalJson({ vejnavn: second ? `Nyvej ${i}` : `Gammelvej ${i}`, husnr: String(i % 300), postnr: 1000 + (i % 8000), status: "gældende" })
  const fra = fromEpochMillis(BASE + (second ? 400 : 1) * DAY + i * 1000)
  const til = second ? null : fromEpochMillis(BASE + 400 * DAY + i * 1000)
  return ["adresse", objectId(i), fra, til, fromEpochMillis(BASE + (second ? 200 : 0) * DAY), null, data, `ev-${k}`, now, til === null ? null : now] as const
}
const RAW_COLUMNS = "object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at, closed_at"

/** `COPY … FROM STDIN` on pg's own protocol (no pg-copy-streams): sends `chunks` when the server asks, minding back-pressure. */
class CopyFrom extends pg.Query {
  constructor(text: string, private readonly chunks: () => Iterable<string>) {
    super(text)
  }
  handleCopyInResponse(connection: { sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void; sendCopyFail(m: string): void; stream: NodeJS.WritableStream & { writableNeedDrain: boolean } }) {
    void (async () => {
      try {
        for (const chunk of this.chunks()) {
          connection.sendCopyFromChunk(Buffer.from(chunk))
          if (connection.stream.writableNeedDrain) await once(connection.stream, "drain")
        }
        connection.endCopyFrom()
      } catch (e) {
        connection.sendCopyFail(String(e))
      }
    })()
  }
}
const copyFrom = (client: pg.Client, text: string, chunks: () => Iterable<string>) =>
  new Promise<void>((done, fail) => {
    const query = client.query(new CopyFrom(text, chunks))
    query.on("end", () => done())
    query.on("error", fail)
  })

function* copyText(now: string): Iterable<string> {
  let lines: Array<string> = []
  for (let k = 0; k < N; k++) {
    lines.push(rawRow(k, now).map((v) => v ?? "\\N").join("\t"))
    if (lines.length === 5000) {
      yield lines.join("\n") + "\n"
      lines = []
    }
  }
  if (lines.length > 0) yield lines.join("\n") + "\n"
}

const rawReference = (url: string) =>
  withClient(url, async (client) => {
    const now = fromEpochMillis(Date.now())
    await client.query("CREATE TABLE raw_copy (LIKE rows INCLUDING ALL); CREATE TABLE raw_unnest (LIKE rows INCLUDING ALL)")
    const copyStart = performance.now()
    await copyFrom(client, `COPY raw_copy (${RAW_COLUMNS}) FROM STDIN`, () => copyText(now))
    const copyRate = N / ((performance.now() - copyStart) / 1000)
    const unnestStart = performance.now()
    for (let from = 0; from < N; from += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, N - from) }, (_, j) => rawRow(from + j, now))
      await client.query(
        `INSERT INTO raw_unnest (${RAW_COLUMNS})
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])`,
        Array.from({ length: 10 }, (_, c) => batch.map((row) => row[c]))
      )
    }
    const unnestRate = N / ((performance.now() - unnestStart) / 1000)
    const copied = Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM raw_copy")).rows[0]!.n)
    if (copied !== N) throw new Error(`COPY stored ${copied} rows, not ${N}`)
    await client.query("DROP TABLE raw_copy; DROP TABLE raw_unnest")
    return { copyRate, unnestRate }
  })

// ---- Point queries (c) --------------------------------------------------------------
const timeQueries = async (query: (q: number) => Promise<boolean>) => {
  let found = 0
  const samples: Array<number> = []
  for (let q = 0; q < QUERIES; q++) await query(q) // untimed: the pages the queries read come into the caches
  for (let q = 0; q < QUERIES; q++) {
    const t = performance.now()
    if (await query(q)) found++
    samples.push(performance.now() - t)
  }
  if (found === 0) throw new Error("no query found a row: the workload and the queries disagree")
  return samples.sort((a, b) => a - b)
}
const storeQuery = (store: StoreShape) => async (q: number) => {
  const { objectId: id, r, v } = pick(q)
  return Option.isSome(await Effect.runPromise(store.asOf({ objectType: "adresse", objectId: id, registreringstid: r, virkningstid: v })))
}
const latency = (label: string, times: ReadonlyArray<number>) =>
  `${label.padEnd(50)}p50 ${fmt(percentile(times, 0.5) * 1000).padStart(5)} µs   p99 ${fmt(percentile(times, 0.99) * 1000).padStart(5)} µs`
const peakRss = () => process.resourceUsage().maxRSS / 1024

// ---- Main ------------------------------------------------------------------------
const main = async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`skygge PostgreSQL benchmark — N = ${fmt(N)} operations, node ${process.version}, ${new Date().toISOString()}`)
  const file = join(dir, "ops.ndjson"), small = join(dir, "small.ndjson")
  await writeFile(file, N)
  await writeFile(small, Math.ceil(N / 10))
  const smallUrl = await createDatabase(smallDatabase)
  const url = await createDatabase(database)
  const version = await withClient(url, async (client) => (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version)
  console.log(`PostgreSQL ${version} at ${server.replace(/:[^:@/]*@/, ":***@")}, database ${database}`)

  // (d, first half) The engine importing N/10 operations, into a database of their own.
  const smallStore = await openStore(PgStoreLive({ url: smallUrl }))
  await engineImport(smallStore.store, small, Math.ceil(N / 10))
  await smallStore.close()
  const rssSmall = peakRss()

  // (b) The engine importing N operations.
  const { store, close } = await openStore(PgStoreLive({ url }))
  const importSeconds = await engineImport(store, file, N)
  const importRate = N / importSeconds
  const rssLarge = peakRss()
  const stats = await Effect.runPromise(store.stats)

  // (a) The raw references, in the same database.
  const { copyRate, unnestRate } = await rawReference(url)
  console.log(`(a) raw COPY FROM STDIN of N rows, one statement  ${fmt(copyRate).padStart(10)} rows/s`)
  console.log(`    raw unnest insert, ${fmt(BATCH)} rows a transaction ${fmt(unnestRate).padStart(10)} rows/s   ratio to COPY ${fmt(unnestRate / copyRate, 2)}`)
  const ratio = importRate / copyRate
  // (a′) What the import wrote, written again alone: the bound on (b) with this write set; and the same
  // without the exclusion constraint, for its share.
  const floorUrl = await createDatabase(`${database}_floor`)
  const bareUrl = await createDatabase(`${database}_floor_bare`)
  await onDatabase(bareUrl, "ALTER TABLE rows DROP CONSTRAINT rows_current_virkning_excl")
  const [floor, bare] = await withClient(url, (engine) =>
    withClient(floorUrl, (target) => withClient(bareUrl, (unconstrained) => writeSetFloor(engine, [target, unconstrained], BATCH, fromEpochMillis(Date.now())))))
  for (const f of [floor!, bare!]) if (f.operations !== N) throw new Error(`the write set held ${f.operations} operations, not ${N}`)
  const floorRate = N / floor!.seconds, bareRate = N / bare!.seconds
  console.log(
    `(a′) the engine's write set alone (what (b) wrote: its statements, batches and lock, no reads or planning) ${fmt(floorRate).padStart(10)} ops/s   ` +
      `ratio to COPY ${fmt(floorRate / copyRate, 2)} (the most (b) can reach with this write set); (b) is ${fmt(importRate / floorRate, 2)} of it\n` +
      `     its seconds: ${floorSeconds(floor!)}\n` +
      `     the same without the exclusion constraint ${fmt(bareRate).padStart(10)} ops/s   ratio to COPY ${fmt(bareRate / copyRate, 2)}; its seconds: ${floorSeconds(bare!)}`
  )
  console.log(
    `(b) engine import of N asserts (PostgreSQL)       ${fmt(importRate).padStart(10)} ops/s   ratio to COPY ${fmt(ratio, 2)}, to unnest ${fmt(importRate / unnestRate, 2)}   ` +
      `(${fmt(importSeconds, 1)} s, ${fmt(stats.rows)} rows)   target ≥ 20,000 ops/s and ≥ 0.30: ${verdict(importRate >= 20_000 && ratio >= 0.3)}`
  )

  // (c) Point queries: the store's statement bare on one client, then the store in-process.
  const bareTimes = await withClient(url, (bare) =>
    timeQueries(async (q) => {
      const { objectId: id, r, v } = pick(q)
      return (await bare.query(AS_OF_SQL, ["adresse", id, r, v])).rows.length > 0
    }))
  const storeTimes = await timeQueries(storeQuery(store))
  await close()
  const bp99 = percentile(bareTimes, 0.99), sp99 = percentile(storeTimes, 0.99)
  console.log(latency(`(c) point query, bare SQL (one pg client)`, bareTimes))
  console.log(`${latency(`    point query, Store.asOf in-process`, storeTimes)}   p99 ratio to bare ${fmt(sp99 / bp99, 1)}   target p99 < 1 ms: ${verdict(sp99 < 1)}`)
  // Over HTTP: a real `skygge run` on the same database.
  const http = await httpPointQueries(url, HTTP_QUERIES, pick)
  if (http.found === 0) throw new Error("no HTTP query found a row: the workload and the queries disagree")
  const hp99 = percentile(http.times, 0.99)
  console.log(`${latency(`    point query, GET over HTTP (skygge run)`, http.times)}   p99 ratio to bare ${fmt(hp99 / bp99, 1)}, to in-process ${fmt(hp99 / sp99, 1)}`)

  // (d) Peak RSS, flat in N.
  console.log(`(d) peak RSS after importing N/10 operations       ${fmt(rssSmall).padStart(6)} MiB`)
  console.log(`    peak RSS after importing N operations         ${fmt(rssLarge).padStart(6)} MiB   ratio ${fmt(rssLarge / rssSmall, 2)}   target flat (≤ 1.5): ${verdict(rssLarge / rssSmall <= 1.5)}`)

  // SQLite on the same workload, for comparison (bench/core.ts measures it against its own reference).
  const sqlite = await openStore(MigratedSqliteStoreLive({ filename: join(dir, "skygge.db"), synchronous: "NORMAL" }))
  const sqliteRate = N / (await engineImport(sqlite.store, file, N))
  const sqliteTimes = await timeQueries(storeQuery(sqlite.store))
  await sqlite.close()
  console.log(`SQLite: engine import of N asserts                ${fmt(sqliteRate).padStart(10)} ops/s   PostgreSQL/SQLite ${fmt(importRate / sqliteRate, 2)}`)
  console.log(`${latency(`SQLite: point query, Store.asOf in-process`, sqliteTimes)}   PostgreSQL/SQLite p99 ${fmt(sp99 / percentile(sqliteTimes, 0.99), 1)}`)
}

main()
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(cleanUp)
