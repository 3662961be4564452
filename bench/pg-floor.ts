/**
 * Line (a′) of `npm run bench:pg`: the engine's write set alone. What an import of N operations
 * wrote (read back from the engine's database after (b)) is written again into a fresh migrated
 * database through the store's own write statements (PgHistory's closeRows, insertRows,
 * insertOutbox, advanceHeads and the events COPY), in the engine's batches and order, one
 * transaction each under the history lock — without reading, planning, decoding or id allocation.
 * No import that writes these records can be faster on this server, so its ratio to COPY bounds (b)'s.
 */
import type pg from "pg"
import type { Instant } from "../src/domain/core/Instant.js"
import { bulkInsert } from "../src/store/pg/PgCopy.js"
import { advanceHeads, closeRows, insertOutbox, insertRows, lockHistory, type OutboxInsert, type RowInsert } from "../src/store/pg/PgHistory.js"
import { EVENT_INSERT_COLUMNS } from "../src/store/pg/PgStore.js"
import type { OutboxType } from "../src/store/Outbox.js"
import { batchStopwatch, emptyFloorResult, type FloorResult } from "./floor.js"

/** The plan tables, in the engine's database: each record of the import with the batch that wrote it. */
const PLAN = `
  CREATE TABLE floor_events AS SELECT (row_number() OVER (ORDER BY seq) - 1) / $1 AS batch, * FROM events;
  CREATE TABLE floor_rows AS SELECT e.batch, r.* FROM rows r JOIN floor_events e ON e.event_id = r.event_id;
  CREATE TABLE floor_closes AS SELECT e.batch, r.id, r.registrering_til FROM rows r JOIN floor_events e
    ON e.object_type = r.object_type AND e.object_id = r.object_id AND e.registreringstid = r.registrering_til;
  CREATE TABLE floor_outbox AS SELECT e.batch, o.* FROM outbox o JOIN floor_events e ON e.event_id = o.event_id;
  CREATE INDEX ON floor_events (batch); CREATE INDEX ON floor_rows (batch); CREATE INDEX ON floor_rows (id); CREATE INDEX ON floor_closes (batch); CREATE INDEX ON floor_closes (id);
  CREATE INDEX ON floor_outbox (batch); ANALYZE floor_events, floor_rows, floor_closes, floor_outbox;`

interface EventPlan { seq: string; event_id: string; object_type: string; object_id: string; registreringstid: string; operation: string; outcome: string; source: string }
interface RowPlan { id: string; object_type: string; object_id: string; registrering_fra: string; virkning_fra: string | null; virkning_til: string | null; data: string; event_id: string; closed_in: string | null; registrering_til: string | null }
interface OutboxPlan { seq: string; id: string; type: OutboxType; object_type: string; object_id: string; registreringstid: string; virkning_fra: string | null; virkning_til: string | null; event_id: string }

interface BatchPlan {
  readonly b: number
  readonly events: ReadonlyArray<EventPlan>
  readonly rows: ReadonlyArray<RowPlan>
  readonly closes: ReadonlyArray<{ id: string; registrering_til: string }>
  readonly outbox: ReadonlyArray<OutboxPlan>
}

/** One batch written as the engine writes it, in one transaction on `floor`, timed statement by statement into `result`. */
const writeBatch = async (floor: pg.Client, { b, events, rows, closes, outbox }: BatchPlan, now: Instant, result: FloorResult) => {
  const heads = new Map<string, { objectType: string; objectId: string; latest: Instant }>()
  for (const e of events) heads.set(`${e.object_type}\u0000${e.object_id}`, { objectType: e.object_type, objectId: e.object_id, latest: e.registreringstid as Instant })
  const { restart, lap, done } = batchStopwatch(result)
  const client = floor as pg.PoolClient
  await floor.query("BEGIN")
  await lockHistory(client)
  restart()
  await closeRows(client, closes.map((c) => ({ id: Number(c.id), at: c.registrering_til as Instant })), now)
  lap("closes")
  await insertRows(
    client,
    rows.map((r): RowInsert => ({
      id: Number(r.id), objectType: r.object_type, objectId: r.object_id, registreringFra: r.registrering_fra as Instant,
      registreringTil: (r.closed_in !== null && Number(r.closed_in) === b ? r.registrering_til : null) as RowInsert["registreringTil"],
      virkningFra: r.virkning_fra as RowInsert["virkningFra"], virkningTil: r.virkning_til as RowInsert["virkningTil"], data: r.data, eventId: r.event_id
    })),
    now,
    false
  )
  lap("rows")
  await insertOutbox(
    client,
    outbox.map((o): OutboxInsert => ({
      seq: Number(o.seq), id: o.id, type: o.type, objectType: o.object_type, objectId: o.object_id, registreringstid: o.registreringstid as Instant,
      virkningFra: o.virkning_fra as OutboxInsert["virkningFra"], virkningTil: o.virkning_til as OutboxInsert["virkningTil"], eventId: o.event_id,
      rowId: null, at: null, late: null
    })),
    now
  )
  lap("outbox")
  await advanceHeads(client, [...heads.values()])
  lap("heads")
  await bulkInsert(floor, "events", EVENT_INSERT_COLUMNS, events.map((e) => [Number(e.seq), e.event_id, e.object_type, e.object_id, e.registreringstid, e.operation, e.outcome, e.source, now]))
  lap("events")
  await floor.query("COMMIT")
  lap("commit")
  done(events.length)
}

/** Write what the import wrote into each of `floors` (fresh migrated databases, perhaps altered), batch by batch: a result for each. */
export const writeSetFloor = async (engine: pg.Client, floors: ReadonlyArray<pg.Client>, batchSize: number, now: Instant): Promise<Array<FloorResult>> => {
  await engine.query(PLAN.replace("$1", String(batchSize)))
  const batches = Number((await engine.query<{ n: string }>("SELECT coalesce(max(batch) + 1, 0) AS n FROM floor_events")).rows[0]!.n)
  const results = floors.map(emptyFloorResult)
  for (let b = 0; b < batches; b++) {
    const events = (await engine.query<EventPlan>("SELECT * FROM floor_events WHERE batch = $1 ORDER BY seq", [b])).rows
    // A row closed in a later batch is inserted current, as the engine inserted it.
    const rows = (await engine.query<RowPlan>(
      `SELECT r.*, c.batch AS closed_in FROM floor_rows r LEFT JOIN floor_closes c ON c.id = r.id WHERE r.batch = $1 ORDER BY r.id`, [b]
    )).rows
    // A row inserted and closed in one batch was inserted closed: no close for it.
    const closes = (await engine.query<{ id: string; registrering_til: string }>(
      "SELECT c.id, c.registrering_til FROM floor_closes c JOIN floor_rows r ON r.id = c.id WHERE c.batch = $1 AND r.batch <> $1 ORDER BY c.id", [b]
    )).rows
    const outbox = (await engine.query<OutboxPlan>("SELECT * FROM floor_outbox WHERE batch = $1 ORDER BY seq", [b])).rows
    for (let f = 0; f < floors.length; f++) await writeBatch(floors[f]!, { b, events, rows, closes, outbox }, now, results[f]!)
  }
  await engine.query("DROP TABLE floor_events, floor_rows, floor_closes, floor_outbox")
  return results
}
