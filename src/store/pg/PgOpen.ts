/**
 * Opening a PostgreSQL store: a `pg.Pool` from a `postgres://` URL, checked on acquire (one round
 * trip, so a wrong host or password fails at start, not at the first write) and ended on release;
 * it refuses a database whose schema is behind this skygge, as the SQLite store does. Migrating is
 * its own step (`migratePg`), taken under a session advisory lock so that two processes starting
 * together apply each migration once: the second waits, then finds nothing to do.
 * Messages name the store by its URL without the password.
 */
import { drizzle } from "drizzle-orm/node-postgres"
import { migrate } from "drizzle-orm/node-postgres/migrator"
import { Context, Effect, Layer, Redacted, Runtime } from "effect"
import { readFileSync } from "node:fs"
import pg from "pg"
import { StoreOpenError } from "../StoreOpenError.js"
import { StorePool } from "../StorePool.js"
import { inProject } from "../../ProjectRoot.js"

export const pgMigrationsFolder = inProject("drizzle", "pg")

export interface PgOptions {
  /** `postgres://user@host:5432/db` (a password, `sslmode` and the like as libpq reads them). */
  readonly url: string
  /** Connections in the pool (default 10). */
  readonly poolSize?: number
  /** The password when the URL has none (a password in the URL wins). */
  readonly password?: Redacted.Redacted | undefined
  /** A PEM file of the CA(s) that sign the server's certificate: libpq's `sslrootcert`, so TLS on and verified. */
  readonly sslCa?: string | undefined
  /** Told the pool once it is open and checked (see `pgPoolWatcher`). */
  readonly onPoolOpen?: ((pool: pg.Pool) => void) | undefined
}

/** A wrong host or a dead network fails the start after this long instead of hanging. */
const connectTimeoutMillis = 10_000

/**
 * The URL node-postgres connects with: the password and the CA folded in as libpq's own URL keys, so
 * that pg's parsing of `sslmode` and the rest applies unchanged (pg lets its connection string override
 * separate `password` and `ssl` options, so they cannot be passed beside it). Idempotent.
 */
export const pgConnectionUrl = (options: Pick<PgOptions, "url" | "password" | "sslCa">): string => {
  if (options.password === undefined && options.sslCa === undefined) return options.url
  const url = new URL(options.url)
  // pg decodes the password with decodeURIComponent; the setter leaves a `%` as it is.
  if (url.password === "" && options.password !== undefined) url.password = encodeURIComponent(Redacted.value(options.password))
  if (options.sslCa !== undefined) url.searchParams.set("sslrootcert", options.sslCa)
  return url.toString()
}

/**
 * The options of every connection: keepalive on (a connection a firewall dropped is found out), a
 * connect timeout, and the CA file checked first so that a missing one is named as such.
 */
export const connectionConfig = (options: PgOptions): pg.ClientConfig => {
  const connectionString = pgConnectionUrl(options)
  const ca = new URL(connectionString).searchParams.get("sslrootcert")
  if (ca !== null) {
    try {
      readFileSync(ca)
    } catch (e) {
      throw new StoreOpenError({
        message: `cannot open store ${redactPgUrl(options.url)}: cannot read its CA file ${ca} (store.sslCa or sslrootcert): ${(e as NodeJS.ErrnoException).code ?? String(e)}`
      })
    }
  }
  return { connectionString, keepAlive: true, connectionTimeoutMillis: connectTimeoutMillis }
}

/** The pool of connections to the store's database. */
export class PgPool extends Context.Tag("skygge/PgPool")<PgPool, pg.Pool>() {
  /** A pool on a migrated database (else it fails, saying to migrate). */
  static readonly layer = (options: PgOptions): Layer.Layer<PgPool, StoreOpenError> => Layer.scoped(PgPool, openPgPool(options))
}

/** The URL as it may be shown: without its password. */
export const redactPgUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    // `postgres://u:pa/ss@host/db` parses as host `pa`, path `/ss@host/db`: hide all before the last @.
    if (parsed.pathname.includes("@")) return url.replace(/\/\/.*@/, "//***@")
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(an unreadable postgres URL)"
  }
}

const openError = (url: string, doing: string) => (cause: unknown) =>
  cause instanceof StoreOpenError
    ? cause
    : new StoreOpenError({ message: `cannot ${doing} store ${redactPgUrl(url)}: ${describeCause(cause)}` })

/** pg's errors name the user and the database, never the password; a connect timeout has an unhelpful message of its own. */
const describeCause = (cause: unknown): string => {
  const message = cause instanceof Error ? cause.message : String(cause)
  if (/timeout/i.test(message)) return `no answer within ${connectTimeoutMillis / 1000} s (${message}): check the host, the port and the network`
  if (message.length === 0 && cause instanceof AggregateError) return cause.errors.map(describeCause).join("; ")
  return message
}

