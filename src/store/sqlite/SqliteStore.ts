/**
 * The SQLite layer of the store: better-sqlite3 in WAL mode, migrated from
 * `drizzle/sqlite` beforehand (SqliteStoreLive), prepared statements on every path, and one
 * synchronous IMMEDIATE transaction per unit of work.
 */
import type Database from "better-sqlite3"
import { Clock, Effect, Option } from "effect"
import { overlapChangeKind } from "../../domain/core/Change.js"
import { type Bound, fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { repeatedEventId } from "../../domain/core/IngestBatch.js"
import { encodeOperation, isRefusal, type Operation, type Refusal } from "../../domain/core/Operation.js"
import { type CurrentRow, planOperation, staleReason } from "../../domain/core/Plan.js"
import {
  type AsOfQuery,
  type Row,
  type StoreShape,
  type Submission,
  type SubmissionResult
} from "../Store.js"
import { mergeChanges } from "../ChangesMerge.js"
import { EVENT_COLUMNS, type EventRecord, REFUSED_COLUMNS, type RefusedRow, ROW_CHANGE_SOURCE, ROW_COLUMNS, type RowRecord, toRecordedEvent, toRefusedRecord, toRow } from "../RowRecord.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"
import { type ClaimFence, claimKey, fencedItems, inBatchOrder, keepHeld } from "../ClaimFence.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import { makeDownstreamWrites } from "./SqliteDownstream.js"
import { makeSqliteErasureCheck } from "./SqliteErasures.js"
import { blocks, erasedRefusal, reservedIdProblem } from "../../domain/core/Erasure.js"

export { openSqlite, sqliteMigrationsFolder, type SqliteOptions, StoreOpenError } from "./SqliteOpen.js"

const MAX_RAW_INPUT = 16 * 1024
/** A current row as planning sees it, plus when it was stored (for its activations). */
interface StoredCurrentRow extends CurrentRow {
  readonly storedAt: string
}
const NO_ROWS: ReadonlyArray<StoredCurrentRow> = []

/**
 * The store on an open database. `signal`, when given, is notified after every
 * commit that applied a change (the activation scheduler and publishers wait on it).
 */
export const makeSqliteStore = (db: Database.Database, signal?: CommitSignalShape): StoreShape => {
  const downstream = makeDownstreamWrites(db)
  const erasureOf = makeSqliteErasureCheck(db)
  const q = onFirstUse(db, {
    event: () => db.prepare<[string], { operation: string }>("SELECT operation FROM events WHERE event_id = ?"),
    head: () => db.prepare<[string, string], { latest_registrering: string }>(
      "SELECT latest_registrering FROM objects WHERE object_type = ? AND object_id = ?"
    ),
    objectIds: () => db.prepare<[string, string, number], { object_id: string }>(
      "SELECT object_id FROM objects WHERE object_type = ? AND object_id > ? ORDER BY object_id LIMIT ?"
    ),
    anyObject: () => db.prepare<[string], { one: number }>("SELECT 1 AS one FROM objects WHERE object_type = ? LIMIT 1"),
    ping: () => db.prepare<[], { one: number }>("SELECT 1 AS one FROM objects LIMIT 1"),
    claimHeld: () => db.prepare<[string, string, string, string], { one: number }>(
      "SELECT 1 AS one FROM work_items WHERE source = ? AND resource = ? AND object_id = ? AND state = 'in_flight' AND claimed_by = ?"
    ),
    // Only the current rows an operation's portion [fra, til) overlaps: they are all its plan needs, and
    // an object's other current rows (its validity history, often most of them) cost no JavaScript object.
    overlapping: () => db.prepare<[string, string, Bound, Bound, Bound, Bound], StoredCurrentRow>(
      `SELECT id, virkning_fra AS virkningFra, virkning_til AS virkningTil, data, stored_at AS storedAt FROM rows
       WHERE object_type = ? AND object_id = ? AND registrering_til IS NULL
         AND (? IS NULL OR virkning_fra IS NULL OR virkning_fra < ?) AND (? IS NULL OR virkning_til IS NULL OR virkning_til > ?)`
    ),
    // From the index alone.
    currentCount: () => db.prepare<[string, string], number>(
      "SELECT count(*) FROM rows WHERE object_type = ? AND object_id = ? AND registrering_til IS NULL"
    ).pluck(),
    close: () => db.prepare<[string, string, number]>("UPDATE rows SET registrering_til = ?, closed_at = ? WHERE id = ?"),
    insertRow: () => db.prepare(
      `INSERT INTO rows (object_type, object_id, registrering_fra, virkning_fra, virkning_til, data, event_id, stored_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    // OR IGNORE: a conflict on event_id is how a duplicate is noticed, without a lookup per operation.
    insertEvent: () => db.prepare(
      `INSERT OR IGNORE INTO events (event_id, object_type, object_id, registreringstid, operation, outcome, source, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    upsertHead: () => db.prepare(
      `INSERT INTO objects (object_type, object_id, latest_registrering) VALUES (?, ?, ?)
       ON CONFLICT (object_type, object_id) DO UPDATE SET latest_registrering = excluded.latest_registrering`
    ),
    insertRefused: () => db.prepare(
      `INSERT INTO refused (received_at, source, line, event_id, object_type, object_id, field, reason, input)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    asOf: () => db.prepare<Record<string, string>, RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows
       WHERE object_type = @type AND object_id = @id
         AND registrering_fra <= @r AND (registrering_til IS NULL OR registrering_til > @r)
         AND (virkning_fra IS NULL OR virkning_fra <= @v) AND (virkning_til IS NULL OR virkning_til > @v)
       ORDER BY registrering_fra DESC, id DESC LIMIT 1`
    ),
    history: () => db.prepare<[string, string], RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows WHERE object_type = ? AND object_id = ?
       ORDER BY registrering_fra, virkning_fra, id`
    ),
    snapshot: () => db.prepare<Record<string, string | number>, RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows
       WHERE object_type = @type AND object_id > @after
         AND registrering_fra <= @r AND (registrering_til IS NULL OR registrering_til > @r)
         AND (virkning_fra IS NULL OR virkning_fra <= @v) AND (virkning_til IS NULL OR virkning_til > @v)
       ORDER BY object_id LIMIT @limit`
    ),
    // Changes come from two index-ordered streams merged in code, so paging a
    // huge window never sorts it: rows registered in the window (and not also
    // closed in it) …
    registered: () => db.prepare<Record<string, string | number | null>, RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows
       WHERE registrering_fra >= @lo AND registrering_fra < @until AND (registrering_fra > @at OR id > @afterId)
         AND NOT (registrering_til IS NOT NULL AND registrering_til < @until)
         AND (@type IS NULL OR object_type = @type)
       ORDER BY registrering_fra, id LIMIT @limit`
    ),
    // … and rows closed in the window.
    closed: () => db.prepare<Record<string, string | number | null>, RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows
       WHERE registrering_til IS NOT NULL AND registrering_til >= @lo AND registrering_til < @until
         AND (registrering_til > @at OR id > @afterId)
         AND (@type IS NULL OR object_type = @type)
       ORDER BY registrering_til, id LIMIT @limit`
    ),
    events: () => db.prepare<[number, number], EventRecord>(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`),
    refused: () => db.prepare<[number, number], RefusedRow>(`SELECT ${REFUSED_COLUMNS} FROM refused WHERE id > ? ORDER BY id LIMIT ?`)
  })
  const count = (sql: string) => () => db.prepare<[], { n: number }>(sql)
  const counts = onFirstUse(db, {
    rows: count("SELECT count(*) AS n FROM rows"),
    currentRows: count("SELECT count(*) AS n FROM rows WHERE registrering_til IS NULL"),
    objects: count("SELECT count(*) AS n FROM objects"),
    events: count("SELECT count(*) AS n FROM events"),
    refused: count("SELECT count(*) AS n FROM refused")
  })

  const duplicateOrConflict = (op: Operation, encoded: string): SubmissionResult | string | undefined => {
    const previous = q.event.get(op.eventId)
    if (previous === undefined) return undefined
    const repeated = repeatedEventId(previous.operation, encoded, op.eventId)
    return repeated === "duplicate" ? { eventId: op.eventId, outcome: "duplicate" } : repeated
  }

  /**
   * One operation: its result, or the reason it is refused. Dedup comes first
   * in meaning (a repeat of an old event is a duplicate, not stale), but is
   * checked by the event insert itself, so the common case costs no lookup.
   */
  const applyOne = (op: Operation, source: string, now: Instant): SubmissionResult | string => {
    const encoded = encodeOperation(op)
    const latest = q.head.get(op.objectType, op.objectId)?.latest_registrering as Instant | undefined
    const stale = staleReason(latest, op)
    if (stale !== undefined) return duplicateOrConflict(op, encoded) ?? stale
    // An object without a head has never had a row: no need to look for current ones.
    const { virkningFra: fra, virkningTil: til } = op
    const current = latest === undefined ? NO_ROWS : q.overlapping.all(op.objectType, op.objectId, til, til, fra, fra)
    const plan = planOperation(current, op)
    const outcome = plan._tag === "Change" ? "applied" : "unchanged"
    if (q.insertEvent.run(op.eventId, op.objectType, op.objectId, op.registreringstid, encoded, outcome, source, now).changes === 0) {
      return duplicateOrConflict(op, encoded)!
    }
    if (plan._tag === "Change") {
      // Counted before this operation's writes.
      const kind = overlapChangeKind(plan, () => (latest === undefined ? 0 : q.currentCount.get(op.objectType, op.objectId)!))
      for (const id of plan.close) {
        q.close.run(op.registreringstid, now, id)
        downstream.rowClosed(current.find((row) => row.id === id)!, now)
      }
      for (const row of plan.insert) {
        const rowId = q.insertRow.run(op.objectType, op.objectId, op.registreringstid, row.virkningFra, row.virkningTil, row.data, op.eventId, now).lastInsertRowid
        downstream.rowInserted(rowId, op.objectType, op.objectId, row.virkningFra, row.virkningTil, now)
      }
      downstream.changeRecorded(kind, op, now)
      changed = true
    }
    q.upsertHead.run(op.objectType, op.objectId, op.registreringstid)
    return { eventId: op.eventId, outcome }
  }

  const recordRefusal = (now: Instant, source: string, item: Submission, r: Refusal) =>
    q.insertRefused.run(now, source, item.line ?? null, r.eventId ?? null, r.objectType ?? null, r.objectId ?? null, r.field ?? null, r.reason, item.raw?.slice(0, MAX_RAW_INPUT) ?? null)

  /**
   * An operation for an erased object (whose head the erasure removed: only a headless object is
   * looked up) or for a tombstone's pseudonym: its refusal.
   */
  const erasedOrReserved = (op: Operation, erasing: boolean): Refusal | undefined => {
    const reserved = reservedIdProblem(op.objectId)
    if (reserved !== undefined) return { reason: reserved, eventId: op.eventId, objectType: op.objectType }
    if (!erasing || q.head.get(op.objectType, op.objectId) !== undefined) return undefined
    const latest = erasureOf.latest(op.objectType, op.objectId)
    return blocks(latest) ? erasedRefusal(op, latest) : undefined
  }

  const ingestTx = db.transaction((source: string, batch: ReadonlyArray<Submission>, now: Instant): Array<SubmissionResult> => {
    const results: Array<SubmissionResult> = new Array(batch.length)
    let blocked: Refusal | undefined
    const erasing = erasureOf.any()
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]!
      const input = item.input
      let result: SubmissionResult
      if (isRefusal(input)) {
        recordRefusal(now, source, item, input)
        result = { outcome: "refused", reason: input.reason }
        if (input.eventId !== undefined) (result as { eventId?: string }).eventId = input.eventId
        if (input.field !== undefined) (result as { field?: string }).field = input.field
      } else if ((blocked = erasedOrReserved(input, erasing)) !== undefined) {
        // No payload kept (raw dropped), the pseudonym for the id: the refusal brings no personal data back.
        const refusal = blocked
        recordRefusal(now, source, { input: refusal, ...(item.line !== undefined ? { line: item.line } : {}) }, refusal)
        result = { eventId: input.eventId, outcome: "refused", reason: refusal.reason }
      } else {
        const applied = applyOne(input, source, now)
        if (typeof applied === "string") {
          recordRefusal(now, source, { ...item, raw: item.raw ?? encodeOperation(input) }, {
            reason: applied,
            eventId: input.eventId,
            objectType: input.objectType,
            objectId: input.objectId
          })
          result = { eventId: input.eventId, outcome: "refused", reason: applied }
        } else result = applied
      }
      if (item.line !== undefined) (result as { line?: number }).line = item.line
      results[i] = result
    }
    return results
  })

  /** The batch's submissions whose work items `fence.claimedBy` still holds, written in the same transaction. */
  const ingestClaimedTx = db.transaction((source: string, batch: ReadonlyArray<Submission>, fence: ClaimFence, now: Instant) => {
    const held = new Set<string>()
    for (const i of fencedItems(fence)) {
      if (q.claimHeld.get(fence.source, i.resource, i.objectId, fence.claimedBy) !== undefined) held.add(claimKey(i.resource, i.objectId))
    }
    const { kept, at } = keepHeld(batch, fence, held)
    return inBatchOrder(batch.length, at, kept.length === 0 ? [] : ingestTx(source, kept, now))
  })

  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  // Set by applyOne inside a transaction; read after the commit.
  let changed = false
  const ingestCommitted = <A>(write: () => A) =>
    Effect.flatMap(
      attempt("Store.ingest", () => {
        changed = false
        return write()
      }),
      (results) => (changed && signal !== undefined ? Effect.as(signal.notify, results) : Effect.succeed(results))
    )

  const readNow = {
    asOf: ({ objectType, objectId, registreringstid, virkningstid }: AsOfQuery): Row | undefined => {
      const r = q.asOf.get({ type: objectType, id: objectId, r: registreringstid, v: virkningstid })
      return r === undefined ? undefined : toRow(r)
    },
    history: (objectType: string, objectId: string): ReadonlyArray<Row> => q.history.all(objectType, objectId).map(toRow)
  }

  return {
    ingest: (source, batch) => (batch.length === 0 ? Effect.succeed([]) : Effect.flatMap(now, (at) => ingestCommitted(() => ingestTx.immediate(source, batch, at)))),
    ingestClaimed: (source, batch, fence) =>
      batch.length === 0 ? Effect.succeed([]) : Effect.flatMap(now, (at) => ingestCommitted(() => ingestClaimedTx.immediate(source, batch, fence, at))),
    asOf: (query) => attempt("Store.asOf", () => Option.fromNullable(readNow.asOf(query))),
    history: (objectType, objectId) => attempt("Store.history", () => readNow.history(objectType, objectId)),
    readNow,
    snapshot: (query) =>
      attempt("Store.snapshot", () =>
        q.snapshot
          .all({
            type: query.objectType,
            after: query.after ?? "",
            r: query.registreringstid,
            v: query.virkningstid,
            limit: query.limit
          })
          .map(toRow)
      ),
    changes: (query) =>
      attempt("Store.changes", () => {
        const at = query.after?.at ?? query.since
        const params = {
          lo: at > query.since ? at : query.since,
          until: query.until,
          at,
          afterId: query.after?.id ?? -1,
          type: query.objectType ?? null,
          limit: query.limit
        }
        const registered = q.registered.all(params)
        const closed = q.closed.all(params)
        return mergeChanges(registered, closed, query.limit, ROW_CHANGE_SOURCE)
      }),
    events: (afterSeq, limit) => attempt("Store.events", () => q.events.all(afterSeq, limit).map(toRecordedEvent)),
    refused: (afterId, limit) => attempt("Store.refused", () => q.refused.all(afterId, limit).map(toRefusedRecord)),
    objectIds: (objectType, after, limit) => attempt("Store.objectIds", () => q.objectIds.all(objectType, after, limit).map((r) => r.object_id)),
    hasObjects: (objectType) => attempt("Store.hasObjects", () => q.anyObject.get(objectType) !== undefined),
    ping: attempt("Store.ping", () => void q.ping.get()),
    stats: attempt("Store.stats", () => ({
      rows: counts.rows.get()!.n,
      currentRows: counts.currentRows.get()!.n,
      objects: counts.objects.get()!.n,
      events: counts.events.get()!.n,
      refused: counts.refused.get()!.n
    }))
  }
}
