/** The mirror write path on SQLite: one IMMEDIATE transaction per batch, downstream records included. */
import type Database from "better-sqlite3"
import { Clock, Effect } from "effect"
import { type Bound, fromEpochMillis, type Instant } from "../../domain/Instant.js"
import { planMirror, type StoredMirrorRow, storedKey } from "../../domain/Mirror.js"
import type { AnomalyRecord, MirrorItem, MirrorResult, MirrorStoreShape } from "../Mirror.js"
import type { CommitSignalShape } from "../Outbox.js"
import { makeDownstreamWrites } from "./SqliteDownstream.js"

interface StoredRecord {
  id: number
  registrering_fra: string
  registrering_til: string | null
  virkning_fra: string | null
  virkning_til: string | null
  data: string
  stored_at: string
}

export const makeSqliteMirror = (db: Database.Database, signal?: CommitSignalShape): MirrorStoreShape => {
  const downstream = makeDownstreamWrites(db)
  const q = {
    rows: db.prepare<[string, string], StoredRecord>(
      "SELECT id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, stored_at FROM rows WHERE object_type = ? AND object_id = ?"
    ),
    close: db.prepare<[string, string, number]>("UPDATE rows SET registrering_til = ?, closed_at = ? WHERE id = ?"),
    insert: db.prepare(
      `INSERT INTO rows (object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at, closed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    // A mirrored object's head only moves forward (rows may arrive in any order).
    head: db.prepare(
      `INSERT INTO objects (object_type, object_id, latest_registrering) VALUES (?, ?, ?)
       ON CONFLICT (object_type, object_id) DO UPDATE SET latest_registrering = max(latest_registrering, excluded.latest_registrering)`
    ),
    anomaly: db.prepare("INSERT INTO anomalies (detected_at, source, object_type, object_id, kind, detail) VALUES (?, ?, ?, ?, ?, ?)"),
    anomalies: db.prepare<[number, number], Record<string, unknown>>(
      "SELECT id, detected_at, source, object_type, object_id, kind, detail FROM anomalies WHERE id > ? ORDER BY id LIMIT ?"
    ),
    anomaliesOfType: db.prepare<[number, string, number], Record<string, unknown>>(
      "SELECT id, detected_at, source, object_type, object_id, kind, detail FROM anomalies WHERE id > ? AND object_type = ? ORDER BY id LIMIT ?"
    ),
    count: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM anomalies")
  }

  const applyItem = (source: string, eventId: string, item: MirrorItem, now: Instant): MirrorResult => {
    const records = q.rows.all(item.objectType, item.objectId)
    const stored: Array<StoredMirrorRow & { storedAt: string }> = records.map((r) => {
      const row = {
        id: r.id,
        objectId: item.objectId,
        registreringFra: r.registrering_fra as Instant,
        registreringTil: r.registrering_til as Bound,
        virkningFra: r.virkning_fra as Bound,
        virkningTil: r.virkning_til as Bound,
        data: r.data,
        storedAt: r.stored_at
      }
      return { ...row, key: storedKey(row, item.identity) }
    })
    const plan = planMirror(stored, item.rows, item.complete, item.checkOverlaps)
    const currentBefore = stored.filter((r) => r.registreringTil === null).length
    let latest: string | undefined
    const later = (t: string | null) => {
      if (t !== null && (latest === undefined || t > latest)) latest = t
    }
    for (const c of plan.close) {
      q.close.run(c.at, now, c.id)
      downstream.rowClosed(stored.find((r) => r.id === c.id)!, now)
      later(c.at)
    }
    for (const r of plan.insert) {
      const id = q.insert.run(item.objectType, item.objectId, r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data, eventId, now, r.registreringTil === null ? null : now).lastInsertRowid
      // Only a current row's future boundaries are announced.
      if (r.registreringTil === null) downstream.rowInserted(id, item.objectType, item.objectId, r.virkningFra, r.virkningTil, now)
      later(r.registreringFra)
      later(r.registreringTil)
    }
    for (const a of plan.anomalies) q.anomaly.run(now, source, item.objectType, item.objectId, a.kind, a.detail.slice(0, 2000))
    if (latest !== undefined) {
      q.head.run(item.objectType, item.objectId, latest)
      const currentAfter = currentBefore - plan.close.length + plan.insert.filter((r) => r.registreringTil === null).length
      const newest = plan.insert.find((r) => r.registreringTil === null) ?? plan.insert[0]
      downstream.changeRecorded(currentBefore === 0 ? "created" : currentAfter === 0 ? "deleted" : "updated", {
        objectType: item.objectType,
        objectId: item.objectId,
        registreringstid: latest as Instant,
        virkningFra: newest?.virkningFra ?? null,
        virkningTil: newest?.virkningTil ?? null,
        eventId
      }, now)
    }
    return { objectType: item.objectType, objectId: item.objectId, inserted: plan.insert.length, closed: plan.close.length, unchanged: plan.unchanged, anomalies: plan.anomalies.length }
  }

  const mirrorTx = db.transaction((source: string, eventId: string, items: ReadonlyArray<MirrorItem>, now: Instant) => items.map((item) => applyItem(source, eventId, item, now)))

  const toAnomaly = (r: Record<string, unknown>): AnomalyRecord => ({
    id: r.id as number,
    detectedAt: r.detected_at as string,
    source: r.source as string,
    objectType: r.object_type as string,
    objectId: r.object_id as string,
    kind: r.kind as AnomalyRecord["kind"],
    detail: r.detail as string
  })

  return {
    mirror: (source, eventId, items) =>
      Effect.flatMap(Clock.currentTimeMillis, (ms) => {
        const results = mirrorTx.immediate(source, eventId, items, fromEpochMillis(ms))
        const changed = results.some((r) => r.inserted > 0 || r.closed > 0)
        return changed && signal !== undefined ? Effect.as(signal.notify, results) : Effect.succeed(results)
      }),
    anomalies: ({ after, limit, objectType }) =>
      Effect.sync(() => (objectType === undefined ? q.anomalies.all(after, limit) : q.anomaliesOfType.all(after, objectType, limit)).map(toAnomaly)),
    anomalyCount: Effect.sync(() => q.count.get()!.n)
  }
}
