/** The mirror write path on SQLite: one IMMEDIATE transaction per batch, downstream records included. */
import type Database from "better-sqlite3"
import { Clock, Effect } from "effect"
import { mirroredChange } from "../../domain/core/Change.js"
import { fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { planMirror, type StoredMirrorRow, storedKey } from "../../domain/core/Mirror.js"
import type { AnomalyRecord, MirrorItem, MirrorResult, MirrorStoreShape, SourceCursorMove } from "../Mirror.js"
import { blocks, erasedRefusal } from "../../domain/core/Erasure.js"
import { makeSqliteErasureCheck } from "./SqliteErasures.js"
import { setCursorStatement } from "./SqliteSourceCursors.js"
import { staleOut } from "../StaleWrite.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"
import { makeDownstreamWrites } from "./SqliteDownstream.js"

/** A stored row as planning reads it, with when it was stored (for its activations). */
type StoredRecord = Omit<StoredMirrorRow, "key" | "objectId"> & { readonly storedAt: string }

export const makeSqliteMirror = (db: Database.Database, signal?: CommitSignalShape): MirrorStoreShape => {
  const downstream = makeDownstreamWrites(db)
  const q = onFirstUse(db, {
    rows: () => db.prepare<[string, string], StoredRecord>(
      `SELECT id, registrering_fra AS registreringFra, registrering_til AS registreringTil, virkning_fra AS virkningFra,
              virkning_til AS virkningTil, data, stored_at AS storedAt
       FROM rows WHERE object_type = ? AND object_id = ?`
    ),
    close: () => db.prepare<[string, string, number]>("UPDATE rows SET registrering_til = ?, closed_at = ? WHERE id = ?"),
    insert: () => db.prepare(
      `INSERT INTO rows (object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at, closed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    // A mirrored object's head only moves forward (rows may arrive in any order).
    head: () => db.prepare(
      `INSERT INTO objects (object_type, object_id, latest_registrering) VALUES (?, ?, ?)
       ON CONFLICT (object_type, object_id) DO UPDATE SET latest_registrering = max(latest_registrering, excluded.latest_registrering)`
    ),
    anomaly: () => db.prepare("INSERT INTO anomalies (detected_at, source, object_type, object_id, kind, detail) VALUES (?, ?, ?, ?, ?, ?)"),
    anomalies: () => db.prepare<{ after: number; type: string | null; limit: number }, AnomalyRecord>(
      `SELECT id, detected_at AS detectedAt, source, object_type AS objectType, object_id AS objectId, kind, detail
       FROM anomalies WHERE id > @after AND (@type IS NULL OR object_type = @type) ORDER BY id LIMIT @limit`
    ),
    count: () => db.prepare<[], { n: number }>("SELECT count(*) AS n FROM anomalies"),
    cursor: () => setCursorStatement(db),
    refuse: () => db.prepare("INSERT INTO refused (received_at, source, event_id, object_type, object_id, reason) VALUES (?, ?, ?, ?, ?, ?)")
  })
  const erasureOf = makeSqliteErasureCheck(db)

  /** `erasing`: whether anything was ever erased here, asked once per transaction (see makeSqliteErasureCheck). */
  const applyItem = (source: string, eventId: string, item: MirrorItem, now: Instant, erasing: boolean): MirrorResult => {
    const stored = q.rows.all(item.objectType, item.objectId).map((r) => ({ ...r, objectId: item.objectId, key: storedKey(r, item.identity) }))
    // An erased object (its rows now tombstones under a pseudonym: none held under its id) is not mirrored back.
    const erasure = stored.length === 0 && erasing ? erasureOf.latest(item.objectType, item.objectId) : undefined
    if (blocks(erasure)) {
      const r = erasedRefusal({ eventId, objectType: item.objectType, objectId: item.objectId }, erasure)
      q.refuse.run(now, source, r.eventId ?? null, r.objectType ?? null, r.objectId ?? null, r.reason)
      return { objectType: item.objectType, objectId: item.objectId, inserted: 0, closed: 0, unchanged: 0, anomalies: 0 }
    }
    const plan = planMirror(stored, item.rows, item)
    for (const c of plan.close) {
      q.close.run(c.at, now, c.id)
      downstream.rowClosed(stored.find((r) => r.id === c.id)!, now)
    }
    for (const r of plan.insert) {
      const id = q.insert.run(item.objectType, item.objectId, r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data, eventId, now, r.registreringTil === null ? null : now).lastInsertRowid
      // Only a current row's future boundaries are announced.
      if (r.registreringTil === null) downstream.rowInserted(id, item.objectType, item.objectId, r.virkningFra, r.virkningTil, now)
    }
    for (const a of plan.anomalies) q.anomaly.run(now, source, item.objectType, item.objectId, a.kind, a.detail.slice(0, 2000))
    const change = mirroredChange(plan, stored.filter((r) => r.registreringTil === null).length)
    if (change !== undefined) {
      q.head.run(item.objectType, item.objectId, change.registreringstid)
      downstream.changeRecorded(change.kind, {
        objectType: item.objectType,
        objectId: item.objectId,
        registreringstid: change.registreringstid,
        virkningFra: change.virkningFra,
        virkningTil: change.virkningTil,
        eventId
      }, now)
    }
    return { objectType: item.objectType, objectId: item.objectId, inserted: plan.insert.length, closed: plan.close.length, unchanged: plan.unchanged, anomalies: plan.anomalies.length }
  }

  const mirrorTx = db.transaction((source: string, eventId: string, items: ReadonlyArray<MirrorItem>, now: Instant, cursor: SourceCursorMove | undefined) => {
    const erasing = items.length > 0 && erasureOf.any()
    const results = items.map((item) => applyItem(source, eventId, item, now, erasing))
    if (cursor !== undefined) q.cursor(cursor, now)
    return results
  })

  return {
    mirror: (source, eventId, items, cursor) =>
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((ms) => staleOut(attempt("MirrorStore.mirror", () => mirrorTx.immediate(source, eventId, items, fromEpochMillis(ms), cursor)))),
        Effect.flatMap((results) => {
          const changed = results.some((r) => r.inserted > 0 || r.closed > 0)
          return changed && signal !== undefined ? Effect.as(signal.notify, results) : Effect.succeed(results)
        })
      ),
    heldRows: (objectType, objectIds, identity) =>
      attempt("MirrorStore.heldRows", () =>
        new Map(objectIds.map((id) => [id, new Map(q.rows.all(objectType, id).map((r) => [storedKey(r, identity), r.registreringTil] as const))] as const))
      ),
    anomalies: ({ after, limit, objectType }) =>
      attempt("MirrorStore.anomalies", () => q.anomalies.all({ after, type: objectType ?? null, limit })),
    anomalyCount: attempt("MirrorStore.anomalyCount", () => q.count.get()!.n)
  }
}
