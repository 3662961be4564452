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
import { Context, Effect, Layer, Runtime } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { StoreOpenError } from "../StoreOpenError.js"

export const pgMigrationsFolder = fileURLToPath(new URL("../../../drizzle/pg", import.meta.url))

export interface PgOptions {
  /** `postgres://user@host:5432/db` (a password, `sslmode` and the like as libpq reads them). */
  readonly url: string
  /** Connections in the pool (default 10). */
  readonly poolSize?: number
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
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(an unreadable postgres URL)"
  }
}

const openError = (url: string, doing: string) => (cause: unknown) =>
  cause instanceof StoreOpenError
    ? cause
    : new StoreOpenError({ message: `cannot ${doing} store ${redactPgUrl(url)}: ${cause instanceof Error ? cause.message : String(cause)}` })

/** A checked pool, ended when the scope closes. */
export const openPgPool = (options: PgOptions) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 })
        // An idle connection the server dropped: the pool discards it and the next query reconnects;
        // without a listener the error would end the process.
        pool.on("error", (e) => Runtime.runFork(runtime)(Effect.logWarning(`store ${redactPgUrl(options.url)}: idle connection lost: ${e.message}`)))
        return pool
      }),
      (pool) => Effect.promise(() => pool.end())
    )
    yield* Effect.tryPromise({ try: () => checkSchema(pool, options.url), catch: openError(options.url, "open") })
    return pool
  })

/**
 * Apply the migrations the database at `url` lacks: their tags, oldest first (none when up to date).
 * One connection holds `pg_advisory_lock` around drizzle's migrator, so concurrent starts take turns.
 */
export const migratePg = (url: string): Effect.Effect<ReadonlyArray<string>, StoreOpenError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const client = new pg.Client({ connectionString: url })
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
