/** The PUSH inbox on SQLite. */
import type Database from "better-sqlite3"
import { Clock, Effect } from "effect"
import { fromEpochMillis } from "../../domain/core/Instant.js"
import type { InboxEntry, PushInboxShape } from "../PushInbox.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"

export const makeSqlitePushInbox = (db: Database.Database): PushInboxShape => {
  const q = onFirstUse(db, {
    insert: () => db.prepare<[string, string, string, string]>("INSERT OR IGNORE INTO push_inbox (source, envelope_id, received_at, body) VALUES (?, ?, ?, ?)"),
    pending: () => db.prepare<[string, number], InboxEntry>("SELECT id, envelope_id AS envelopeId, body FROM push_inbox WHERE source = ? AND processed_at IS NULL ORDER BY id LIMIT ?"),
    processed: () => db.prepare<[string, number]>("UPDATE push_inbox SET processed_at = ? WHERE id = ?"),
    prune: () => db.prepare<[string]>("DELETE FROM push_inbox WHERE processed_at IS NOT NULL AND received_at < ?"),
    count: () => db.prepare<[], { n: number }>("SELECT count(*) AS n FROM push_inbox WHERE processed_at IS NULL")
  })
  const recordTx = db.transaction((source: string, events: ReadonlyArray<{ envelopeId: string; body: string }>, now: string) => {
    let recorded = 0
    for (const e of events) recorded += q.insert.run(source, e.envelopeId, now, e.body).changes
    return { recorded, duplicates: events.length - recorded }
  })
  const markTx = db.transaction((ids: ReadonlyArray<number>, now: string) => {
    for (const id of ids) q.processed.run(now, id)
  })
  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  return {
    record: (source, events) => Effect.flatMap(now, (at) => attempt("PushInbox.record", () => recordTx.immediate(source, events, at))),
    pending: (source, limit) => attempt("PushInbox.pending", () => q.pending.all(source, limit)),
    markProcessed: (ids) => Effect.flatMap(now, (at) => attempt("PushInbox.markProcessed", () => void markTx.immediate(ids, at))),
    prune: (before) => attempt("PushInbox.prune", () => q.prune.run(before).changes),
    pendingCount: attempt("PushInbox.pendingCount", () => q.count.get()!.n)
  }
}
