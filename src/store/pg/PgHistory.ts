/**
 * Writing history on PostgreSQL: what the ingest, the mirror and the activation settler write,
 * each kind of record one bulk statement per unit of work (inserts by COPY, updates with arrays
 * through `unnest`), so a batch
 * of thousands of operations costs a dozen round trips rather than a dozen per operation.
 *
 * Every such unit of work takes the history lock first (`lockHistory`): writers of history take
 * turns, as on SQLite. That is what makes them correct under concurrency without more: a plan
 * is made from what the transaction reads after the lock, so two writers on one object give the
 * history of one serial order; and ids, event and outbox sequence numbers, allocated after the
 * lock, are in commit order — a reader following `seq` never skips a record committed late.
 * Readers never wait for it.
 */
import type pg from "pg"
import { bulkInsert, type Column } from "./PgCopy.js"
import type { Bound, Instant } from "../../domain/core/Instant.js"
import type { OutboxRecord } from "../Outbox.js"
import type { Row } from "../Store.js"

/** The key of the transaction-scoped advisory lock every writer of history takes ("skygge" + 1). */
const HISTORY_LOCK = "126905435514726"

export const lockHistory = async (client: pg.PoolClient): Promise<void> => {
  await client.query(`SELECT pg_advisory_xact_lock(${HISTORY_LOCK})`)
}

const SEQUENCES = {
  rows: "rows_id_seq",
  activations: "activations_id_seq",
  outbox: "outbox_seq_seq",
  events: "events_seq_seq",
  refused: "refused_id_seq",
  anomalies: "anomalies_id_seq"
} as const
/**
 * The sequences only writers of history draw from (every insert names its ids): a block of n is one
 * `nextval` and one `setval`, under the history lock, instead of n `nextval`s. Refusals and anomalies
 * are also numbered by their columns' defaults outside the lock, so theirs are drawn one by one.
 */
const BLOCKS: ReadonlySet<keyof typeof SEQUENCES> = new Set(["rows", "activations", "outbox", "events"])
export type Allocation = { readonly [K in keyof typeof SEQUENCES]: ReadonlyArray<number> }

/** Allocate ids from each sequence, ascending, in one round trip (under the history lock: in commit order). */
export const allocate = async (client: pg.PoolClient, counts: { readonly [K in keyof typeof SEQUENCES]?: number }): Promise<Allocation> => {
  const names = Object.keys(SEQUENCES) as Array<keyof typeof SEQUENCES>
  const wanted = names.filter((n) => (counts[n] ?? 0) > 0)
  const empty = Object.fromEntries(names.map((n) => [n, []])) as unknown as { -readonly [K in keyof typeof SEQUENCES]: Array<number> }
  if (wanted.length === 0) return empty
  const columns = wanted.map((n, i) =>
    BLOCKS.has(n)
      ? `array[setval('${SEQUENCES[n]}', nextval('${SEQUENCES[n]}') + $${i + 1}::integer - 1)] AS "${n}"`
      : `array(SELECT nextval('${SEQUENCES[n]}') FROM generate_series(1, $${i + 1}::integer) ORDER BY 1) AS "${n}"`
  )
  const result = await client.query<Record<string, ReadonlyArray<string>>>(`SELECT ${columns.join(", ")}`, wanted.map((n) => counts[n]))
  for (const n of wanted) {
    const values = result.rows[0]![n]!.map(Number)
    const count = counts[n]!
    // A block comes back as its last id.
    empty[n] = BLOCKS.has(n) ? Array.from({ length: count }, (_, k) => values[0]! - count + 1 + k) : values
  }
  return empty
}

/** A row to insert: a Row's columns with its data as canonical JSON text (stored_at is the unit of work's now). */
export type RowInsert = Omit<Row, "data" | "storedAt"> & { readonly data: string }

const ROW_COLUMNS: ReadonlyArray<Column> = [
  ["id", "bigint"], ["object_type", "text"], ["object_id", "text"], ["registrering_fra", "text"], ["registrering_til", "text"], ["virkning_fra", "text"],
  ["virkning_til", "text"], ["data", "text"], ["event_id", "text"], ["stored_at", "text"], ["closed_at", "text"], ["mirrored", "boolean"]
]

