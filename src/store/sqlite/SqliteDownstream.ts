/**
 * What the SQLite store writes for downstream, and reads back for it:
 * activations (held for future virkning boundaries, cancelled on close,
 * settled when due) and the outbox (one record per real change or fired
 * activation). The write half runs inside the store's ingest transaction.
 */
import type Database from "better-sqlite3"
import { Clock, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import { closingCancels, heldActivations, neighbourAcross, settleActivation } from "../../domain/core/Activation.js"
import { type Bound, fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { type Activation, type ActivationKind, type ActivationStatus, type ActivationStoreShape, settleInBatches } from "../Activations.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import type { OutboxRecord, OutboxStoreShape, OutboxType } from "../Outbox.js"
import { StaleWrite, staleOut } from "../StaleWrite.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"

/** Statements the ingest transaction calls; each is one prepared statement. */
export interface DownstreamWrites {
  /**
   * A row was closed: its pending activations will never come. Only a row with
   * a boundary after its storing time ever held one, so others cost no statement.
   */
  readonly rowClosed: (row: { readonly id: number; readonly virkningFra: Bound; readonly virkningTil: Bound; readonly storedAt: string }, now: Instant) => void
  /** A row was inserted: hold an activation for each of its future boundaries. */
  readonly rowInserted: (rowId: number | bigint, objectType: string, objectId: string, fra: Bound, til: Bound, now: Instant) => void
  readonly changeRecorded: (
    type: OutboxType,
    op: { objectType: string; objectId: string; registreringstid: Instant; virkningFra: Bound; virkningTil: Bound; eventId: string },
    now: Instant
  ) => void
}

export const makeDownstreamWrites = (db: Database.Database): DownstreamWrites => {
  const q = onFirstUse(db, {
    cancel: () => db.prepare("UPDATE activations SET status = 'cancelled', settled_at = ? WHERE row_id = ? AND status = 'pending'"),
    hold: () => db.prepare("INSERT INTO activations (row_id, object_type, object_id, kind, at, status, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)"),
    record: () =>
      db.prepare(
        `INSERT INTO outbox (id, type, object_type, object_id, registreringstid, virkning_fra, virkning_til, event_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
      )
  })
  return {
    rowClosed: (row, now) => {
      if (closingCancels(row)) q.cancel.run(now, row.id)
    },
    rowInserted: (rowId, objectType, objectId, virkningFra, virkningTil, now) => {
      for (const a of heldActivations({ virkningFra, virkningTil, storedAt: now })) q.hold.run(rowId, objectType, objectId, a.kind, a.at, now)
    },
    changeRecorded: (type, op, now) =>
      q.record.run(randomUUID(), type, op.objectType, op.objectId, op.registreringstid, op.virkningFra, op.virkningTil, op.eventId, now)
  }
}

interface ActivationRecord {
  id: number
  row_id: number
  object_type: string
  object_id: string
  kind: ActivationKind
  at: string
  status: ActivationStatus
  late: number | null
  settled_at: string | null
  registrering_fra: string
  virkning_fra: string | null
  virkning_til: string | null
  data: string
}

const ACTIVATION_COLUMNS = `a.id, a.row_id, a.object_type, a.object_id, a.kind, a.at, a.status, a.late, a.settled_at,
  r.registrering_fra, r.virkning_fra, r.virkning_til, r.data`

const toActivation = (a: ActivationRecord): Activation => ({
  id: a.id,
  objectType: a.object_type,
  objectId: a.object_id,
  kind: a.kind,
  at: a.at as Instant,
  status: a.status,
  late: a.late === null ? null : a.late === 1,
  settledAt: a.settled_at as Instant | null,
  rowId: a.row_id,
  registreringFra: a.registrering_fra as Instant,
  virkningFra: a.virkning_fra as Bound,
  virkningTil: a.virkning_til as Bound
})

const SETTLE_BATCH = 1000

export const makeSqliteActivations = (db: Database.Database, signal: CommitSignalShape): ActivationStoreShape => {
  const q = onFirstUse(db, {
    next: () => db.prepare<[], { at: string }>("SELECT at FROM activations WHERE status = 'pending' ORDER BY at, id LIMIT 1"),
    due: () => db.prepare<[string, number], ActivationRecord>(
      `SELECT ${ACTIVATION_COLUMNS} FROM activations a JOIN rows r ON r.id = a.row_id
       WHERE a.status = 'pending' AND a.at <= ? ORDER BY a.at, a.id LIMIT ?`
    ),
    // The current row on the other side of the boundary, if any (current rows are disjoint: at most one).
    endsAt: () => db.prepare<[string, string, string], { data: string }>(
      "SELECT data FROM rows WHERE object_type = ? AND object_id = ? AND registrering_til IS NULL AND virkning_til = ?"
    ),
    startsAt: () => db.prepare<[string, string, string], { data: string }>(
      "SELECT data FROM rows WHERE object_type = ? AND object_id = ? AND registrering_til IS NULL AND virkning_fra = ?"
    ),
    // Only from pending: an activation settled already is never fired again.
    settle: () => db.prepare("UPDATE activations SET status = ?, settled_at = ?, late = ? WHERE id = ? AND status = 'pending'"),
    record: () => db.prepare(
      `INSERT INTO outbox (id, type, object_type, object_id, registreringstid, virkning_fra, virkning_til, row_id, at, late, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    list: () => db.prepare<Record<string, string | number | null>, ActivationRecord>(
      `SELECT ${ACTIVATION_COLUMNS} FROM activations a JOIN rows r ON r.id = a.row_id
       WHERE (@from IS NULL OR a.at >= @from) AND (@to IS NULL OR a.at < @to)
         AND (@type IS NULL OR a.object_type = @type) AND (@status IS NULL OR a.status = @status)
         AND (@afterAt IS NULL OR a.at > @afterAt OR (a.at = @afterAt AND a.id > @afterId))
       ORDER BY a.at, a.id LIMIT @limit`
    ),
    pending: () => db.prepare<[], { n: number }>("SELECT count(*) AS n FROM activations WHERE status = 'pending'")
  })

  const settleBatch = db.transaction((now: Instant, lateAfterMs: number) => {
    const due = q.due.all(now, SETTLE_BATCH)
    let fired = 0, skipped = 0, late = 0
    for (const a of due) {
      const neighbour = q[neighbourAcross(a.kind)].get(a.object_type, a.object_id, a.at)
      const settled = settleActivation({ kind: a.kind, at: a.at as Instant, data: a.data }, neighbour, now, lateAfterMs)
      if (settled._tag === "Skipped") {
        skipped += q.settle.run("skipped", now, null, a.id).changes
        continue
      }
      const isLate = settled.late ? 1 : 0
      if (q.settle.run("fired", now, isLate, a.id).changes !== 1) continue
      q.record.run(
        randomUUID(),
        settled.announce,
        a.object_type,
        a.object_id,
        a.registrering_fra,
        a.virkning_fra,
        a.virkning_til,
        a.row_id,
        a.at,
        isLate,
        now
      )
      fired++
      late += isLate
    }
    return { fired, skipped, late, more: due.length === SETTLE_BATCH }
  })

  return {
    next: attempt("ActivationStore.next", () => Option.fromNullable(q.next.get()?.at as Instant | undefined)),
    settleDue: (now, lateAfterMs) => settleInBatches(attempt("ActivationStore.settleDue", () => settleBatch.immediate(now, lateAfterMs)), signal.notify),
    list: (query) =>
      attempt("ActivationStore.list", () =>
        q.list
          .all({
            from: query.from,
            to: query.to,
            type: query.objectType ?? null,
            status: query.status ?? null,
            afterAt: query.after?.at ?? null,
            afterId: query.after?.id ?? 0,
            limit: query.limit
          })
          .map(toActivation)
      ),
    pendingCount: attempt("ActivationStore.pendingCount", () => q.pending.get()!.n)
  }
}

interface OutboxRow {
  seq: number
  id: string
  type: OutboxType
  object_type: string
  object_id: string
  registreringstid: string
  virkning_fra: string | null
  virkning_til: string | null
  event_id: string | null
  row_id: number | null
  at: string | null
  late: number | null
  created_at: string
}

const toOutboxRecord = (r: OutboxRow): OutboxRecord => ({
  seq: r.seq,
  id: r.id,
  type: r.type,
  objectType: r.object_type,
  objectId: r.object_id,
  registreringstid: r.registreringstid as Instant,
  virkningFra: r.virkning_fra as Bound,
  virkningTil: r.virkning_til as Bound,
  eventId: r.event_id,
  rowId: r.row_id,
  at: r.at as Instant | null,
  late: r.late === null ? null : r.late === 1,
  createdAt: r.created_at as Instant
})

const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)

export const makeSqliteOutbox = (db: Database.Database): OutboxStoreShape => {
  const q = onFirstUse(db, {
    after: () => db.prepare<[number, number], OutboxRow>("SELECT * FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?"),
    // A new publisher starts before the oldest record still kept.
    open: () => db.prepare(
      `INSERT OR IGNORE INTO outbox_cursors (publisher, delivered_seq, updated_at)
       VALUES (?, (SELECT coalesce(min(seq) - 1, (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'outbox')) FROM outbox), ?)`
    ),
    cursor: () => db.prepare<[string], { delivered_seq: number; attempts: number; last_error: string | null }>(
      "SELECT delivered_seq, attempts, last_error FROM outbox_cursors WHERE publisher = ?"
    ),
    delivered: () => db.prepare("UPDATE outbox_cursors SET delivered_seq = ?, attempts = 0, last_error = NULL, updated_at = ? WHERE publisher = ? AND delivered_seq = ?"),
    failed: () => db.prepare("UPDATE outbox_cursors SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE publisher = ?"),
    backlog: () => db.prepare<[number], { n: number }>("SELECT count(*) AS n FROM outbox WHERE seq > ?"),
    pruneBefore: () => db.prepare<[string, number]>("DELETE FROM outbox WHERE created_at < ? AND seq <= ?"),
    size: () => db.prepare<[], { n: number }>("SELECT count(*) AS n FROM outbox")
  })
  const cursorOf = (publisher: string, at: Instant) => {
    q.open.run(publisher, at)
    return q.cursor.get(publisher)!
  }
  return {
    after: (seq, limit) => attempt("OutboxStore.after", () => q.after.all(seq, limit).map(toOutboxRecord)),
    cursor: (publisher) => Effect.flatMap(now, (at) => attempt("OutboxStore.cursor", () => cursorOf(publisher, at).delivered_seq)),
    delivered: (publisher, from, seq) =>
      Effect.flatMap(now, (at) =>
        staleOut(attempt("OutboxStore.delivered", () => {
          if (q.delivered.run(seq, at, publisher, from).changes !== 1) throw new StaleWrite({ operation: "OutboxStore.delivered", key: publisher })
        }))),
    failed: (publisher, error) => Effect.flatMap(now, (at) => attempt("OutboxStore.failed", () => void q.failed.run(error.slice(0, 2000), at, publisher))),
    states: (publishers) =>
      Effect.flatMap(now, (at) =>
        attempt("OutboxStore.states", () =>
          publishers.map((publisher) => {
            const c = cursorOf(publisher, at)
            return { publisher, deliveredSeq: c.delivered_seq, backlog: q.backlog.get(c.delivered_seq)!.n, attempts: c.attempts, lastError: c.last_error }
          })
        )
      ),
    prune: (publishers, before) =>
      Effect.flatMap(now, (at) =>
        attempt("OutboxStore.prune", () => {
          const upTo = publishers.length === 0 ? Number.MAX_SAFE_INTEGER : Math.min(...publishers.map((p) => cursorOf(p, at).delivered_seq))
          return q.pruneBefore.run(before, upTo).changes
        })
      ),
    size: attempt("OutboxStore.size", () => q.size.get()!.n)
  }
}

