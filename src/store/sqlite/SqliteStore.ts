/**
 * The SQLite layer of the store: better-sqlite3 in WAL mode, migrations from
 * `drizzle/sqlite` on open, prepared statements on every path, and one
 * synchronous IMMEDIATE transaction per unit of work.
 */
import Database from "better-sqlite3"
import { drizzle } from "drizzle-orm/better-sqlite3"
import { migrate } from "drizzle-orm/better-sqlite3/migrator"
import { Clock, Effect, Layer, Option } from "effect"
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { type Bound, fromEpochMillis, type Instant } from "../../domain/Instant.js"
import { encodeOperation, isRefusal, type Operation } from "../../domain/Operation.js"
import { type CurrentRow, planOperation, staleReason } from "../../domain/Plan.js"
import {
  type ChangeRow,
  type RecordedEvent,
  type RefusedRecord,
  type Row,
  Store,
  type StoreShape,
  type SubmissionResult
} from "../Store.js"

export const sqliteMigrationsFolder = fileURLToPath(new URL("../../../drizzle/sqlite", import.meta.url))

const MAX_RAW_INPUT = 16 * 1024

interface RowRecord {
  id: number
  object_type: string
  object_id: string
  registrering_fra: string
  registrering_til: string | null
  virkning_fra: string | null
  virkning_til: string | null
  data: string
  event_id: string
  stored_at: string
}

const toRow = (r: RowRecord): Row => ({
  id: r.id,
  objectType: r.object_type,
  objectId: r.object_id,
  registreringFra: r.registrering_fra as Instant,
  registreringTil: r.registrering_til as Bound,
  virkningFra: r.virkning_fra as Bound,
  virkningTil: r.virkning_til as Bound,
  data: JSON.parse(r.data) as unknown,
  eventId: r.event_id,
  storedAt: r.stored_at as Instant
})

export interface SqliteOptions {
  /** A file path, or `:memory:`. */
  readonly filename: string
  /** `FULL` (default) survives power loss after commit; `NORMAL` only a process crash. */
  readonly synchronous?: "FULL" | "NORMAL" | "OFF"
}

