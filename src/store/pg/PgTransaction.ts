/**
 * One unit of work of a PostgreSQL store adapter: one pooled client, `BEGIN` … `COMMIT`, `ROLLBACK`
 * when the work fails (and the client released either way), its failure a StoreError naming
 * `operation`. Default isolation (READ COMMITTED), as the SQLite adapters' IMMEDIATE transactions
 * need no more: a write waits for a concurrent writer's row locks, a claim skips them.
 */
import type { Effect } from "effect"
import type pg from "pg"
import { attemptPromise, type StoreError } from "../StoreError.js"

export const inPgTransaction = <A>(pool: pg.Pool, operation: string, work: (client: pg.PoolClient) => Promise<A>): Effect.Effect<A, StoreError> =>
  attemptPromise(operation, async () => {
    const client = await pool.connect()
    let broken: Error | undefined
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
      client.release(broken)
    }
  })
