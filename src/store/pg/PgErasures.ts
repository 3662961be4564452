/**
 * Erasure on PostgreSQL: the same unit of work as on SQLite (store/Erasures), one transaction under the
 * history lock (no ingest interleaves with it). Afterwards the touched tables are vacuumed (outside the
 * transaction, best effort), so the dead tuples holding the old data are removed — not zeroed on disk:
 * the README says what remains where.
 */
import { Clock, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import type pg from "pg"
import { type ErasureBlock, ERASED_DATA, erasureKey, newSalt, pseudonym, tombstoneEventId, tombstoneOperation } from "../../domain/core/Erasure.js"
import { fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import { ERASURE_COLUMNS, type ErasureLogRow, type ErasureRequest, type ErasuresShape, toErasureRecord } from "../Erasures.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import { attemptPromise } from "../StoreError.js"
import { allocate, insertOutbox, lockHistory } from "./PgHistory.js"
import { notifyCommit } from "./PgCommitSignal.js"
import { inPgTransaction } from "./PgTransaction.js"

const TOUCHED_TABLES = ["rows", "events", "objects", "refused", "activations", "outbox", "work_items", "seen_messages", "push_inbox", "anomalies"]

const readSalt = async (client: pg.Pool | pg.PoolClient): Promise<string | undefined> =>
  (await client.query<{ salt: string }>("SELECT salt FROM erasure_salt WHERE id = 1")).rows[0]?.salt

/**
 * The latest erasure of each of the objects, for the ingest's check (inside its transaction): keyed by
 * `type NUL id`. One statement; none while nothing was ever erased here.
 */
export const pgErasureBlocks = async (
  client: pg.PoolClient,
  objects: ReadonlyArray<{ readonly objectType: string; readonly objectId: string }>
): Promise<Map<string, ErasureBlock>> => {
  const found = new Map<string, ErasureBlock>()
  if (objects.length === 0) return found
  const salt = await readSalt(client)
  if (salt === undefined) return found
  const byKey = new Map(objects.map((o) => [erasureKey(salt, o.objectType, o.objectId), `${o.objectType}\u0000${o.objectId}`]))
  const latest = await client.query<{ key_hash: string; id: string; erased_at: string; allow_new: boolean; lifted_at: string | null }>(
    `SELECT DISTINCT ON (key_hash) key_hash, id, erased_at, allow_new, lifted_at FROM erasures WHERE key_hash = ANY($1::text[]) ORDER BY key_hash, id DESC`,
    [[...byKey.keys()]]
  )
  for (const r of latest.rows) found.set(byKey.get(r.key_hash)!, { id: Number(r.id), erasedAt: r.erased_at, allowNew: r.allow_new, liftedAt: r.lifted_at })
  return found
}

const eraseIn = async (client: pg.PoolClient, request: ErasureRequest, now: Instant) => {
  await lockHistory(client)
  await client.query("INSERT INTO erasure_salt (id, salt) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", [newSalt()])
  const salt = (await readSalt(client))!
  const { objectType: type, objectId: id } = request
  const logId = Number((await client.query<{ id: string }>(
    `INSERT INTO erasures (erased_at, erased_by, reason, object_type, key_hash, pseudonym, allow_new, touched)
     VALUES ($1, $2, $3, $4, $5, '', $6, '{}') RETURNING id`,
    [now, request.by, request.reason, type, erasureKey(salt, type, id), request.allowNew]
  )).rows[0]!.id)
  const p = pseudonym(logId)
  const count = async (text: string, values: ReadonlyArray<unknown>) => (await client.query(text, [...values])).rowCount ?? 0
  const touched: Record<string, number> = {}
  touched.rows = await count("UPDATE rows SET data = $1, object_id = $2, event_id = replace(event_id, $4, $2) WHERE object_type = $3 AND object_id = $4", [ERASED_DATA, p, type, id])
  const events = (await client.query<{ seq: string; operation: string; event_id: string }>("SELECT seq, operation, event_id FROM events WHERE object_type = $1 AND object_id = $2", [type, id])).rows
  if (events.length > 0) {
    await client.query(
      "UPDATE events SET operation = u.op, object_id = $4, event_id = u.e FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(seq, op, e) WHERE events.seq = u.seq",
      [events.map((e) => e.seq), events.map((e) => tombstoneOperation(e.operation, id, p)), events.map((e) => tombstoneEventId(e.event_id, id, p)), p]
    )
  }
  touched.events = events.length
  touched.objects = await count("DELETE FROM objects WHERE object_type = $1 AND object_id = $2", [type, id])
  touched.refused = await count(
    `UPDATE refused SET input = NULL, reason = replace(reason, $2, $3), event_id = replace(event_id, $2, $3),
       object_id = CASE WHEN object_id = $2 THEN $3 ELSE object_id END, field = CASE WHEN strpos(field, $2) > 0 THEN NULL ELSE field END
     WHERE (object_type = $1 AND object_id = $2) OR strpos(input, $2) > 0 OR strpos(reason, $2) > 0 OR strpos(event_id, $2) > 0`,
    [type, id, p]
  )
  touched.activationsCancelled = await count(
    "UPDATE activations SET status = 'cancelled', settled_at = $1 WHERE object_type = $2 AND object_id = $3 AND status = 'pending'",
    [now, type, id]
  )
  await client.query("UPDATE activations SET object_id = $1 WHERE object_type = $2 AND object_id = $3", [p, type, id])
  touched.outbox = await count("DELETE FROM outbox WHERE object_type = $1 AND object_id = $2", [type, id])
  touched.workItems = await count("DELETE FROM work_items WHERE object_id = $1 OR strpos(location, $1) > 0", [id])
  touched.seenMessages = await count("DELETE FROM seen_messages WHERE strpos(message_id, $1) > 0", [id])
  touched.pushInbox = await count("DELETE FROM push_inbox WHERE strpos(body, $1) > 0", [id])
  touched.anomalies = await count(
    `UPDATE anomalies SET detail = '(erased)', object_id = CASE WHEN object_id = $2 THEN $3 ELSE object_id END
     WHERE (object_type = $1 AND object_id = $2) OR strpos(detail, $2) > 0`,
    [type, id, p]
  )
  const seq = (await allocate(client, { outbox: 1 })).outbox
  await insertOutbox(client, [{
    seq: seq[0]!, id: randomUUID(), type: "erased", objectType: type, objectId: id, registreringstid: now,
    virkningFra: null, virkningTil: null, eventId: null, rowId: null, at: null, late: null
  }], now)
  await notifyCommit(client)
  const record = await client.query<ErasureLogRow>(`UPDATE erasures SET pseudonym = $1, touched = $2 WHERE id = $3 RETURNING ${ERASURE_COLUMNS}`, [p, JSON.stringify(touched), logId])
  return toErasureRecord(record.rows[0]!)
}

export const makePgErasures = (pool: pg.Pool, signal?: CommitSignalShape): ErasuresShape => {
  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  const find = async (client: pg.Pool | pg.PoolClient, objectType: string, objectId: string) => {
    const salt = await readSalt(client)
    if (salt === undefined) return Option.none()
    const found = await client.query<ErasureLogRow>(`SELECT ${ERASURE_COLUMNS} FROM erasures WHERE key_hash = $1 ORDER BY id DESC LIMIT 1`, [erasureKey(salt, objectType, objectId)])
    return Option.map(Option.fromNullable(found.rows[0]), toErasureRecord)
  }
  return {
    erase: (request) =>
      Effect.flatMap(now, (at) => inPgTransaction(pool, "Erasures.erase", (client) => eraseIn(client, request, at))).pipe(
        // Dead tuples with the old data go now rather than at autovacuum's leisure; a failure here does not undo the erasure.
        Effect.tap(() => (signal === undefined ? Effect.void : signal.notify)),
        Effect.tap(() => Effect.ignore(attemptPromise("Erasures.vacuum", () => pool.query(`VACUUM ${TOUCHED_TABLES.join(", ")}`))))
      ),
    list: (afterId, limit) =>
      attemptPromise("Erasures.list", async () =>
        (await pool.query<ErasureLogRow>(`SELECT ${ERASURE_COLUMNS} FROM erasures WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit])).rows.map(toErasureRecord)),
    find: (objectType, objectId) => attemptPromise("Erasures.find", () => find(pool, objectType, objectId)),
    lift: (objectType, objectId) =>
      Effect.flatMap(now, (at) =>
        inPgTransaction(pool, "Erasures.lift", async (client) => {
          await lockHistory(client)
          const latest = await find(client, objectType, objectId)
          if (Option.isNone(latest)) return latest
          const lifted = await client.query<ErasureLogRow>(
            `UPDATE erasures SET lifted_at = COALESCE(lifted_at, $1) WHERE id = $2 RETURNING ${ERASURE_COLUMNS}`,
            [at, latest.value.id]
          )
          return Option.some(toErasureRecord(lifted.rows[0]!))
        })
      )
  }
}
