/** The test-support port on a PostgreSQL store: its own pooled connection to the (migrated) database, beside the store's. */
import { Effect, Layer } from "effect"
import pg from "pg"
import { StoreTestSupport } from "./storeTestSupport.js"

export const PgStoreTestSupport = (url: string): Layer.Layer<StoreTestSupport> =>
  Layer.scoped(
    StoreTestSupport,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => new pg.Pool({ connectionString: url, max: 1 })), (pool) => Effect.promise(() => pool.end())),
      (pool) => ({
        // Set as it is, whatever it was (the store's own writes are compare-and-set).
        setCursorAt: (source, cursor, updatedAt) =>
          Effect.promise(() =>
            pool.query("INSERT INTO source_cursors (source, cursor, updated_at) VALUES ($1, $2, $3) ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at", [source, cursor, updatedAt])
          ),
        inboxCounts: Effect.promise(async () => {
          const counts = (await pool.query<{ n: string; done: string }>("SELECT count(*) AS n, count(processed_at) AS done FROM push_inbox")).rows[0]!
          return { n: Number(counts.n), done: Number(counts.done) }
        })
      })
    )
  )
