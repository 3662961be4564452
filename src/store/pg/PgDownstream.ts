/**
 * Activations and the outbox on PostgreSQL: the SQLite ones' statements and rules. Settling due
 * activations writes history's downstream (outbox records), so it takes the history lock like
 * every writer (PgHistory): it reads each due activation with the current row across its instant
 * after the lock, and its outbox records get their `seq` in commit order.
 */
import { Clock, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import type pg from "pg"
import { settleActivation } from "../../domain/core/Activation.js"
import { type Bound, fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { type Activation, type ActivationKind, type ActivationStatus, type ActivationStoreShape, settleInBatches } from "../Activations.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import type { OutboxRecord, OutboxStoreShape, OutboxType } from "../Outbox.js"
import { StaleWrite, staleOut } from "../StaleWrite.js"
import { attemptPromise } from "../StoreError.js"
import { allocate, insertOutbox, lockHistory } from "./PgHistory.js"
import { notifyCommit } from "./PgCommitSignal.js"
import { inPgTransaction, pgTransaction } from "./PgTransaction.js"

interface ActivationRecord {
  id: string
  row_id: string
  object_type: string
  object_id: string
  kind: ActivationKind
  at: Instant
  status: ActivationStatus
  late: boolean | null
  settled_at: Instant | null
  registrering_fra: Instant
  virkning_fra: Bound
  virkning_til: Bound
  data: string
}

const ACTIVATION_COLUMNS = `a.id, a.row_id, a.object_type, a.object_id, a.kind, a.at, a.status, a.late, a.settled_at,
  r.registrering_fra, r.virkning_fra, r.virkning_til, r.data`

const toActivation = (a: ActivationRecord): Activation => ({
  id: Number(a.id),
  objectType: a.object_type,
  objectId: a.object_id,
  kind: a.kind,
  at: a.at,
  status: a.status,
  late: a.late,
  settledAt: a.settled_at,
  rowId: Number(a.row_id),
  registreringFra: a.registrering_fra,
  virkningFra: a.virkning_fra,
  virkningTil: a.virkning_til
})

const SETTLE_BATCH = 1000
const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)

/** One batch of due activations settled in one transaction. */
const settleBatch = async (client: pg.PoolClient, at: Instant, lateAfterMs: number) => {
  await lockHistory(client)
  // With each, the data of the current row across its instant (domain/core/Activation.neighbourAcross:
  // the row ending there for a start, the row starting there for an end; current rows are disjoint).
  const due = await client.query<ActivationRecord & { neighbour: string | null }>(
    `SELECT ${ACTIVATION_COLUMNS},
       (SELECT n.data FROM rows n WHERE n.object_type = a.object_type AND n.object_id = a.object_id AND n.registrering_til IS NULL
          AND (CASE WHEN a.kind = 'started' THEN n.virkning_til ELSE n.virkning_fra END) = a.at LIMIT 1) AS neighbour
     FROM activations a JOIN rows r ON r.id = a.row_id
     WHERE a.status = 'pending' AND a.at <= $1 ORDER BY a.at, a.id LIMIT $2`,
    [at, SETTLE_BATCH]
  )
  const settled = due.rows.map((a) => ({ a, s: settleActivation({ kind: a.kind, at: a.at, data: a.data }, a.neighbour === null ? undefined : { data: a.neighbour }, at, lateAfterMs) }))
  // Settled only from pending (a settler that read them before another settled them fires none twice); under
  // the history lock none can have moved since the read, so this is the guard, not the usual path.
  const moved = settled.length === 0
    ? new Set<string>()
    : new Set((await client.query<{ id: string }>(
      "UPDATE activations SET status = u.status, settled_at = $4, late = u.late FROM unnest($1::bigint[], $2::text[], $3::boolean[]) AS u(id, status, late) WHERE activations.id = u.id AND activations.status = 'pending' RETURNING activations.id",
      [settled.map(({ a }) => a.id), settled.map(({ s }) => (s._tag === "Fired" ? "fired" : "skipped")), settled.map(({ s }) => (s._tag === "Fired" ? s.late : null)), at]
    )).rows.map((r) => String(r.id)))
  const fired = settled.flatMap(({ a, s }) => (s._tag === "Fired" && moved.has(String(a.id)) ? [{ a, late: s.late, announce: s.announce }] : []))
  const seqs = (await allocate(client, { outbox: fired.length })).outbox
  await insertOutbox(
    client,
    fired.map(({ a, late, announce }, i) => ({
      seq: seqs[i]!, id: randomUUID(), type: announce, objectType: a.object_type, objectId: a.object_id, registreringstid: a.registrering_fra,
      virkningFra: a.virkning_fra, virkningTil: a.virkning_til, eventId: null, rowId: Number(a.row_id), at: a.at, late
    })),
    at
  )
  if (fired.length > 0) await notifyCommit(client)
  const late = fired.filter((f) => f.late).length
  return { fired: fired.length, skipped: moved.size - fired.length, late, more: due.rows.length === SETTLE_BATCH }
}

export const makePgActivations = (pool: pg.Pool, signal: CommitSignalShape): ActivationStoreShape => ({
  next: attemptPromise("ActivationStore.next", async () =>
    Option.fromNullable((await pool.query<{ at: Instant }>("SELECT at FROM activations WHERE status = 'pending' ORDER BY at, id LIMIT 1")).rows[0]?.at)),
  settleDue: (at, lateAfterMs) => settleInBatches(inPgTransaction(pool, "ActivationStore.settleDue", (client) => settleBatch(client, at, lateAfterMs)), signal.notify),
  list: (query) =>
    attemptPromise("ActivationStore.list", async () =>
      (await pool.query<ActivationRecord>(
        `SELECT ${ACTIVATION_COLUMNS} FROM activations a JOIN rows r ON r.id = a.row_id
         WHERE ($1::text IS NULL OR a.at >= $1) AND ($2::text IS NULL OR a.at < $2)
           AND ($3::text IS NULL OR a.object_type = $3) AND ($4::text IS NULL OR a.status = $4)
           AND ($5::text IS NULL OR a.at > $5 OR (a.at = $5 AND a.id > $6))
         ORDER BY a.at, a.id LIMIT $7`,
        [query.from, query.to, query.objectType ?? null, query.status ?? null, query.after?.at ?? null, query.after?.id ?? 0, query.limit]
      )).rows.map(toActivation)),
  pendingCount: attemptPromise("ActivationStore.pendingCount", async () =>
    Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM activations WHERE status = 'pending'")).rows[0]!.n))
})

interface OutboxRow {
  seq: string
  id: string
  type: OutboxType
  object_type: string
  object_id: string
  registreringstid: Instant
  virkning_fra: Bound
  virkning_til: Bound
  event_id: string | null
  row_id: string | null
  at: Instant | null
  late: boolean | null
  created_at: Instant
}

const toOutboxRecord = (r: OutboxRow): OutboxRecord => ({
  seq: Number(r.seq),
  id: r.id,
  type: r.type,
  objectType: r.object_type,
  objectId: r.object_id,
  registreringstid: r.registreringstid,
  virkningFra: r.virkning_fra,
  virkningTil: r.virkning_til,
  eventId: r.event_id,
  rowId: r.row_id === null ? null : Number(r.row_id),
  at: r.at,
  late: r.late,
  createdAt: r.created_at
})

interface CursorRow {
  delivered_seq: string
  attempts: number
  last_error: string | null
}

export const makePgOutbox = (pool: pg.Pool): OutboxStoreShape => {
  const readCursor = async (publisher: string): Promise<CursorRow | undefined> =>
    (await pool.query<CursorRow>("SELECT delivered_seq, attempts, last_error FROM outbox_cursors WHERE publisher = $1", [publisher])).rows[0]
  /**
   * A publisher's cursor, opened if new: before the oldest record still kept, else after the last ever written.
   * Opened under the history lock: a writer in flight has taken its seqs from the sequence but not yet
   * committed its records, and a cursor placed after them would pass those records by for good.
   */
  const cursorOf = async (publisher: string, at: Instant): Promise<CursorRow> =>
    (await readCursor(publisher)) ??
    pgTransaction(pool, async (client) => {
      await lockHistory(client)
      await client.query(
        `INSERT INTO outbox_cursors (publisher, delivered_seq, updated_at)
         VALUES ($1, (SELECT coalesce(min(seq) - 1, (SELECT coalesce(pg_sequence_last_value('outbox_seq_seq'), 0))) FROM outbox), $2)
         ON CONFLICT (publisher) DO NOTHING`,
        [publisher, at]
      )
      return (await client.query<CursorRow>("SELECT delivered_seq, attempts, last_error FROM outbox_cursors WHERE publisher = $1", [publisher])).rows[0]!
    })
  return {
    after: (seq, limit) =>
      attemptPromise("OutboxStore.after", async () => (await pool.query<OutboxRow>("SELECT * FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2", [seq, limit])).rows.map(toOutboxRecord)),
    cursor: (publisher) => Effect.flatMap(now, (at) => attemptPromise("OutboxStore.cursor", async () => Number((await cursorOf(publisher, at)).delivered_seq))),
    delivered: (publisher, from, seq) =>
      Effect.flatMap(now, (at) =>
        staleOut(attemptPromise("OutboxStore.delivered", async () => {
          const moved = await pool.query(
            "UPDATE outbox_cursors SET delivered_seq = $1, attempts = 0, last_error = NULL, updated_at = $2 WHERE publisher = $3 AND delivered_seq = $4",
            [seq, at, publisher, from]
          )
          if (moved.rowCount !== 1) throw new StaleWrite({ operation: "OutboxStore.delivered", key: publisher })
        }))),
    failed: (publisher, error) =>
      Effect.flatMap(now, (at) =>
        attemptPromise("OutboxStore.failed", async () => {
          await pool.query("UPDATE outbox_cursors SET attempts = attempts + 1, last_error = $1, updated_at = $2 WHERE publisher = $3", [error.slice(0, 2000), at, publisher])
        })),
    states: (publishers) =>
      Effect.flatMap(now, (at) =>
        attemptPromise("OutboxStore.states", async () => {
          const states = []
          for (const publisher of publishers) {
            const c = await cursorOf(publisher, at)
            const deliveredSeq = Number(c.delivered_seq)
            const backlog = Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE seq > $1", [deliveredSeq])).rows[0]!.n)
            states.push({ publisher, deliveredSeq, backlog, attempts: c.attempts, lastError: c.last_error })
          }
          return states
        })),
    prune: (publishers, before) =>
      Effect.flatMap(now, (at) =>
        attemptPromise("OutboxStore.prune", async () => {
          let upTo = Number.MAX_SAFE_INTEGER
          for (const p of publishers) upTo = Math.min(upTo, Number((await cursorOf(p, at)).delivered_seq))
          return (await pool.query("DELETE FROM outbox WHERE created_at < $1 AND seq <= $2", [before, upTo])).rowCount ?? 0
        })),
    size: attemptPromise("OutboxStore.size", async () => Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox")).rows[0]!.n))
  }
}