/** A checked pool, ended when the scope closes. */
export const openPgPool = (options: PgOptions) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const pool = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const pool = new pg.Pool({ ...connectionConfig(options), max: options.poolSize ?? 10 })
          // An idle connection the server dropped: the pool discards it and the next query reconnects;
          // without a listener the error would end the process. Said once an episode (a restarted server
          // drops every idle connection at once), again only after a connection has been made since.
          let lost = false
          pool.on("connect", () => (lost = false))
          pool.on("error", (e) => {
            if (lost) return
            lost = true
            Runtime.runFork(runtime)(Effect.logWarning(`store ${redactPgUrl(options.url)}: idle connection lost (the next query reconnects): ${describeCause(e)}`))
          })
          return pool
        },
        catch: openError(options.url, "open")
      }),
      (pool) => Effect.promise(() => pool.end())
    )
    yield* Effect.tryPromise({ try: () => checkSchema(pool, options.url), catch: openError(options.url, "open") })
    options.onPoolOpen?.(pool)
    return pool
  })

/**
 * Apply the migrations the database at `url` lacks: their tags, oldest first (none when up to date).
 * One connection holds `pg_advisory_lock` around drizzle's migrator, so concurrent starts take turns.
 */
export const migratePg = (store: string | PgOptions): Effect.Effect<ReadonlyArray<string>, StoreOpenError> => {
  const options = typeof store === "string" ? { url: store } : store
  const url = options.url
  return Effect.scoped(
    Effect.gen(function* () {
      const client = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const client = new pg.Client(connectionConfig(options))
            client.on("error", () => {}) // reported by the query that fails
            await client.connect()
            return client
          },
          catch: openError(url, "connect to")
        }),
        (client) => Effect.promise(() => client.end().catch(() => {}))
      )
      return yield* Effect.tryPromise({ try: () => migrateLocked(client), catch: openError(url, "migrate") })
    })
  )
}

/** The key of the advisory lock migrations take (any fixed 64-bit number; this one spells "skygge"). */
const migrationLock = "126905435514725" // 0x736b79676765 (PostgreSQL 15 reads no hex literals)

const migrateLocked = async (client: pg.Client): Promise<ReadonlyArray<string>> => {
  await client.query(`SELECT pg_advisory_lock(${migrationLock})`)
  try {
    const before = new Set(await appliedStamps(client))
    await migrate(drizzle(client), { migrationsFolder: pgMigrationsFolder })
    const after = new Set(await appliedStamps(client))
    return journal().filter((entry) => after.has(entry.when) && !before.has(entry.when)).map((entry) => entry.tag)
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${migrationLock})`)
  }
}

/** The migrations this skygge knows for PostgreSQL, oldest first. Read once. */
let known: ReadonlyArray<{ readonly tag: string; readonly when: number }> | undefined
const journal = () => (known ??= (JSON.parse(readFileSync(`${pgMigrationsFolder}/meta/_journal.json`, "utf8")) as { entries: Array<{ tag: string; when: number }> }).entries)

/** The `created_at` stamps drizzle recorded (none before the first migration). */
const appliedStamps = async (client: pg.Pool | pg.Client): Promise<ReadonlyArray<number>> => {
  const exists = await client.query<{ present: boolean }>("SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS present")
  if (exists.rows[0]?.present !== true) return []
  const stamps = await client.query<{ stamp: string }>("SELECT created_at::text AS stamp FROM drizzle.__drizzle_migrations")
  return stamps.rows.map((r) => Number(r.stamp))
}

/** Opening does not migrate: a new or older database must be migrated first (`skygge migrate`). */
const checkSchema = async (pool: pg.Pool, url: string) => {
  const applied = (await appliedStamps(pool)).length
  const needed = journal().length
  if (applied < needed) {
    throw new StoreOpenError({ message: `store ${redactPgUrl(url)} has ${applied} of the ${needed} migrations this skygge needs: migrate it first (skygge migrate)` })
  }
}

/**
 * The pool's counts for /metrics (`StorePool`), from a store layer that keeps its pool to itself: pass
 * `watch` as the options' `onPoolOpen`, provide `layer` beside the store. Counts are 0 until the pool opens.
 */
export const pgPoolWatcher = () => {
  let watched: pg.Pool | undefined
  return {
    watch: (pool: pg.Pool) => {
      watched = pool
    },
    layer: Layer.succeed(StorePool, {
      stats: Effect.sync(() => ({ total: watched?.totalCount ?? 0, idle: watched?.idleCount ?? 0, waiting: watched?.waitingCount ?? 0 }))
    })
  }
}
