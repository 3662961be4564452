/**
 * Line (a′) of `npm run bench:core`: the engine's write set alone, on SQLite. What the import (b)
 * wrote is read back from its file and written again into a fresh migrated store file (the store's
 * own tuning as `skygge import` opens it: WAL, `synchronous = NORMAL`, its page cache, secure_delete), in (b)'s batches and order,
 * one transaction each: closes, rows, outbox, heads, events — each kind one set-based
 * `INSERT … SELECT` (or UPDATE) from the plan, no reading of history, planning, decoding, or crossing
 * from JavaScript per record. No import that writes these records can be faster, so its ratio to (a)
 * bounds (b)'s.
 */
import type Database from "better-sqlite3"
import type { Instant } from "../src/domain/core/Instant.js"
import { migrateSqliteFile, openSqlite } from "../src/store/sqlite/SqliteOpen.js"
import { BULK_WAL_CHECKPOINT_PAGES } from "../src/StoreFromConfig.js"
import { batchStopwatch, emptyFloorResult } from "./floor.js"

/** The plan, in a file of its own (`plan`): each record the import wrote, with the batch that wrote it. */
const makePlan = (db: Database.Database, batchSize: number) =>
  db.exec(`
    CREATE TABLE plan.fe AS SELECT (row_number() OVER (ORDER BY seq) - 1) / ${batchSize} AS batch, * FROM src.events;
    CREATE INDEX plan.fe_batch ON fe (batch);
    CREATE INDEX plan.fe_event ON fe (event_id);
    CREATE INDEX plan.fe_object ON fe (object_type, object_id, registreringstid);
    CREATE TABLE plan.fr AS SELECT e.batch, r.* FROM src.rows r JOIN plan.fe e ON e.event_id = r.event_id;
    CREATE INDEX plan.fr_batch ON fr (batch);
    CREATE UNIQUE INDEX plan.fr_id ON fr (id);
    CREATE TABLE plan.fc AS SELECT e.batch, r.id, r.registrering_til FROM src.rows r JOIN plan.fe e
      ON e.object_type = r.object_type AND e.object_id = r.object_id AND e.registreringstid = r.registrering_til;
    CREATE UNIQUE INDEX plan.fc_id ON fc (id);
    CREATE INDEX plan.fc_batch ON fc (batch);
    CREATE TABLE plan.fo AS SELECT e.batch, o.* FROM src.outbox o JOIN plan.fe e ON e.event_id = o.event_id;
    CREATE INDEX plan.fo_batch ON fo (batch);`)

/**
 * Write again what the store at `engineFile` holds into a new store at `floorFile`: the seconds the
 * write transactions took, each kind of statement's share, and the operations written.
 */
export const sqliteWriteSetFloor = (engineFile: string, floorFile: string, planFile: string, batchSize: number, now: Instant) => {
  migrateSqliteFile({ filename: floorFile })
  const db = openSqlite({ filename: floorFile, synchronous: "NORMAL", walCheckpointPages: BULK_WAL_CHECKPOINT_PAGES })
  try {
    db.prepare("ATTACH DATABASE ? AS src").run(engineFile)
    db.prepare("ATTACH DATABASE ? AS plan").run(planFile)
    db.exec("PRAGMA plan.journal_mode = OFF; PRAGMA plan.synchronous = OFF")
    makePlan(db, batchSize)
    const batches = (db.prepare("SELECT coalesce(max(batch) + 1, 0) AS n FROM plan.fe").get() as { n: number }).n
    const step = {
      // A row inserted and closed in one batch is inserted closed (as the engine inserts it); others are closed by id.
      closes: db.prepare(`UPDATE main.rows SET registrering_til = (SELECT c.registrering_til FROM plan.fc c WHERE c.id = rows.id), closed_at = @now
        WHERE id IN (SELECT c.id FROM plan.fc c JOIN plan.fr r ON r.id = c.id WHERE c.batch = @b AND r.batch <> @b)`),
      rows: db.prepare(`INSERT INTO main.rows (id, object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at, closed_at)
        SELECT r.id, r.object_type, r.object_id, r.registrering_fra, CASE WHEN c.batch = @b THEN c.registrering_til END, r.virkning_fra, r.virkning_til,
          r.data, r.event_id, @now, CASE WHEN c.batch = @b THEN @now END
        FROM plan.fr r LEFT JOIN plan.fc c ON c.id = r.id WHERE r.batch = @b ORDER BY r.id`),
      outbox: db.prepare(`INSERT INTO main.outbox (seq, id, type, object_type, object_id, registreringstid, virkning_fra, virkning_til, event_id, created_at)
        SELECT seq, id, type, object_type, object_id, registreringstid, virkning_fra, virkning_til, event_id, @now FROM plan.fo WHERE batch = @b ORDER BY seq`),
      heads: db.prepare(`INSERT INTO main.objects (object_type, object_id, latest_registrering)
        SELECT object_type, object_id, max(registreringstid) FROM plan.fe WHERE batch = @b GROUP BY object_type, object_id
        ON CONFLICT (object_type, object_id) DO UPDATE SET latest_registrering = excluded.latest_registrering`),
      events: db.prepare(`INSERT INTO main.events (seq, event_id, object_type, object_id, registreringstid, operation, outcome, source, received_at)
        SELECT seq, event_id, object_type, object_id, registreringstid, operation, outcome, source, @now FROM plan.fe WHERE batch = @b ORDER BY seq`)
    }
    const result = emptyFloorResult()
    for (let b = 0; b < batches; b++) {
      const { lap, done } = batchStopwatch(result)
      db.exec("BEGIN IMMEDIATE")
      for (const part of ["closes", "rows", "outbox", "heads", "events"] as const) {
        step[part].run({ b, now })
        lap(part)
      }
      db.exec("COMMIT")
      lap("commit")
      done(0)
    }
    result.operations = (db.prepare("SELECT count(*) AS n FROM main.events").get() as { n: number }).n
    return result
  } finally {
    db.close()
  }
}
