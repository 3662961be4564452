/** The test-support port on a PostgreSQL store: its own pooled connection to the (migrated) database, beside the store's. */
import { Effect, Layer } from "effect"
import pg from "pg"
import { setCursor } from "../../src/store/pg/PgSourceCursors.js"
import { StoreTestSupport } from "./storeTestSupport.js"

export const PgStoreTestSupport = (url: string): Layer.Layer<StoreTestSupport> =>
  Layer.scoped(
    StoreTestSupport,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => new pg.Pool({ connectionString: url, max: 1 })), (pool) => Effect.promise(() => pool.end())),
      (pool) => ({
        setCursorAt: (source, cursor, updatedAt) => Effect.promise(() => setCursor(pool, source, cursor, updatedAt)),
        inboxCounts: Effect.promise(async () => {
          const counts = (await pool.query<{ n: string; done: string }>("SELECT count(*) AS n, count(processed_at) AS done FROM push_inbox")).rows[0]!
          return { n: Number(counts.n), done: Number(counts.done) }
        })
      })
    )
  )
