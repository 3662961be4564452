/** The test-support port on a SQLite store: its own handle on the (migrated) file, beside the store's. */
import { Effect, Layer } from "effect"
import { openSqlite } from "../../src/store/sqlite/SqliteOpen.js"
import { StoreTestSupport } from "./storeTestSupport.js"

export const SqliteStoreTestSupport = (filename: string): Layer.Layer<StoreTestSupport> =>
  Layer.scoped(
    StoreTestSupport,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => openSqlite({ filename, synchronous: "OFF" })), (db) => Effect.sync(() => db.close())),
      (db) => {
        // Set as it is, whatever it was (the store's own writes are compare-and-set).
        const setCursor = db.prepare<[string, string, string]>(
          "INSERT INTO source_cursors (source, cursor, updated_at) VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at"
        )
        const inbox = db.prepare<[], { n: number; done: number }>("SELECT count(*) AS n, count(processed_at) AS done FROM push_inbox")
        return {
          setCursorAt: (source, cursor, updatedAt) => Effect.sync(() => void setCursor.run(source, cursor, updatedAt)),
          inboxCounts: Effect.sync(() => inbox.get()!)
        }
      }
    )
  )
