/**
 * Erasure on SQLite: one IMMEDIATE transaction rewrites or deletes every trace of the object (see
 * store/Erasures); afterwards the WAL is checkpointed and truncated, so the old pages leave the `-wal`
 * file too. The connection runs with `secure_delete` (SqliteOpen), so freed space is zeroed.
 */
import type Database from "better-sqlite3"
import { Clock, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import { type ErasureBlock, ERASED_DATA, erasureKey, newSalt, pseudonym, tombstoneEventId, tombstoneOperation } from "../../domain/core/Erasure.js"
import { fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { ERASURE_COLUMNS, type ErasureLogRow, type ErasureRequest, type ErasuresShape, toErasureRecord } from "../Erasures.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"

/**
 * The ingest's and the mirror's check, inside their transaction: whether anything was ever erased here
 * (asked once per transaction: an erasure by another process, `skygge erase` beside `skygge run`, takes the
 * write lock too, so none lands within it), and the latest erasure of an object.
 */
export const makeSqliteErasureCheck = (db: Database.Database) => {
  const q = onFirstUse(db, {
    saltOf: () => db.prepare<[], { salt: string }>("SELECT salt FROM erasure_salt WHERE id = 1"),
    latest: () =>
      db.prepare<[string], { id: number; erased_at: string; allow_new: number; lifted_at: string | null }>(
        "SELECT id, erased_at, allow_new, lifted_at FROM erasures WHERE key_hash = ? ORDER BY id DESC LIMIT 1"
      )
  })
  let salt: string | undefined
  return {
    /** Anything erased in this store (the salt exists from the first erasure on; never cached while absent). */
    any: (): boolean => (salt ??= q.saltOf.get()?.salt) !== undefined,
    latest: (objectType: string, objectId: string): ErasureBlock | undefined => {
      salt ??= q.saltOf.get()?.salt
      if (salt === undefined) return undefined // nothing was ever erased here
      const found = q.latest.get(erasureKey(salt, objectType, objectId))
      return found === undefined ? undefined : { id: found.id, erasedAt: found.erased_at, allowNew: found.allow_new === 1, liftedAt: found.lifted_at }
    }
  }
}

export const makeSqliteErasures = (db: Database.Database, signal?: CommitSignalShape): ErasuresShape => {
  const q = onFirstUse(db, {
    salt: () => db.prepare<[], { salt: string }>("SELECT salt FROM erasure_salt WHERE id = 1"),
    makeSalt: () => db.prepare<[string]>("INSERT OR IGNORE INTO erasure_salt (id, salt) VALUES (1, ?)"),
    log: () => db.prepare(
      `INSERT INTO erasures (erased_at, erased_by, reason, object_type, key_hash, pseudonym, allow_new, touched) VALUES (?, ?, ?, ?, ?, '', ?, '{}')`
    ),
    finish: () => db.prepare<[string, string, number | bigint]>("UPDATE erasures SET pseudonym = ?, touched = ? WHERE id = ?"),
    rows: () => db.prepare<Record<string, string>>("UPDATE rows SET data = @data, object_id = @p, event_id = replace(event_id, @id, @p) WHERE object_type = @type AND object_id = @id"),
    events: () => db.prepare<[string, string], { seq: number; operation: string; event_id: string }>("SELECT seq, operation, event_id FROM events WHERE object_type = ? AND object_id = ?"),
    event: () => db.prepare<[string, string, string, number]>("UPDATE events SET operation = ?, object_id = ?, event_id = ? WHERE seq = ?"),
    head: () => db.prepare<[string, string]>("DELETE FROM objects WHERE object_type = ? AND object_id = ?"),
    refused: () => db.prepare<Record<string, string>>(
      `UPDATE refused SET input = NULL, reason = replace(reason, @id, @p), event_id = replace(event_id, @id, @p),
         object_id = CASE WHEN object_id = @id THEN @p ELSE object_id END, field = CASE WHEN instr(field, @id) > 0 THEN NULL ELSE field END
       WHERE (object_type = @type AND object_id = @id) OR instr(input, @id) > 0 OR instr(reason, @id) > 0 OR instr(event_id, @id) > 0`
    ),
    activationsCancelled: () => db.prepare<[string, string, string]>(
      "UPDATE activations SET status = 'cancelled', settled_at = ? WHERE object_type = ? AND object_id = ? AND status = 'pending'"
    ),
    activations: () => db.prepare<[string, string, string]>("UPDATE activations SET object_id = ? WHERE object_type = ? AND object_id = ?"),
    outbox: () => db.prepare<[string, string]>("DELETE FROM outbox WHERE object_type = ? AND object_id = ?"),
    erasedNotice: () => db.prepare(
      `INSERT INTO outbox (id, type, object_type, object_id, registreringstid, virkning_fra, virkning_til, event_id, created_at)
       VALUES (?, 'erased', ?, ?, ?, NULL, NULL, NULL, ?)`
    ),
    workItems: () => db.prepare<[string, string]>("DELETE FROM work_items WHERE object_id = ? OR instr(location, ?) > 0"),
    seen: () => db.prepare<[string]>("DELETE FROM seen_messages WHERE instr(message_id, ?) > 0"),
    inbox: () => db.prepare<[string]>("DELETE FROM push_inbox WHERE instr(body, ?) > 0"),
    anomalies: () => db.prepare<Record<string, string>>(
      `UPDATE anomalies SET detail = '(erased)', object_id = CASE WHEN object_id = @id THEN @p ELSE object_id END
       WHERE (object_type = @type AND object_id = @id) OR instr(detail, @id) > 0`
    ),
    list: () => db.prepare<[number, number], ErasureLogRow>(`SELECT ${ERASURE_COLUMNS} FROM erasures WHERE id > ? ORDER BY id LIMIT ?`),
    find: () => db.prepare<[string], ErasureLogRow>(`SELECT ${ERASURE_COLUMNS} FROM erasures WHERE key_hash = ? ORDER BY id DESC LIMIT 1`),
    byId: () => db.prepare<[number | bigint], ErasureLogRow>(`SELECT ${ERASURE_COLUMNS} FROM erasures WHERE id = ?`),
    lift: () => db.prepare<[string, number]>("UPDATE erasures SET lifted_at = ? WHERE id = ? AND lifted_at IS NULL")
  })

  const eraseTx = db.transaction((request: ErasureRequest, now: Instant) => {
    q.makeSalt.run(newSalt())
    const salt = q.salt.get()!.salt
    const { objectType: type, objectId: id } = request
    const logId = q.log.run(now, request.by, request.reason, type, erasureKey(salt, type, id), request.allowNew ? 1 : 0).lastInsertRowid
    const p = pseudonym(Number(logId))
    const touched: Record<string, number> = {}
    touched.rows = q.rows.run({ data: ERASED_DATA, p, type, id }).changes
    const events = q.events.all(type, id)
    for (const e of events) q.event.run(tombstoneOperation(e.operation, id, p), p, tombstoneEventId(e.event_id, id, p), e.seq)
    touched.events = events.length
    touched.objects = q.head.run(type, id).changes
    touched.refused = q.refused.run({ type, id, p }).changes
    touched.activationsCancelled = q.activationsCancelled.run(now, type, id).changes
    q.activations.run(p, type, id)
    touched.outbox = q.outbox.run(type, id).changes
    touched.workItems = q.workItems.run(id, id).changes
    touched.seenMessages = q.seen.run(id).changes
    touched.pushInbox = q.inbox.run(id).changes
    touched.anomalies = q.anomalies.run({ type, id, p }).changes
    q.erasedNotice.run(randomUUID(), type, id, now, now)
    q.finish.run(p, JSON.stringify(touched), logId)
    return toErasureRecord(q.byId.get(logId)!)
  })

  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  const keyOf = (objectType: string, objectId: string) => {
    const salt = q.salt.get()?.salt
    return salt === undefined ? undefined : erasureKey(salt, objectType, objectId)
  }
  const find = (objectType: string, objectId: string) => {
    const key = keyOf(objectType, objectId)
    const found = key === undefined ? undefined : q.find.get(key)
    return found === undefined ? Option.none() : Option.some(toErasureRecord(found))
  }
  return {
    erase: (request) =>
      Effect.flatMap(now, (at) =>
        attempt("Erasures.erase", () => {
          const record = eraseTx.immediate(request, at)
          // The old pages leave the WAL: copied back (with secure_delete, freed space zeroed) and the file truncated.
          // Busy (a reader holds an old snapshot): the next checkpoint does it; the README says so.
          db.pragma("wal_checkpoint(TRUNCATE)")
          return record
        }).pipe(Effect.tap(() => (signal === undefined ? Effect.void : signal.notify)))
      ),
    list: (afterId, limit) => attempt("Erasures.list", () => q.list.all(afterId, limit).map(toErasureRecord)),
    find: (objectType, objectId) => attempt("Erasures.find", () => find(objectType, objectId)),
    lift: (objectType, objectId) =>
      Effect.flatMap(now, (at) =>
        attempt("Erasures.lift", () =>
          db.transaction(() => {
            const latest = find(objectType, objectId)
            if (Option.isNone(latest)) return latest
            q.lift.run(at, latest.value.id)
            return Option.some(toErasureRecord(q.byId.get(latest.value.id)!))
          }).immediate()
        )
      )
  }
}