/** Open (creating the folder and file if need be), tune and migrate a SQLite database. */
export const openSqlite = (options: SqliteOptions): Database.Database => {
  if (options.filename !== ":memory:") mkdirSync(dirname(resolve(options.filename)), { recursive: true })
  const db = new Database(options.filename)
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`)
  db.pragma("busy_timeout = 10000")
  db.pragma("cache_size = -65536")
  db.pragma("temp_store = MEMORY")
  migrate(drizzle(db), { migrationsFolder: sqliteMigrationsFolder })
  return db
}

const ROW_COLUMNS =
  "id, object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at"

export const makeSqliteStore = (db: Database.Database): StoreShape => {
  const q = {
    event: db.prepare<[string], { operation: string }>("SELECT operation FROM events WHERE event_id = ?"),
    head: db.prepare<[string, string], { latest_registrering: string }>(
      "SELECT latest_registrering FROM objects WHERE object_type = ? AND object_id = ?"
    ),
    current: db.prepare<[string, string], CurrentRow>(
      `SELECT id, virkning_fra AS virkningFra, virkning_til AS virkningTil, data FROM rows
       WHERE object_type = ? AND object_id = ? AND registrering_til IS NULL`
    ),
    close: db.prepare<[string, string, number]>("UPDATE rows SET registrering_til = ?, closed_at = ? WHERE id = ?"),
    insertRow: db.prepare(
      `INSERT INTO rows (object_type, object_id, registrering_fra, virkning_fra, virkning_til, data, event_id, stored_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    insertEvent: db.prepare(
      `INSERT INTO events (event_id, object_type, object_id, registreringstid, operation, outcome, source, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    upsertHead: db.prepare(
      `INSERT INTO objects (object_type, object_id, latest_registrering) VALUES (?, ?, ?)
       ON CONFLICT (object_type, object_id) DO UPDATE SET latest_registrering = excluded.latest_registrering`
    ),
    insertRefused: db.prepare(
      `INSERT INTO refused (received_at, source, line, event_id, object_type, object_id, field, reason, input)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    asOf: db.prepare<Record<string, string>, RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows
       WHERE object_type = @type AND object_id = @id
         AND registrering_fra <= @r AND (registrering_til IS NULL OR registrering_til > @r)
         AND (virkning_fra IS NULL OR virkning_fra <= @v) AND (virkning_til IS NULL OR virkning_til > @v)
       ORDER BY registrering_fra DESC, id DESC LIMIT 1`
    ),
    history: db.prepare<[string, string], RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows WHERE object_type = ? AND object_id = ?
       ORDER BY registrering_fra, virkning_fra, id`
    ),
    snapshot: db.prepare<Record<string, string | number>, RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows
       WHERE object_type = @type AND object_id > @after
         AND registrering_fra <= @r AND (registrering_til IS NULL OR registrering_til > @r)
         AND (virkning_fra IS NULL OR virkning_fra <= @v) AND (virkning_til IS NULL OR virkning_til > @v)
       ORDER BY object_id LIMIT @limit`
    ),
    // Changes come from two index-ordered streams merged in code, so paging a
    // huge window never sorts it: rows registered in the window (and not also
    // closed in it) …
    registered: db.prepare<Record<string, string | number | null>, RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows
       WHERE registrering_fra >= @lo AND registrering_fra < @until AND (registrering_fra > @at OR id > @afterId)
         AND NOT (registrering_til IS NOT NULL AND registrering_til < @until)
         AND (@type IS NULL OR object_type = @type)
       ORDER BY registrering_fra, id LIMIT @limit`
    ),
    // … and rows closed in the window.
    closed: db.prepare<Record<string, string | number | null>, RowRecord>(
      `SELECT ${ROW_COLUMNS} FROM rows
       WHERE registrering_til IS NOT NULL AND registrering_til >= @lo AND registrering_til < @until
         AND (registrering_til > @at OR id > @afterId)
         AND (@type IS NULL OR object_type = @type)
       ORDER BY registrering_til, id LIMIT @limit`
    ),
    events: db.prepare<[number, number], {
      seq: number
      event_id: string
      operation: string
      outcome: "applied" | "unchanged"
      source: string
      received_at: string
    }>("SELECT seq, event_id, operation, outcome, source, received_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?"),
    refused: db.prepare<[number, number], {
      id: number
      received_at: string
      source: string
      line: number | null
      event_id: string | null
      object_type: string | null
      object_id: string | null
      field: string | null
      reason: string
      input: string | null
    }>("SELECT * FROM refused WHERE id > ? ORDER BY id LIMIT ?"),
    count: (sql: string) => db.prepare<[], { n: number }>(sql)
  }
  const counts = {
    rows: q.count("SELECT count(*) AS n FROM rows"),
    currentRows: q.count("SELECT count(*) AS n FROM rows WHERE registrering_til IS NULL"),
    objects: q.count("SELECT count(*) AS n FROM objects"),
    events: q.count("SELECT count(*) AS n FROM events"),
    refused: q.count("SELECT count(*) AS n FROM refused")
  }

  const applyOne = (op: Operation, source: string, now: Instant): SubmissionResult | string => {
    const encoded = encodeOperation(op)
    const previous = q.event.get(op.eventId)
    if (previous !== undefined) {
      return previous.operation === encoded
        ? { eventId: op.eventId, outcome: "duplicate" }
        : `eventId '${op.eventId}' was already used for a different operation`
    }
    const stale = staleReason(q.head.get(op.objectType, op.objectId)?.latest_registrering as Instant | undefined, op)
    if (stale !== undefined) return stale
    const plan = planOperation(q.current.all(op.objectType, op.objectId), op)
    if (plan._tag === "Change") {
      for (const id of plan.close) q.close.run(op.registreringstid, now, id)
      for (const row of plan.insert) {
        q.insertRow.run(op.objectType, op.objectId, op.registreringstid, row.virkningFra, row.virkningTil, row.data, op.eventId, now)
      }
    }
    const outcome = plan._tag === "Change" ? "applied" : "unchanged"
    q.insertEvent.run(op.eventId, op.objectType, op.objectId, op.registreringstid, encoded, outcome, source, now)
    q.upsertHead.run(op.objectType, op.objectId, op.registreringstid)
    return { eventId: op.eventId, outcome }
  }

  const ingestTx = db.transaction(
    (source: string, batch: Parameters<StoreShape["ingest"]>[1], now: Instant): Array<SubmissionResult> =>
      batch.map((item) => {
        const line = item.line
        const at = line === undefined ? {} : { line }
        if (isRefusal(item.input)) {
          const r = item.input
          q.insertRefused.run(now, source, line ?? null, r.eventId ?? null, r.objectType ?? null, r.objectId ?? null, r.field ?? null, r.reason, item.raw?.slice(0, MAX_RAW_INPUT) ?? null)
          return { ...at, ...(r.eventId === undefined ? {} : { eventId: r.eventId }), outcome: "refused", reason: r.reason, ...(r.field === undefined ? {} : { field: r.field }) }
        }
        const op = item.input
        const result = applyOne(op, source, now)
        if (typeof result !== "string") return { ...at, ...result }
        q.insertRefused.run(now, source, line ?? null, op.eventId, op.objectType, op.objectId, null, result, item.raw?.slice(0, MAX_RAW_INPUT) ?? encodeOperation(op))
        return { ...at, eventId: op.eventId, outcome: "refused", reason: result }
      })
  )

  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)

  return {
    ingest: (source, batch) =>
      batch.length === 0 ? Effect.succeed([]) : Effect.flatMap(now, (at) => Effect.sync(() => ingestTx.immediate(source, batch, at))),
    asOf: ({ objectType, objectId, registreringstid, virkningstid }) =>
      Effect.sync(() => {
        const r = q.asOf.get({ type: objectType, id: objectId, r: registreringstid, v: virkningstid })
        return r === undefined ? Option.none() : Option.some(toRow(r))
      }),
    history: (objectType, objectId) => Effect.sync(() => q.history.all(objectType, objectId).map(toRow)),
    snapshot: (query) =>
      Effect.sync(() =>
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
      Effect.sync(() => {
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
        const out: Array<ChangeRow> = []
        let i = 0, j = 0
        while (out.length < query.limit && (i < registered.length || j < closed.length)) {
          const a = registered[i], b = closed[j]
          const takeRegistered =
            b === undefined ||
            (a !== undefined && (a.registrering_fra < b.registrering_til! || (a.registrering_fra === b.registrering_til && a.id < b.id)))
          if (takeRegistered) {
            // Closed after the window: as it stood at `until`, still open.
            out.push({ ...toRow(a!), registreringTil: null, change: "registered", changeAt: a!.registrering_fra as Instant })
            i++
          } else {
            out.push({ ...toRow(b!), change: "closed", changeAt: b!.registrering_til as Instant })
            j++
          }
        }
        return out
      }),
    events: (afterSeq, limit) =>
      Effect.sync(() =>
        q.events.all(afterSeq, limit).map(
          (e): RecordedEvent => ({
            seq: e.seq,
            eventId: e.event_id,
            operation: decodeRecorded(e.operation),
            outcome: e.outcome,
            source: e.source,
            receivedAt: e.received_at as Instant
          })
        )
      ),
    refused: (afterId, limit) =>
      Effect.sync(() =>
        q.refused.all(afterId, limit).map(
          (r): RefusedRecord => ({
            id: r.id,
            receivedAt: r.received_at as Instant,
            source: r.source,
            line: r.line,
            eventId: r.event_id,
            objectType: r.object_type,
            objectId: r.object_id,
            field: r.field,
            reason: r.reason,
            input: r.input
          })
        )
      ),
    stats: Effect.sync(() => ({
      rows: counts.rows.get()!.n,
      currentRows: counts.currentRows.get()!.n,
      objects: counts.objects.get()!.n,
      events: counts.events.get()!.n,
      refused: counts.refused.get()!.n
    }))
  }
}

/** Recorded operations were canonical when written: read them back as such. */
const decodeRecorded = (text: string): Operation => {
  const o = JSON.parse(text) as Operation & { data?: unknown }
  return o.op === "assert" ? { ...o, data: JSON.stringify(o.data) } : o
}

/** A scoped store on a SQLite file: opened and migrated on acquire, closed on release. */
export const sqliteStoreLayer = (options: SqliteOptions): Layer.Layer<Store> =>
  Layer.scoped(
    Store,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => openSqlite(options)),
        (db) => Effect.sync(() => db.close())
      ),
      makeSqliteStore
    )
  )
