/** Source cursors on PostgreSQL: the same statements as on SQLite, one round trip each. */
import { Clock, Effect, Option } from "effect"
import type pg from "pg"
import { fromEpochMillis } from "../../domain/core/Instant.js"
import type { SourceCursorsShape } from "../SourceCursors.js"
import { attemptPromise } from "../StoreError.js"

type CursorRow = { readonly source: string; readonly cursor: string; readonly updatedAt: string }

export const makePgSourceCursors = (pool: pg.Pool | pg.PoolClient): SourceCursorsShape => ({
  list: attemptPromise("SourceCursors.list", async () =>
    (await pool.query<CursorRow>('SELECT source, cursor, updated_at AS "updatedAt" FROM source_cursors ORDER BY source')).rows),
  get: (source) =>
    attemptPromise("SourceCursors.get", async () => {
      const found = await pool.query<Omit<CursorRow, "source">>('SELECT cursor, updated_at AS "updatedAt" FROM source_cursors WHERE source = $1', [source])
      return Option.fromNullable(found.rows[0])
    }),
  set: (source, cursor) =>
    Effect.flatMap(Clock.currentTimeMillis, (ms) => attemptPromise("SourceCursors.set", () => setCursor(pool, source, cursor, fromEpochMillis(ms))))
})

/** The upsert of a source's cursor (to be run inside the mirror's transaction too, as on SQLite). */
export const setCursor = async (client: pg.Pool | pg.PoolClient, source: string, cursor: string, updatedAt: string): Promise<void> => {
  await client.query(
    "INSERT INTO source_cursors (source, cursor, updated_at) VALUES ($1, $2, $3) ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
    [source, cursor, updatedAt]
  )
}