/** Rows stored at `now` (a row already closed was closed at `now` too). */
export const insertRows = async (client: pg.PoolClient, rows: ReadonlyArray<RowInsert>, now: Instant, mirrored: boolean): Promise<void> => {
  await bulkInsert(
    client,
    "rows",
    ROW_COLUMNS,
    rows.map((r) => [r.id, r.objectType, r.objectId, r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data, r.eventId, now, r.registreringTil === null ? null : now, mirrored])
  )
}

/** Close stored rows, each at its instant (`id = ANY` gives the planner the pkey: with the join alone it scanned the table when its statistics lagged). */
export const closeRows = async (client: pg.PoolClient, closes: ReadonlyArray<{ readonly id: number; readonly at: Instant }>, now: Instant): Promise<void> => {
  if (closes.length === 0) return
  await client.query(
    "UPDATE rows SET registrering_til = c.til, closed_at = $3 FROM unnest($1::bigint[], $2::text[]) AS c(id, til) WHERE rows.id = c.id AND rows.id = ANY($1::bigint[])",
    [closes.map((c) => c.id), closes.map((c) => c.at), now]
  )
}

/** Closed rows' pending activations will never come. */
export const cancelActivations = async (client: pg.PoolClient, rowIds: ReadonlyArray<number>, now: Instant): Promise<void> => {
  if (rowIds.length === 0) return
  await client.query("UPDATE activations SET status = 'cancelled', settled_at = $2 WHERE row_id = ANY($1::bigint[]) AND status = 'pending'", [rowIds, now])
}

export interface ActivationInsert {
  readonly id: number
  readonly rowId: number
  readonly objectType: string
  readonly objectId: string
  readonly kind: string
  readonly at: Instant
  /** Held and cancelled in the same unit of work (its row was closed in it). */
  readonly cancelled: boolean
}

export const insertActivations = async (client: pg.PoolClient, activations: ReadonlyArray<ActivationInsert>, now: Instant): Promise<void> => {
  if (activations.length === 0) return
  await client.query(
    `INSERT INTO activations (id, row_id, object_type, object_id, kind, at, status, created_at, settled_at)
     SELECT id, r, ot, oi, k, a, CASE WHEN c THEN 'cancelled' ELSE 'pending' END, $8, CASE WHEN c THEN $8 END
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[]) AS u(id, r, ot, oi, k, a, c)`,
    [
      activations.map((a) => a.id), activations.map((a) => a.rowId), activations.map((a) => a.objectType), activations.map((a) => a.objectId),
      activations.map((a) => a.kind), activations.map((a) => a.at), activations.map((a) => a.cancelled), now
    ]
  )
}

export type OutboxInsert = Omit<OutboxRecord, "createdAt">

const OUTBOX_COLUMNS: ReadonlyArray<Column> = [
  ["seq", "bigint"], ["id", "text"], ["type", "text"], ["object_type", "text"], ["object_id", "text"], ["registreringstid", "text"], ["virkning_fra", "text"],
  ["virkning_til", "text"], ["event_id", "text"], ["row_id", "bigint"], ["at", "text"], ["late", "boolean"], ["created_at", "text"]
]

export const insertOutbox = async (client: pg.PoolClient, records: ReadonlyArray<OutboxInsert>, now: Instant): Promise<void> => {
  await bulkInsert(
    client,
    "outbox",
    OUTBOX_COLUMNS,
    records.map((r) => [r.seq, r.id, r.type, r.objectType, r.objectId, r.registreringstid, r.virkningFra, r.virkningTil, r.eventId, r.rowId, r.at, r.late, now])
  )
}

/** Objects' heads move forward only (an equal or older one leaves it). */
export const advanceHeads = async (client: pg.PoolClient, heads: ReadonlyArray<{ readonly objectType: string; readonly objectId: string; readonly latest: Instant }>): Promise<void> => {
  if (heads.length === 0) return
  await client.query(
    `INSERT INTO objects (object_type, object_id, latest_registrering) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
     ON CONFLICT (object_type, object_id) DO UPDATE SET latest_registrering = GREATEST(objects.latest_registrering, excluded.latest_registrering)`,
    [heads.map((h) => h.objectType), heads.map((h) => h.objectId), heads.map((h) => h.latest)]
  )
}
