/** The PUSH inbox on PostgreSQL: the statements of the SQLite one, a recorded batch one transaction. */
import { Clock, Effect } from "effect"
import type pg from "pg"
import { fromEpochMillis } from "../../domain/core/Instant.js"
import type { PushInboxShape } from "../PushInbox.js"
import { attemptPromise } from "../StoreError.js"
import { inPgTransaction } from "./PgTransaction.js"

export const makePgPushInbox = (pool: pg.Pool): PushInboxShape => {
  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  return {
    record: (source, events) =>
      Effect.flatMap(now, (at) =>
        inPgTransaction(pool, "PushInbox.record", async (client) => {
          let recorded = 0
          for (const e of events) {
            const inserted = await client.query(
              "INSERT INTO push_inbox (source, envelope_id, received_at, body) VALUES ($1, $2, $3, $4) ON CONFLICT (source, envelope_id) DO NOTHING",
              [source, e.envelopeId, at, e.body]
            )
            recorded += inserted.rowCount ?? 0
          }
          return { recorded, duplicates: events.length - recorded }
        })),
    pending: (source, limit) =>
      attemptPromise("PushInbox.pending", async () => {
        const found = await pool.query<{ id: string; envelopeId: string; body: string }>(
          'SELECT id, envelope_id AS "envelopeId", body FROM push_inbox WHERE source = $1 AND processed_at IS NULL ORDER BY id LIMIT $2',
          [source, limit]
        )
        return found.rows.map((r) => ({ ...r, id: Number(r.id) })) // bigint comes as text
      }),
    markProcessed: (ids) =>
      Effect.flatMap(now, (at) =>
        attemptPromise("PushInbox.markProcessed", async () => {
          await pool.query("UPDATE push_inbox SET processed_at = $1 WHERE id = ANY($2::bigint[])", [at, ids])
        })),
    prune: (before) =>
      attemptPromise("PushInbox.prune", async () => (await pool.query("DELETE FROM push_inbox WHERE processed_at IS NOT NULL AND received_at < $1", [before])).rowCount ?? 0),
    pendingCount: attemptPromise("PushInbox.pendingCount", async () =>
      (await pool.query<{ n: number }>("SELECT count(*)::integer AS n FROM push_inbox WHERE processed_at IS NULL")).rows[0]!.n)
  }
}
