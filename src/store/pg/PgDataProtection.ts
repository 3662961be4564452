/** Retention and minimisation primitives on PostgreSQL: the statements of the SQLite ones; writes of history under its lock. */
import type pg from "pg"
import type { DataProtectionShape, StoredText } from "../DataProtection.js"
import { attemptPromise } from "../StoreError.js"
import { lockHistory } from "./PgHistory.js"
import { inPgTransaction } from "./PgTransaction.js"

const asStored = (rows: ReadonlyArray<{ key: string | number; text: string }>): ReadonlyArray<StoredText> => rows.map((r) => ({ key: Number(r.key), text: r.text }))

export const makePgDataProtection = (pool: pg.Pool): DataProtectionShape => {
  const count = async (sql: string, params: ReadonlyArray<unknown>) => (await pool.query<{ n: number }>(sql, [...params])).rows[0]!.n
  const rewrite = (operation: string, table: "rows" | "events", column: "data" | "operation", key: "id" | "seq") => (updates: ReadonlyArray<StoredText>) =>
    inPgTransaction(pool, operation, async (client) => {
      if (updates.length === 0) return 0
      await lockHistory(client)
      const written = await client.query(
        `UPDATE ${table} SET ${column} = u.text FROM unnest($1::bigint[], $2::text[]) AS u(key, text) WHERE ${table}.${key} = u.key`,
        [updates.map((u) => u.key), updates.map((u) => u.text)]
      )
      return written.rowCount ?? 0
    })
  return {
    rowData: (objectType, afterId, limit) =>
      attemptPromise("DataProtection.rowData", async () =>
        asStored((await pool.query('SELECT id AS key, data AS text FROM rows WHERE object_type = $1 AND id > $2 ORDER BY id LIMIT $3', [objectType, afterId, limit])).rows)),
    rewriteRowData: rewrite("DataProtection.rewriteRowData", "rows", "data", "id"),
    eventOperations: (objectType, afterSeq, limit) =>
      attemptPromise("DataProtection.eventOperations", async () =>
        asStored((await pool.query("SELECT seq AS key, operation AS text FROM events WHERE object_type = $1 AND seq > $2 ORDER BY seq LIMIT $3", [objectType, afterSeq, limit])).rows)),
    rewriteEventOperations: rewrite("DataProtection.rewriteEventOperations", "events", "operation", "seq"),
    pruneClosed: (objectType, before, dryRun) =>
      dryRun
        ? attemptPromise("DataProtection.pruneClosed", () =>
            count("SELECT count(*)::integer AS n FROM rows WHERE object_type = $1 AND registrering_til IS NOT NULL AND registrering_til < $2", [objectType, before]))
        : inPgTransaction(pool, "DataProtection.pruneClosed", async (client) => {
            await lockHistory(client)
            await client.query(
              "DELETE FROM activations WHERE status <> 'pending' AND row_id IN (SELECT id FROM rows WHERE object_type = $1 AND registrering_til IS NOT NULL AND registrering_til < $2)",
              [objectType, before]
            )
            const deleted = await client.query("DELETE FROM rows WHERE object_type = $1 AND registrering_til IS NOT NULL AND registrering_til < $2", [objectType, before])
            return deleted.rowCount ?? 0
          }),
    pruneRefusedInputs: (before, dryRun) =>
      attemptPromise("DataProtection.pruneRefusedInputs", async () =>
        dryRun
          ? count("SELECT count(*)::integer AS n FROM refused WHERE input IS NOT NULL AND received_at < $1", [before])
          : (await pool.query("UPDATE refused SET input = NULL WHERE input IS NOT NULL AND received_at < $1", [before])).rowCount ?? 0),
    prunePushBodies: (before, dryRun) =>
      attemptPromise("DataProtection.prunePushBodies", async () =>
        dryRun
          ? count("SELECT count(*)::integer AS n FROM push_inbox WHERE processed_at IS NOT NULL AND processed_at < $1 AND body <> ''", [before])
          : (await pool.query("UPDATE push_inbox SET body = '' WHERE processed_at IS NOT NULL AND processed_at < $1 AND body <> ''", [before])).rowCount ?? 0),
    objectTypes: attemptPromise("DataProtection.objectTypes", async () =>
      (await pool.query<{ t: string }>("SELECT DISTINCT object_type AS t FROM rows ORDER BY object_type")).rows.map((r) => r.t))
  }
}
