/** Source cursors on PostgreSQL: the same statements as on SQLite, one round trip each; every write a compare-and-set. */
import { Clock, Effect, Option } from "effect"
import type pg from "pg"
import { fromEpochMillis } from "../../domain/core/Instant.js"
import type { SourceCursorsShape } from "../SourceCursors.js"
import { StaleWrite, staleOut } from "../StaleWrite.js"
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
  set: (source, cursor, expected) =>
    Effect.flatMap(Clock.currentTimeMillis, (ms) => staleOut(attemptPromise("SourceCursors.set", () => setCursor(pool, { source, cursor, expected }, fromEpochMillis(ms)))))
})

/**
 * The compare-and-set of a source's cursor (run inside the mirror's transaction too, as on SQLite): inserted
 * when `expected` is null and there is none, else updated where it is still `expected`; otherwise it throws
 * StaleWrite (rolling back the transaction it is part of). Under READ COMMITTED a concurrent writer's update
 * is waited for and the condition re-checked against the committed value, so two cannot both succeed.
 */
export const setCursor = async (client: pg.Pool | pg.PoolClient, move: { readonly source: string; readonly cursor: string; readonly expected: string | null }, updatedAt: string): Promise<void> => {
  const written = move.expected === null
    ? await client.query("INSERT INTO source_cursors (source, cursor, updated_at) VALUES ($1, $2, $3) ON CONFLICT (source) DO NOTHING", [move.source, move.cursor, updatedAt])
    : await client.query("UPDATE source_cursors SET cursor = $2, updated_at = $3 WHERE source = $1 AND cursor = $4", [move.source, move.cursor, updatedAt, move.expected])
  if (written.rowCount !== 1) throw new StaleWrite({ operation: "SourceCursors.set", key: move.source })
}
