/**
 * The store on PostgreSQL. A batch is one transaction under the history lock (PgHistory): what
 * it touches is read in three statements (heads, current rows, event ids already used), planned
 * as a whole by domain/core/IngestBatch — the same rules, in the same order, as SQLite's
 * operation-by-operation path — and written in bulk. Reads are the SQLite store's statements,
 * with NULL ordered first as SQLite orders it.
 */
import { Clock, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import type pg from "pg"
import { batchReads, type BatchBefore, objectKey, planIngestBatch, type StoredCurrentRow } from "../../domain/core/IngestBatch.js"
import { type Bound, fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { encodeOperation, isRefusal, type Operation } from "../../domain/core/Operation.js"
import { blocks, erasedRefusal, reservedIdProblem } from "../../domain/core/Erasure.js"
import { pgErasureBlocks } from "./PgErasures.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import type { StoreShape, Submission, SubmissionResult } from "../Store.js"
import { mergeChanges } from "../ChangesMerge.js"
import { EVENT_COLUMNS, type EventRecord, REFUSED_COLUMNS, type RefusedRow, ROW_CHANGE_SOURCE, ROW_COLUMNS, type RowRecord, toRecordedEvent, toRefusedRecord, toRow } from "../RowRecord.js"
import { type ClaimFence, claimKey, fencedItems, inBatchOrder, keepHeld } from "../ClaimFence.js"
import { attemptPromise } from "../StoreError.js"
import { advanceHeads, allocate, cancelActivations, closeRows, insertActivations, insertOutbox, insertRows, lockHistory } from "./PgHistory.js"
import { notifyCommit } from "./PgCommitSignal.js"
import { bulkInsert, type Column } from "./PgCopy.js"
import { inPgTransaction } from "./PgTransaction.js"

const MAX_RAW_INPUT = 16 * 1024

/** The events columns an ingest writes (bench/pg-floor.ts writes them the same way). */
export const EVENT_INSERT_COLUMNS: ReadonlyArray<Column> = [
  ["seq", "bigint"], ["event_id", "text"], ["object_type", "text"], ["object_id", "text"], ["registreringstid", "text"], ["operation", "text"],
  ["outcome", "text"], ["source", "text"], ["received_at", "text"]
]

/** The as-of condition on `rows`, registreringstid $r and virkningstid $v. */
const inForce = (r: string, v: string) =>
  `registrering_fra <= ${r} AND (registrering_til IS NULL OR registrering_til > ${r})
   AND (virkning_fra IS NULL OR virkning_fra <= ${v}) AND (virkning_til IS NULL OR virkning_til > ${v})`

/** The as-of point query: the row of object ($1, $2) in force at registreringstid $3 and virkningstid $4 (the benchmark runs it bare). */
export const AS_OF_SQL = `SELECT ${ROW_COLUMNS} FROM rows WHERE object_type = $1 AND object_id = $2 AND ${inForce("$3", "$4")}
  ORDER BY registrering_fra DESC, id DESC LIMIT 1`

/**
 * What the store holds of a batch's objects and event ids, in two statements: the heads with their
 * objects' current rows (an object without a head has none), and the event ids already used. Each
 * key is looked up on its own through a LATERAL subquery that the planner may not flatten (OFFSET 0):
 * a join to the key arrays let it choose a scan of the whole table whenever its statistics lagged
 * behind a growing table (measured: most batches of an import, each scan growing with the store).
 */
const readBefore = async (client: pg.PoolClient, batch: ReadonlyArray<Submission>): Promise<BatchBefore> => {
  const { objects, eventIds } = batchReads(batch.map((s) => s.input))
  const current = await client.query<{ object_type: string; object_id: string; latest_registrering: Instant; id: string | null; virkning_fra: Bound; virkning_til: Bound; data: string; stored_at: string }>(
    `SELECT o.object_type, o.object_id, o.latest_registrering, r.id, r.virkning_fra, r.virkning_til, r.data, r.stored_at
     FROM unnest($1::text[], $2::text[]) AS k(t, i)
     CROSS JOIN LATERAL (SELECT * FROM objects WHERE object_type = k.t AND object_id = k.i OFFSET 0) AS o
     LEFT JOIN LATERAL (SELECT * FROM rows WHERE object_type = k.t AND object_id = k.i AND registrering_til IS NULL OFFSET 0) AS r ON true
     ORDER BY r.id`,
    [objects.map((o) => o.objectType), objects.map((o) => o.objectId)]
  )
  const events = await client.query<{ event_id: string; operation: string }>(
    `SELECT e.event_id, e.operation FROM unnest($1::text[]) AS k(e) CROSS JOIN LATERAL (SELECT * FROM events WHERE event_id = k.e OFFSET 0) AS e`,
    [eventIds]
  )
  const heads = new Map<string, Instant>()
  const rowsByObject = new Map<string, Array<StoredCurrentRow>>()
  for (const r of current.rows) {
    const key = objectKey(r.object_type, r.object_id)
    heads.set(key, r.latest_registrering)
    const rows = rowsByObject.get(key) ?? []
    rowsByObject.set(key, rows)
    if (r.id !== null) rows.push({ id: Number(r.id), virkningFra: r.virkning_fra, virkningTil: r.virkning_til, data: r.data, storedAt: r.stored_at })
  }
  return { heads, current: rowsByObject, events: new Map(events.rows.map((e) => [e.event_id, e.operation])) }
}

/**
 * Operations for erased objects (or for a tombstone's pseudonym) become refusals before planning,
 * without their raw input and with the pseudonym for the id: the refusal brings no personal data back.
 */
const screenErased = async (client: pg.PoolClient, batch: ReadonlyArray<Submission>): Promise<ReadonlyArray<Submission>> => {
  const ops = batch.flatMap((s) => (isRefusal(s.input) ? [] : [s.input]))
  const latest = await pgErasureBlocks(client, ops)
  if (latest.size === 0 && !ops.some((op) => reservedIdProblem(op.objectId) !== undefined)) return batch
  return batch.map((s) => {
    if (isRefusal(s.input)) return s
    const op = s.input
    const reserved = reservedIdProblem(op.objectId)
    const erasure = latest.get(`${op.objectType}\u0000${op.objectId}`)
    const refusal = reserved !== undefined ? { reason: reserved, eventId: op.eventId, objectType: op.objectType } : blocks(erasure) ? erasedRefusal(op, erasure) : undefined
    return refusal === undefined ? s : { input: refusal, ...(s.line !== undefined ? { line: s.line } : {}) }
  })
}

/** One batch: read, plan, write. Returns the results and whether anything changed. */
const ingestBatch = async (client: pg.PoolClient, source: string, submitted: ReadonlyArray<Submission>, now: Instant) => {
  await lockHistory(client)
  const batch = await screenErased(client, submitted)
  const plan = planIngestBatch(await readBefore(client, batch), batch.map((s) => s.input), now)
  const ids = await allocate(client, {
    rows: plan.rows.length,
    activations: plan.activations.length,
    outbox: plan.changes.length,
    events: plan.events.length,
    refused: plan.refusals.length
  })
  // A provisional id (-1, -2, …) is the index of the batch's row; its real id was allocated in the same order.
  const realId = (id: number) => (id < 0 ? ids.rows[-id - 1]! : id)
  // Closes first: a successor inserted while its predecessor is still current would defer the
  // exclusion constraint's check of it to COMMIT (measured: most of COMMIT's time in an import).
  await closeRows(client, plan.closes, now)
  await insertRows(client, plan.rows.map((r, i) => ({ ...r, id: ids.rows[i]! })), now, false)
  await cancelActivations(client, plan.cancels, now)
  await insertActivations(client, plan.activations.map((a, i) => ({ ...a, id: ids.activations[i]!, rowId: realId(a.rowId) })), now)
  await insertOutbox(
    client,
    plan.changes.map(({ kind, op }, i) => ({
      seq: ids.outbox[i]!, id: randomUUID(), type: kind, objectType: op.objectType, objectId: op.objectId, registreringstid: op.registreringstid,
      virkningFra: op.virkningFra, virkningTil: op.virkningTil, eventId: op.eventId, rowId: null, at: null, late: null
    })),
    now
  )
  await advanceHeads(client, plan.heads)
  await bulkInsert(
    client,
    "events",
    EVENT_INSERT_COLUMNS,
    plan.events.map((x, i) => [ids.events[i]!, x.op.eventId, x.op.objectType, x.op.objectId, x.op.registreringstid, x.encoded, x.outcome, source, now])
  )
  if (plan.refusals.length > 0) {
    const r = plan.refusals
    const raw = (index: number, operation: Operation | undefined) => (batch[index]!.raw ?? (operation === undefined ? null : encodeOperation(operation)))?.slice(0, MAX_RAW_INPUT) ?? null
    await client.query(
      `INSERT INTO refused (id, received_at, source, line, event_id, object_type, object_id, field, reason, input)
       SELECT id, $9, $10, l, e, ot, oi, f, reason, input FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(id, l, e, ot, oi, f, reason, input)`,
      [
        ids.refused, r.map((x) => batch[x.index]!.line ?? null), r.map((x) => x.refusal.eventId ?? null), r.map((x) => x.refusal.objectType ?? null),
        r.map((x) => x.refusal.objectId ?? null), r.map((x) => x.refusal.field ?? null), r.map((x) => x.refusal.reason), r.map((x) => raw(x.index, x.operation)), now, source
      ]
    )
  }
  if (plan.changes.length > 0) await notifyCommit(client)
  const results = plan.results.map((result, i): SubmissionResult => {
    const line = batch[i]!.line
    return line === undefined ? result : { ...result, line }
  })
  return { results, changed: plan.changes.length > 0 }
}

/**
 * The batch's submissions whose work items `fence.claimedBy` still holds. The items stay locked (FOR SHARE)
 * until the commit: a recovery of the claims waits for the registrations, and a successor fetches after them.
 */
const ingestClaimedBatch = async (client: pg.PoolClient, source: string, batch: ReadonlyArray<Submission>, fence: ClaimFence, now: Instant) => {
  await lockHistory(client) // first, as every writer of history takes it (the same order of locks everywhere)
  const items = fencedItems(fence)
  const held = await client.query<{ resource: string; object_id: string }>(
    `SELECT resource, object_id FROM work_items WHERE source = $1 AND claimed_by = $2 AND state = 'in_flight'
     AND (resource, object_id) IN (SELECT * FROM unnest($3::text[], $4::text[])) FOR SHARE`,
    [fence.source, fence.claimedBy, items.map((i) => i.resource), items.map((i) => i.objectId)]
  )
  const { kept, at } = keepHeld(batch, fence, new Set(held.rows.map((r) => claimKey(r.resource, r.object_id))))
  const { results, changed } = kept.length === 0 ? { results: [], changed: false } : await ingestBatch(client, source, kept, now)
  return { results: inBatchOrder(batch.length, at, results), changed }
}

export const makePgStore = (pool: pg.Pool, signal?: CommitSignalShape): StoreShape => {
  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  const rows = async (text: string, values: ReadonlyArray<unknown>) => (await pool.query<RowRecord>(text, [...values])).rows
  /** One ingest transaction; the commit signal when it changed anything. */
  const ingestCommitted = <R>(write: (client: pg.PoolClient, at: Instant) => Promise<{ readonly results: R; readonly changed: boolean }>) =>
    now.pipe(
      Effect.flatMap((at) => inPgTransaction(pool, "Store.ingest", (client) => write(client, at))),
      Effect.flatMap(({ changed, results }) => (changed && signal !== undefined ? Effect.as(signal.notify, results) : Effect.succeed(results)))
    )
  return {
    ingest: (source, batch) => (batch.length === 0 ? Effect.succeed([]) : ingestCommitted((client, at) => ingestBatch(client, source, batch, at))),
    ingestClaimed: (source, batch, fence) =>
      batch.length === 0 ? Effect.succeed([]) : ingestCommitted((client, at) => ingestClaimedBatch(client, source, batch, fence, at)),
    asOf: ({ objectType, objectId, registreringstid, virkningstid }) =>
      attemptPromise("Store.asOf", async () => {
        const found = await rows(AS_OF_SQL, [objectType, objectId, registreringstid, virkningstid])
        return found.length === 0 ? Option.none() : Option.some(toRow(found[0]!))
      }),
    history: (objectType, objectId) =>
      attemptPromise("Store.history", async () =>
        (await rows(`SELECT ${ROW_COLUMNS} FROM rows WHERE object_type = $1 AND object_id = $2 ORDER BY registrering_fra, virkning_fra NULLS FIRST, id`, [objectType, objectId])).map(toRow)),
    snapshot: (query) =>
      attemptPromise("Store.snapshot", async () =>
        (await rows(
          `SELECT ${ROW_COLUMNS} FROM rows WHERE object_type = $1 AND object_id > $2 AND ${inForce("$3", "$4")} ORDER BY object_id LIMIT $5`,
          [query.objectType, query.after ?? "", query.registreringstid, query.virkningstid, query.limit]
        )).map(toRow)),
    changes: (query) =>
      attemptPromise("Store.changes", async () => {
        const at = query.after?.at ?? query.since
        const params = [at > query.since ? at : query.since, query.until, at, query.after?.id ?? -1, query.objectType ?? null, query.limit]
        // Rows registered in the window (and not also closed in it) …
        const registered = await rows(
          `SELECT ${ROW_COLUMNS} FROM rows
           WHERE registrering_fra >= $1 AND registrering_fra < $2 AND (registrering_fra > $3 OR id > $4)
             AND NOT (registrering_til IS NOT NULL AND registrering_til < $2) AND ($5::text IS NULL OR object_type = $5)
           ORDER BY registrering_fra, id LIMIT $6`,
          params
        )
        // … and rows closed in the window.
        const closed = await rows(
          `SELECT ${ROW_COLUMNS} FROM rows
           WHERE registrering_til IS NOT NULL AND registrering_til >= $1 AND registrering_til < $2 AND (registrering_til > $3 OR id > $4)
             AND ($5::text IS NULL OR object_type = $5)
           ORDER BY registrering_til, id LIMIT $6`,
          params
        )
        return mergeChanges(registered, closed, query.limit, ROW_CHANGE_SOURCE)
      }),
    events: (afterSeq, limit) =>
      attemptPromise("Store.events", async () =>
        (await pool.query<EventRecord>(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit])).rows.map(toRecordedEvent)),
    refused: (afterId, limit) =>
      attemptPromise("Store.refused", async () =>
        (await pool.query<RefusedRow>(`SELECT ${REFUSED_COLUMNS} FROM refused WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit])).rows.map(toRefusedRecord)),
    objectIds: (objectType, after, limit) =>
      attemptPromise("Store.objectIds", async () =>
        (await pool.query<{ object_id: string }>("SELECT object_id FROM objects WHERE object_type = $1 AND object_id > $2 ORDER BY object_id LIMIT $3", [objectType, after, limit])).rows.map((r) => r.object_id)),
    hasObjects: (objectType) =>
      attemptPromise("Store.hasObjects", async () => (await pool.query("SELECT 1 FROM objects WHERE object_type = $1 LIMIT 1", [objectType])).rowCount! > 0),
    // One statement on one connection (a probe must not take five from the pool).
    ping: attemptPromise("Store.ping", async () => void (await pool.query("SELECT 1"))),
    stats: attemptPromise("Store.stats", async () => {
      const n = (await pool.query<Record<"rows" | "currentRows" | "objects" | "events" | "refused", string>>(
        `SELECT (SELECT count(*) FROM rows) AS "rows", (SELECT count(*) FROM rows WHERE registrering_til IS NULL) AS "currentRows",
                (SELECT count(*) FROM objects) AS objects, (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM refused) AS refused`
      )).rows[0]!
      return { rows: Number(n.rows), currentRows: Number(n.currentRows), objects: Number(n.objects), events: Number(n.events), refused: Number(n.refused) }
    })
  }
}
