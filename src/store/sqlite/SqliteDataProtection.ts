/** Retention and minimisation primitives on SQLite: each a statement, a rewrite one IMMEDIATE transaction. */
import type Database from "better-sqlite3"
import type { DataProtectionShape, StoredText } from "../DataProtection.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"

export const makeSqliteDataProtection = (db: Database.Database): DataProtectionShape => {
  const q = onFirstUse(db, {
    rowData: () => db.prepare<[string, number, number], StoredText>("SELECT id AS key, data AS text FROM rows WHERE object_type = ? AND id > ? ORDER BY id LIMIT ?"),
    setRowData: () => db.prepare<[string, number]>("UPDATE rows SET data = ? WHERE id = ?"),
    events: () => db.prepare<[string, number, number], StoredText>("SELECT seq AS key, operation AS text FROM events WHERE object_type = ? AND seq > ? ORDER BY seq LIMIT ?"),
    setEvent: () => db.prepare<[string, number]>("UPDATE events SET operation = ? WHERE seq = ?"),
    countClosed: () => db.prepare<[string, string], { n: number }>("SELECT count(*) AS n FROM rows WHERE object_type = ? AND registrering_til IS NOT NULL AND registrering_til < ?"),
    dropActivations: () => db.prepare<[string, string]>(
      "DELETE FROM activations WHERE status <> 'pending' AND row_id IN (SELECT id FROM rows WHERE object_type = ? AND registrering_til IS NOT NULL AND registrering_til < ?)"
    ),
    dropClosed: () => db.prepare<[string, string]>("DELETE FROM rows WHERE object_type = ? AND registrering_til IS NOT NULL AND registrering_til < ?"),
    countRefused: () => db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM refused WHERE input IS NOT NULL AND received_at < ?"),
    clearRefused: () => db.prepare<[string]>("UPDATE refused SET input = NULL WHERE input IS NOT NULL AND received_at < ?"),
    countBodies: () => db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM push_inbox WHERE processed_at IS NOT NULL AND processed_at < ? AND body <> ''"),
    clearBodies: () => db.prepare<[string]>("UPDATE push_inbox SET body = '' WHERE processed_at IS NOT NULL AND processed_at < ? AND body <> ''"),
    types: () => db.prepare<[], { t: string }>("SELECT DISTINCT object_type AS t FROM rows ORDER BY object_type")
  })
  const rewrite = (statement: Database.Statement<[string, number]>) =>
    db.transaction((updates: ReadonlyArray<StoredText>) => {
      let n = 0
      for (const u of updates) n += statement.run(u.text, u.key).changes
      return n
    })
  const rewriteRows = rewrite(q.setRowData), rewriteEvents = rewrite(q.setEvent)
  const pruneClosedTx = db.transaction((objectType: string, before: string) => {
    q.dropActivations.run(objectType, before)
    return q.dropClosed.run(objectType, before).changes
  })
  return {
    rowData: (objectType, afterId, limit) => attempt("DataProtection.rowData", () => q.rowData.all(objectType, afterId, limit)),
    rewriteRowData: (updates) => attempt("DataProtection.rewriteRowData", () => rewriteRows.immediate(updates)),
    eventOperations: (objectType, afterSeq, limit) => attempt("DataProtection.eventOperations", () => q.events.all(objectType, afterSeq, limit)),
    rewriteEventOperations: (updates) => attempt("DataProtection.rewriteEventOperations", () => rewriteEvents.immediate(updates)),
    pruneClosed: (objectType, before, dryRun) =>
      attempt("DataProtection.pruneClosed", () => (dryRun ? q.countClosed.get(objectType, before)!.n : pruneClosedTx.immediate(objectType, before))),
    pruneRefusedInputs: (before, dryRun) =>
      attempt("DataProtection.pruneRefusedInputs", () => (dryRun ? q.countRefused.get(before)!.n : q.clearRefused.run(before).changes)),
    prunePushBodies: (before, dryRun) =>
      attempt("DataProtection.prunePushBodies", () => (dryRun ? q.countBodies.get(before)!.n : q.clearBodies.run(before).changes)),
    objectTypes: attempt("DataProtection.objectTypes", () => q.types.all().map((r) => r.t))
  }
}
