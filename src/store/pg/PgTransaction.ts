/**
 * One unit of work of a PostgreSQL store adapter: one pooled client, `BEGIN` … `COMMIT`, `ROLLBACK`
 * when the work fails (and the client released either way), its failure a StoreError naming
 * `operation`. Default isolation (READ COMMITTED), as the SQLite adapters' IMMEDIATE transactions
 * need no more: a write waits for a concurrent writer's row locks, a claim skips them, and writers
 * of history take turns on the history lock (PgHistory). A serialization failure or a deadlock the
 * server broke (it rolls one party back) is retried a few times: the work reads again and plans anew.
 */
import type { Effect } from "effect"
import type pg from "pg"
import { attemptPromise, type StoreError } from "../StoreError.js"

/** serialization_failure, deadlock_detected: the transaction lost a race and may simply be run again. */
const RETRYABLE = new Set(["40001", "40P01"])
const ATTEMPTS = 5

export const inPgTransaction = <A>(pool: pg.Pool, operation: string, work: (client: pg.PoolClient) => Promise<A>): Effect.Effect<A, StoreError> =>
  attemptPromise(operation, () => pgTransaction(pool, work))

/** The same unit of work as a promise, for a statement that is one step of a larger promise. */
export const pgTransaction = async <A>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<A>): Promise<A> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(pool, work)
    } catch (e) {
      if (attempt >= ATTEMPTS || !RETRYABLE.has((e as { code?: unknown }).code as string)) throw e
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * (0.5 + Math.random())))
    }
  }
}

const once = async <A>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<A>): Promise<A> => {
  const client = await pool.connect()
  let broken: Error | undefined
  // The pool listens for errors on idle clients only: a connection lost while this one is checked out
  // would be an unhandled 'error' event, ending the process. The query in hand fails with it (and is
  // reported as a StoreError); the client is discarded on release.
  const lost = (e: Error) => void (broken = e)
  client.on("error", lost)
  try {
    await client.query("BEGIN")
    const result = await work(client)
    await client.query("COMMIT")
    return result
  } catch (e) {
    // A client whose ROLLBACK fails too is in an unknown state: the pool discards it.
    await client.query("ROLLBACK").catch((rollback: unknown) => {
      broken = rollback instanceof Error ? rollback : new Error(String(rollback))
    })
    throw e
  } finally {
    client.off("error", lost)
    client.release(broken)
  }
}
