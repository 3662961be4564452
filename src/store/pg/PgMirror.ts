/**
 * The mirror write path on PostgreSQL: a batch is one transaction under the history lock
 * (PgHistory). The stored rows of all the batch's objects are read in one statement, each item is
 * planned by domain/core/Mirror in order (an object met twice sees what the first planned), and
 * the rows, closes, activations, anomalies, heads, outbox records and the source's cursor are
 * written in bulk. Mirrored rows are marked so (the exclusion constraint guards planned rows only).
 */
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import type pg from "pg"
import { closingCancels, heldActivations } from "../../domain/core/Activation.js"
import { mirroredChange } from "../../domain/core/Change.js"
import { objectKey } from "../../domain/core/IngestBatch.js"
import { type Bound, fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { planMirror, storedKey } from "../../domain/core/Mirror.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import type { AnomalyRecord, MirrorItem, MirrorResult, MirrorStoreShape, SourceCursorMove } from "../Mirror.js"
import type { OutboxType } from "../Outbox.js"
import { attemptPromise } from "../StoreError.js"
import { type ActivationInsert, advanceHeads, allocate, cancelActivations, closeRows, insertActivations, insertOutbox, insertRows, lockHistory, type RowInsert } from "./PgHistory.js"
import { setCursor } from "./PgSourceCursors.js"
import { blocks, erasedRefusal } from "../../domain/core/Erasure.js"
import { pgErasureBlocks } from "./PgErasures.js"
import { staleOut } from "../StaleWrite.js"
import { notifyCommit } from "./PgCommitSignal.js"
import { inPgTransaction } from "./PgTransaction.js"

/** A stored row as planning reads it, with when it was stored (for its activations). */
interface Stored {
  id: number
  registreringFra: Instant
  registreringTil: Bound
  virkningFra: Bound
  virkningTil: Bound
  data: string
  storedAt: string
}

interface StoredRecord {
  id: string
  object_type: string
  object_id: string
  registrering_fra: Instant
  registrering_til: Bound
  virkning_fra: Bound
  virkning_til: Bound
  data: string
  stored_at: string
}

const readStored = async (client: pg.Pool | pg.PoolClient, objects: ReadonlyArray<{ readonly objectType: string; readonly objectId: string }>): Promise<Map<string, Array<Stored>>> => {
  const found = await client.query<StoredRecord>(
    `SELECT r.id, r.object_type, r.object_id, r.registrering_fra, r.registrering_til, r.virkning_fra, r.virkning_til, r.data, r.stored_at FROM rows r
     JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON r.object_type = k.t AND r.object_id = k.i ORDER BY r.id`,
    [objects.map((o) => o.objectType), objects.map((o) => o.objectId)]
  )
  const byObject = new Map<string, Array<Stored>>(objects.map((o) => [objectKey(o.objectType, o.objectId), []]))
  for (const r of found.rows) {
    byObject.get(objectKey(r.object_type, r.object_id))!.push({
      id: Number(r.id), registreringFra: r.registrering_fra, registreringTil: r.registrering_til, virkningFra: r.virkning_fra, virkningTil: r.virkning_til, data: r.data, storedAt: r.stored_at
    })
  }
  return byObject
}

const mirrorBatch = async (client: pg.PoolClient, source: string, eventId: string, items: ReadonlyArray<MirrorItem>, now: Instant, cursor: SourceCursorMove | undefined) => {
  await lockHistory(client)
  const stored = await readStored(client, items)
  // What the items plan, in order; rows inserted get provisional ids -1, -2, … (their index + 1).
  const rows: Array<Omit<RowInsert, "id"> & { registreringTil: Bound }> = []
  const closes: Array<{ id: number; at: Instant }> = []
  const cancels: Array<number> = []
  const activations: Array<Omit<ActivationInsert, "id" | "cancelled"> & { cancelled: boolean }> = []
  const anomalies: Array<{ objectType: string; objectId: string; kind: string; detail: string }> = []
  const changes: Array<{ objectType: string; objectId: string; type: OutboxType; registreringstid: Instant; virkningFra: Bound; virkningTil: Bound }> = []
  const heads = new Map<string, { objectType: string; objectId: string; latest: Instant }>()
  const results: Array<MirrorResult> = []
  // An erased object (its rows now tombstones under a pseudonym: none held under its id) is not mirrored back.
  const erased = await pgErasureBlocks(client, items.filter((item) => stored.get(objectKey(item.objectType, item.objectId))!.length === 0))
  for (const item of items) {
    const held = stored.get(objectKey(item.objectType, item.objectId))!
    const erasure = held.length === 0 ? erased.get(`${item.objectType}\u0000${item.objectId}`) : undefined
    if (blocks(erasure)) {
      const r = erasedRefusal({ eventId, objectType: item.objectType, objectId: item.objectId }, erasure)
      await client.query("INSERT INTO refused (received_at, source, event_id, object_type, object_id, reason) VALUES ($1, $2, $3, $4, $5, $6)", [now, source, r.eventId ?? null, r.objectType ?? null, r.objectId ?? null, r.reason])
      results.push({ objectType: item.objectType, objectId: item.objectId, inserted: 0, closed: 0, unchanged: 0, anomalies: 0 })
      continue
    }
    const keyed = held.map((r) => ({ ...r, objectId: item.objectId, key: storedKey(r, item.identity) }))
    const plan = planMirror(keyed, item.rows, item)
    for (const c of plan.close) {
      const row = held.find((r) => r.id === c.id)!
      if (c.id < 0) {
        rows[-c.id - 1]!.registreringTil = c.at
        for (const a of activations) if (a.rowId === c.id) a.cancelled = true
      } else {
        closes.push(c)
        if (closingCancels(row)) cancels.push(c.id)
      }
      row.registreringTil = c.at
    }
    const currentBefore = keyed.filter((r) => r.registreringTil === null).length
    for (const r of plan.insert) {
      const ref = -(rows.length + 1)
      rows.push({ objectType: item.objectType, objectId: item.objectId, registreringFra: r.registreringFra, registreringTil: r.registreringTil, virkningFra: r.virkningFra, virkningTil: r.virkningTil, data: r.data, eventId })
      held.push({ id: ref, registreringFra: r.registreringFra, registreringTil: r.registreringTil, virkningFra: r.virkningFra, virkningTil: r.virkningTil, data: r.data, storedAt: now })
      // Only a current row's future boundaries are announced.
      if (r.registreringTil === null) {
        for (const a of heldActivations({ virkningFra: r.virkningFra, virkningTil: r.virkningTil, storedAt: now })) {
          activations.push({ rowId: ref, objectType: item.objectType, objectId: item.objectId, kind: a.kind, at: a.at, cancelled: false })
        }
      }
    }
    for (const a of plan.anomalies) anomalies.push({ objectType: item.objectType, objectId: item.objectId, kind: a.kind, detail: a.detail.slice(0, 2000) })
    const change = mirroredChange(plan, currentBefore)
    if (change !== undefined) {
      const key = objectKey(item.objectType, item.objectId)
      const head = heads.get(key)
      if (head === undefined || change.registreringstid > head.latest) heads.set(key, { objectType: item.objectType, objectId: item.objectId, latest: change.registreringstid })
      changes.push({ objectType: item.objectType, objectId: item.objectId, type: change.kind, registreringstid: change.registreringstid, virkningFra: change.virkningFra, virkningTil: change.virkningTil })
    }
    results.push({ objectType: item.objectType, objectId: item.objectId, inserted: plan.insert.length, closed: plan.close.length, unchanged: plan.unchanged, anomalies: plan.anomalies.length })
  }
  const ids = await allocate(client, { rows: rows.length, activations: activations.length, outbox: changes.length, anomalies: anomalies.length })
  const realId = (id: number) => (id < 0 ? ids.rows[-id - 1]! : id)
  await insertRows(client, rows.map((r, i) => ({ ...r, id: ids.rows[i]! })), now, true)
  await closeRows(client, closes, now)
  await cancelActivations(client, cancels, now)
  await insertActivations(client, activations.map((a, i) => ({ ...a, id: ids.activations[i]!, rowId: realId(a.rowId) })), now)
  if (anomalies.length > 0) {
    await client.query(
      "INSERT INTO anomalies (id, detected_at, source, object_type, object_id, kind, detail) SELECT id, $6, $7, ot, oi, k, d FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, ot, oi, k, d)",
      [ids.anomalies, anomalies.map((a) => a.objectType), anomalies.map((a) => a.objectId), anomalies.map((a) => a.kind), anomalies.map((a) => a.detail), now, source]
    )
  }
  await advanceHeads(client, [...heads.values()])
  await insertOutbox(client, changes.map((c, i) => ({ ...c, seq: ids.outbox[i]!, id: randomUUID(), eventId, rowId: null, at: null, late: null })), now)
  if (cursor !== undefined) await setCursor(client, cursor, now)
  if (rows.length > 0 || closes.length > 0) await notifyCommit(client)
  return results
}

export const makePgMirror = (pool: pg.Pool, signal?: CommitSignalShape): MirrorStoreShape => ({
  mirror: (source, eventId, items, cursor) =>
    Clock.currentTimeMillis.pipe(
      Effect.flatMap((ms) => staleOut(inPgTransaction(pool, "MirrorStore.mirror", (client) => mirrorBatch(client, source, eventId, items, fromEpochMillis(ms), cursor)))),
      Effect.flatMap((results) => {
        const changed = results.some((r) => r.inserted > 0 || r.closed > 0)
        return changed && signal !== undefined ? Effect.as(signal.notify, results) : Effect.succeed(results)
      })
    ),
  heldRows: (objectType, objectIds, identity) =>
    attemptPromise("MirrorStore.heldRows", async () => {
      const stored = await readStored(pool, objectIds.map((objectId) => ({ objectType, objectId })))
      return new Map(objectIds.map((id) => [id, new Map(stored.get(objectKey(objectType, id))!.map((r) => [storedKey(r, identity), r.registreringTil] as const))] as const))
    }),
  anomalies: ({ after, limit, objectType }) =>
    attemptPromise("MirrorStore.anomalies", async () =>
      (await pool.query<Omit<AnomalyRecord, "id"> & { id: string }>(
        `SELECT id, detected_at AS "detectedAt", source, object_type AS "objectType", object_id AS "objectId", kind, detail
         FROM anomalies WHERE id > $1 AND ($2::text IS NULL OR object_type = $2) ORDER BY id LIMIT $3`,
        [after, objectType ?? null, limit]
      )).rows.map((a) => ({ ...a, id: Number(a.id) }))),
  anomalyCount: attemptPromise("MirrorStore.anomalyCount", async () => Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM anomalies")).rows[0]!.n))
})
