/**
 * The work queue on SQLite: one IMMEDIATE transaction per recorded batch, per claim, per settle. A
 * claim records its member; recovery asks cluster_members which claimers are alive (WorkQueue.ts).
 */
import type Database from "better-sqlite3"
import { Clock, Effect, PubSub } from "effect"
import { fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import type { Received, RecordOutcome, WorkItem, WorkQueueShape } from "../WorkQueue.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"
import { settlementStep } from "../../domain/intark/WorkSettlement.js"

interface ItemRecord {
  source: string
  resource: string
  object_id: string
  location: string | null
  operation: WorkItem["operation"]
  hints: number
  issued_at: string | null
  valid_from: string | null
  attempts: number
  confirming: number
  last_error: string | null
  next_attempt_at: string
  state: WorkItem["state"]
  claimed_by: string | null
}

const toItem = (r: ItemRecord): WorkItem => ({
  source: r.source,
  resource: r.resource,
  objectId: r.object_id,
  location: r.location,
  operation: r.operation,
  hints: r.hints,
  issuedAt: r.issued_at as Instant | null,
  validFrom: r.valid_from as Instant | null,
  attempts: r.attempts,
  confirming: r.confirming === 1,
  lastError: r.last_error,
  nextAttemptAt: r.next_attempt_at as Instant,
  state: r.state,
  claimedBy: r.claimed_by
})

const MAX_RAW = 16 * 1024

export const makeSqliteWorkQueue = (db: Database.Database): WorkQueueShape => {
  const wake = Effect.runSync(PubSub.sliding<void>(1))
  const q = onFirstUse(db, {
    seen: () => db.prepare("INSERT OR IGNORE INTO seen_messages (source, message_id, received_at) VALUES (?, ?, ?)"),
    // A new hint: queue the object, or fold into its entry — due now, fresh attempts, a revived abandon;
    // an entry in flight is marked dirty so it is fetched again after the fetch in hand.
    upsert: () => db.prepare(
      `INSERT INTO work_items (source, resource, object_id, location, operation, hints, first_hint_at, last_hint_at, issued_at, valid_from, state, attempts, next_attempt_at)
       VALUES (@source, @resource, @id, @location, @operation, 1, @now, @now, @issuedAt, @validFrom, 'pending', 0, @now)
       ON CONFLICT (source, resource, object_id) DO UPDATE SET
         location = coalesce(excluded.location, location), operation = excluded.operation, hints = hints + 1,
         last_hint_at = excluded.last_hint_at, issued_at = coalesce(excluded.issued_at, issued_at), valid_from = coalesce(excluded.valid_from, valid_from),
         dirty = CASE WHEN state = 'in_flight' THEN 1 ELSE dirty END,
         state = CASE WHEN state = 'in_flight' THEN state ELSE 'pending' END,
         attempts = CASE WHEN state = 'in_flight' THEN attempts ELSE 0 END,
         confirming = CASE WHEN state = 'in_flight' THEN confirming ELSE 0 END,
         next_attempt_at = CASE WHEN state = 'in_flight' THEN next_attempt_at ELSE excluded.next_attempt_at END`
    ),
    refuse: () => db.prepare(
      "INSERT INTO refused (received_at, source, line, event_id, object_type, object_id, field, reason, input) VALUES (?, ?, NULL, NULL, NULL, NULL, ?, ?, ?)"
    ),
    due: () => db.prepare<[string, string, number], ItemRecord>(
      "SELECT * FROM work_items WHERE source = ? AND state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?"
    ),
    take: () => db.prepare("UPDATE work_items SET state = 'in_flight', claimed_by = ? WHERE source = ? AND resource = ? AND object_id = ?"),
    get: () => db.prepare<[string, string, string], { dirty: number; state: string; claimed_by: string | null }>(
      "SELECT dirty, state, claimed_by FROM work_items WHERE source = ? AND resource = ? AND object_id = ?"
    ),
    remove: () => db.prepare("DELETE FROM work_items WHERE source = ? AND resource = ? AND object_id = ?"),
    again: () => db.prepare(
      "UPDATE work_items SET state = 'pending', claimed_by = NULL, dirty = 0, confirming = 0, attempts = 0, last_error = NULL, next_attempt_at = ? WHERE source = ? AND resource = ? AND object_id = ?"
    ),
    confirm: () => db.prepare(
      "UPDATE work_items SET state = 'pending', claimed_by = NULL, dirty = 0, confirming = 1, attempts = 0, last_error = NULL, next_attempt_at = ? WHERE source = ? AND resource = ? AND object_id = ?"
    ),
    retry: () => db.prepare(
      "UPDATE work_items SET state = 'pending', claimed_by = NULL, dirty = 0, confirming = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE source = ? AND resource = ? AND object_id = ?"
    ),
    abandon: () => db.prepare(
      "UPDATE work_items SET state = 'abandoned', claimed_by = NULL, dirty = 0, attempts = attempts + 1, last_error = ? WHERE source = ? AND resource = ? AND object_id = ?"
    ),
    // A hint that came during the lost fetch makes the next one its answer, not a confirmation (WorkSettlement's RetryAt).
    recover: () => db.prepare(
      `UPDATE work_items SET state = 'pending', claimed_by = NULL, confirming = CASE WHEN dirty = 1 THEN 0 ELSE confirming END, dirty = 0
       WHERE source = ? AND state = 'in_flight'
       AND (claimed_by IS NULL OR claimed_by = ? OR claimed_by NOT IN (SELECT id FROM cluster_members WHERE heartbeat_at >= ?))`
    ),
    revive: () => db.prepare("UPDATE work_items SET state = 'pending', attempts = 0, next_attempt_at = ? WHERE source = ? AND state = 'abandoned'"),
    reviveResource: () => db.prepare("UPDATE work_items SET state = 'pending', attempts = 0, next_attempt_at = ? WHERE source = ? AND resource = ? AND state = 'abandoned'"),
    nextDue: () => db.prepare<[string], { at: string }>("SELECT min(next_attempt_at) AS at FROM work_items WHERE source = ? AND state = 'pending'"),
    list: () => db.prepare<[string, string, number], ItemRecord>("SELECT * FROM work_items WHERE source = ? AND state = ? ORDER BY next_attempt_at LIMIT ?"),
    counts: () => db.prepare<[], { source: string; state: string; n: number }>("SELECT source, state, count(*) AS n FROM work_items GROUP BY source, state"),
    pruneSeen: () => db.prepare("DELETE FROM seen_messages WHERE received_at < ?")
  })
  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)

  const recordTx = db.transaction((source: string, received: ReadonlyArray<Received>, at: Instant): Array<RecordOutcome> =>
    received.map((r) => {
      if (r._tag === "Poison") {
        q.refuse.run(at, source, r.routingKey.slice(0, 255), r.reason, r.raw.slice(0, MAX_RAW))
        return "refused"
      }
      const h = r.hint
      if (h.messageId !== null && q.seen.run(source, h.messageId, at).changes === 0) return "duplicate"
      q.upsert.run({ source, resource: h.resource, id: h.id, location: h.location, operation: h.operation, now: at, issuedAt: h.issuedAt, validFrom: h.validFrom })
      return "queued"
    })
  )

  const claimTx = db.transaction((source: string, at: Instant, limit: number, memberId: string) => {
    const items = q.due.all(source, at, limit)
    for (const i of items) q.take.run(memberId, i.source, i.resource, i.object_id)
    return items.map((i) => toItem({ ...i, state: "in_flight", claimed_by: memberId }))
  })

  const settleTx = db.transaction((settlements: Parameters<WorkQueueShape["settle"]>[0], at: Instant): number => {
    let dropped = 0
    for (const [item, s] of settlements) {
      const key = [item.source, item.resource, item.objectId] as const
      const found = q.get.get(...key)
      // No longer this claimer's (recovered, maybe claimed again, since): its outcome is not ours to write.
      if (found === undefined || found.state !== "in_flight" || item.claimedBy === null || found.claimed_by !== item.claimedBy) {
        dropped++
        continue
      }
      const step = settlementStep(s, { dirty: found.dirty === 1, confirming: item.confirming }, at)
      switch (step._tag) {
        case "FetchAgainNow":
          q.again.run(at, ...key)
          break
        case "Remove":
          q.remove.run(...key)
          break
        case "ConfirmAt":
          q.confirm.run(step.at, ...key)
          break
        case "RetryAt":
          q.retry.run(step.confirming ? 1 : 0, step.error, step.at, ...key)
          break
        case "Abandon":
          q.abandon.run(step.error, ...key)
          break
      }
    }
    return dropped
  })

  return {
    record: (source, received) =>
      received.length === 0
        ? Effect.succeed([])
        : now.pipe(
            Effect.flatMap((at) => attempt("WorkQueue.record", () => recordTx.immediate(source, received, at))),
            Effect.flatMap((outcomes) => (outcomes.includes("queued") ? Effect.as(PubSub.publish(wake, undefined), outcomes) : Effect.succeed(outcomes)))
          ),
    claim: (source, limit, memberId) => Effect.flatMap(now, (at) => attempt("WorkQueue.claim", () => claimTx.immediate(source, at, limit, memberId))),
    settle: (settlements) => Effect.flatMap(now, (at) => attempt("WorkQueue.settle", () => settleTx.immediate(settlements, at))),
    recover: (source, liveSince, restarting) => attempt("WorkQueue.recover", () => q.recover.run(source, restarting ?? null, liveSince).changes),
    revive: (source, resource) =>
      Effect.flatMap(now, (at) => attempt("WorkQueue.revive", () => (resource === undefined ? q.revive.run(at, source) : q.reviveResource.run(at, source, resource)).changes)),
    nextDue: (source) => attempt("WorkQueue.nextDue", () => (q.nextDue.get(source)?.at ?? null) as Instant | null),
    list: (source, state, limit) => attempt("WorkQueue.list", () => q.list.all(source, state, limit).map(toItem)),
    counts: attempt("WorkQueue.counts", () => q.counts.all()),
    pruneSeen: (before) => attempt("WorkQueue.pruneSeen", () => q.pruneSeen.run(before).changes),
    queued: PubSub.subscribe(wake)
  }
}
