/**
 * The work queue on PostgreSQL: the statements of the SQLite one, one transaction per recorded
 * batch, per claim, per settle. A claim locks the due rows it takes (`FOR UPDATE SKIP LOCKED`), so
 * claimers on other connections (other processes, issue 15) take other rows instead of waiting or
 * taking the same. PostgreSQL has no insertion order to break ties of `next_attempt_at` (SQLite's
 * is the rowid): they go by the first hint, then the key. The `queued` wake-up is in-process, as
 * on SQLite (a hint recorded by another process does not wake this one yet). A claim is a lease of
 * its member (WorkQueue.ts): recovery takes back only gone members' claims, and a settle locks its
 * row and applies only while the row is still in flight under the settling member's claim.
 */
import { Clock, Effect, PubSub } from "effect"
import type pg from "pg"
import { fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { settlementStep } from "../../domain/intark/WorkSettlement.js"
import { attemptPromise } from "../StoreError.js"
import type { Received, RecordOutcome, WorkItem, WorkQueueShape } from "../WorkQueue.js"
import { inPgTransaction } from "./PgTransaction.js"

const MAX_RAW = 16 * 1024

const item =
  'source, resource, object_id AS "objectId", location, operation, hints, issued_at AS "issuedAt", valid_from AS "validFrom", attempts, confirming, last_error AS "lastError", next_attempt_at AS "nextAttemptAt", state, claimed_by AS "claimedBy"'
const order = "ORDER BY next_attempt_at, first_hint_at, resource, object_id"
const byKey = "source = $1 AND resource = $2 AND object_id = $3"

// A new hint: queue the object, or fold into its entry — due now, fresh attempts, a revived abandon;
// an entry in flight is marked dirty so it is fetched again after the fetch in hand.
const upsert = `INSERT INTO work_items (source, resource, object_id, location, operation, hints, first_hint_at, last_hint_at, issued_at, valid_from, state, attempts, next_attempt_at)
  VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $7, $8, 'pending', 0, $6)
  ON CONFLICT (source, resource, object_id) DO UPDATE SET
    location = coalesce(excluded.location, work_items.location), operation = excluded.operation, hints = work_items.hints + 1,
    last_hint_at = excluded.last_hint_at, issued_at = coalesce(excluded.issued_at, work_items.issued_at), valid_from = coalesce(excluded.valid_from, work_items.valid_from),
    dirty = CASE WHEN work_items.state = 'in_flight' THEN true ELSE work_items.dirty END,
    state = CASE WHEN work_items.state = 'in_flight' THEN work_items.state ELSE 'pending' END,
    attempts = CASE WHEN work_items.state = 'in_flight' THEN work_items.attempts ELSE 0 END,
    confirming = CASE WHEN work_items.state = 'in_flight' THEN work_items.confirming ELSE false END,
    next_attempt_at = CASE WHEN work_items.state = 'in_flight' THEN work_items.next_attempt_at ELSE excluded.next_attempt_at END`

const record = async (client: pg.PoolClient, source: string, received: ReadonlyArray<Received>, at: Instant): Promise<Array<RecordOutcome>> => {
  const outcomes: Array<RecordOutcome> = []
  for (const r of received) {
    if (r._tag === "Poison") {
      await client.query(
        "INSERT INTO refused (received_at, source, line, event_id, object_type, object_id, field, reason, input) VALUES ($1, $2, NULL, NULL, NULL, NULL, $3, $4, $5)",
        [at, source, r.routingKey.slice(0, 255), r.reason, r.raw.slice(0, MAX_RAW)]
      )
      outcomes.push("refused")
      continue
    }
    const h = r.hint
    if (h.messageId !== null) {
      const seen = await client.query("INSERT INTO seen_messages (source, message_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [source, h.messageId, at])
      if (seen.rowCount === 0) {
        outcomes.push("duplicate")
        continue
      }
    }
    await client.query(upsert, [source, h.resource, h.id, h.location, h.operation, at, h.issuedAt, h.validFrom])
    outcomes.push("queued")
  }
  return outcomes
}

const claim = async (client: pg.PoolClient, source: string, at: Instant, limit: number, memberId: string): Promise<Array<WorkItem>> => {
  const due = await client.query<WorkItem>(
    `SELECT ${item} FROM work_items WHERE source = $1 AND state = 'pending' AND next_attempt_at <= $2 ${order} LIMIT $3 FOR UPDATE SKIP LOCKED`,
    [source, at, limit]
  )
  for (const i of due.rows) await client.query(`UPDATE work_items SET state = 'in_flight', claimed_by = $4 WHERE ${byKey}`, [i.source, i.resource, i.objectId, memberId])
  return due.rows.map((i) => ({ ...i, state: "in_flight", claimedBy: memberId }))
}

const settle = async (client: pg.PoolClient, settlements: Parameters<WorkQueueShape["settle"]>[0], at: Instant): Promise<number> => {
  let dropped = 0
  for (const [item, s] of settlements) {
    const key = [item.source, item.resource, item.objectId] as const
    const found = (await client.query<{ dirty: boolean; state: string; claimedBy: string | null }>(
      `SELECT dirty, state, claimed_by AS "claimedBy" FROM work_items WHERE ${byKey} FOR UPDATE`,
      [...key]
    )).rows[0]
    // No longer this claimer's (recovered, maybe claimed again, since): its outcome is not ours to write.
    if (found === undefined || found.state !== "in_flight" || item.claimedBy === null || found.claimedBy !== item.claimedBy) {
      dropped++
      continue
    }
    const step = settlementStep(s, { dirty: found.dirty, confirming: item.confirming }, at)
    switch (step._tag) {
      case "FetchAgainNow":
        await client.query(`UPDATE work_items SET state = 'pending', claimed_by = NULL, dirty = false, confirming = false, attempts = 0, last_error = NULL, next_attempt_at = $4 WHERE ${byKey}`, [...key, at])
        break
      case "Remove":
        await client.query(`DELETE FROM work_items WHERE ${byKey}`, [...key])
        break
      case "ConfirmAt":
        await client.query(`UPDATE work_items SET state = 'pending', claimed_by = NULL, dirty = false, confirming = true, attempts = 0, last_error = NULL, next_attempt_at = $4 WHERE ${byKey}`, [...key, step.at])
        break
      case "RetryAt":
        await client.query(`UPDATE work_items SET state = 'pending', claimed_by = NULL, dirty = false, confirming = $6, attempts = attempts + 1, last_error = $4, next_attempt_at = $5 WHERE ${byKey}`, [...key, step.error, step.at, step.confirming])
        break
      case "Abandon":
        await client.query(`UPDATE work_items SET state = 'abandoned', claimed_by = NULL, dirty = false, attempts = attempts + 1, last_error = $4 WHERE ${byKey}`, [...key, step.error])
        break
    }
  }
  return dropped
}

export const makePgWorkQueue = (pool: pg.Pool): WorkQueueShape => {
  const wake = Effect.runSync(PubSub.sliding<void>(1))
  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  const query = <R extends pg.QueryResultRow>(text: string, values: ReadonlyArray<unknown>) => pool.query<R>(text, [...values])
  return {
    record: (source, received) =>
      received.length === 0
        ? Effect.succeed([])
        : now.pipe(
            Effect.flatMap((at) => inPgTransaction(pool, "WorkQueue.record", (client) => record(client, source, received, at))),
            Effect.flatMap((outcomes) => (outcomes.includes("queued") ? Effect.as(PubSub.publish(wake, undefined), outcomes) : Effect.succeed(outcomes)))
          ),
    claim: (source, limit, memberId) => Effect.flatMap(now, (at) => inPgTransaction(pool, "WorkQueue.claim", (client) => claim(client, source, at, limit, memberId))),
    settle: (settlements) => Effect.flatMap(now, (at) => inPgTransaction(pool, "WorkQueue.settle", (client) => settle(client, settlements, at))),
    recover: (source, liveSince, restarting) =>
      attemptPromise("WorkQueue.recover", async () =>
        (await query(
          // A hint that came during the lost fetch makes the next one its answer, not a confirmation (WorkSettlement's RetryAt).
          `UPDATE work_items SET state = 'pending', claimed_by = NULL, confirming = confirming AND NOT dirty, dirty = false
           WHERE source = $1 AND state = 'in_flight'
           AND (claimed_by IS NULL OR claimed_by = $3 OR claimed_by NOT IN (SELECT id FROM cluster_members WHERE heartbeat_at >= $2))`,
          [source, liveSince, restarting ?? null]
        )).rowCount ?? 0),
    revive: (source, resource) =>
      Effect.flatMap(now, (at) =>
        attemptPromise("WorkQueue.revive", async () =>
          ((resource === undefined
            ? await query("UPDATE work_items SET state = 'pending', attempts = 0, next_attempt_at = $1 WHERE source = $2 AND state = 'abandoned'", [at, source])
            : await query("UPDATE work_items SET state = 'pending', attempts = 0, next_attempt_at = $1 WHERE source = $2 AND resource = $3 AND state = 'abandoned'", [at, source, resource])
          ).rowCount ?? 0))),
    nextDue: (source) =>
      attemptPromise("WorkQueue.nextDue", async () =>
        (await query<{ at: Instant | null }>("SELECT min(next_attempt_at) AS at FROM work_items WHERE source = $1 AND state = 'pending'", [source])).rows[0]?.at ?? null),
    list: (source, state, limit) =>
      attemptPromise("WorkQueue.list", async () => (await query<WorkItem>(`SELECT ${item} FROM work_items WHERE source = $1 AND state = $2 ${order} LIMIT $3`, [source, state, limit])).rows),
    counts: attemptPromise("WorkQueue.counts", async () =>
      (await query<{ source: string; state: string; n: number }>("SELECT source, state, count(*)::integer AS n FROM work_items GROUP BY source, state ORDER BY source, state", [])).rows),
    pruneSeen: (before) => attemptPromise("WorkQueue.pruneSeen", async () => (await query("DELETE FROM seen_messages WHERE received_at < $1", [before])).rowCount ?? 0),
    queued: PubSub.subscribe(wake)
  }
}
