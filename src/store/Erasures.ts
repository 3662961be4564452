/**
 * Erasure of an object's personal data (issue 18), one unit of work per erasure: every trace of the
 * object's data in the store goes in one transaction (a kill leaves it done or undone), the shape of
 * its history stays as tombstones, an `erased` notification goes into the outbox, and the erasure log
 * records who, when, why and how much — never the data, never the id (a keyed hash of it).
 */
import { Context, type Effect, type Option } from "effect"
import type { ErasureCounts } from "../domain/core/Erasure.js"
import type { StoreError } from "./StoreError.js"

export interface ErasureRequest {
  readonly objectType: string
  readonly objectId: string
  readonly reason: string
  /** The token's label, `cli`, … */
  readonly by: string
  /** Accept new inputs for the object afterwards (else they are refused until the erasure is lifted). */
  readonly allowNew: boolean
}

export interface ErasureRecord {
  readonly id: number
  readonly erasedAt: string
  readonly erasedBy: string
  readonly reason: string
  readonly objectType: string
  /** HMAC-SHA256 of (type, id) under the store's salt: matches the object, names nobody. */
  readonly keyHash: string
  /** The id the object's tombstone rows carry. */
  readonly pseudonym: string
  readonly allowNew: boolean
  readonly liftedAt: string | null
  readonly touched: ErasureCounts
}

export interface ErasuresShape {
  /** Erase the object: one transaction; the log record it wrote. */
  readonly erase: (request: ErasureRequest) => Effect.Effect<ErasureRecord, StoreError>
  /** The erasure log, oldest first, after `afterId`. */
  readonly list: (afterId: number, limit: number) => Effect.Effect<ReadonlyArray<ErasureRecord>, StoreError>
  /** The latest erasure of the object, if it was ever erased. */
  readonly find: (objectType: string, objectId: string) => Effect.Effect<Option.Option<ErasureRecord>, StoreError>
  /** Accept new inputs for an erased object again: the latest erasure, lifted (none: it was never erased). */
  readonly lift: (objectType: string, objectId: string) => Effect.Effect<Option.Option<ErasureRecord>, StoreError>
}

export class Erasures extends Context.Tag("skygge/Erasures")<Erasures, ErasuresShape>() {}

export interface ErasureLogRow {
  id: number | string
  erased_at: string
  erased_by: string
  reason: string
  object_type: string
  key_hash: string
  pseudonym: string
  allow_new: number | boolean
  lifted_at: string | null
  touched: string
}

export const ERASURE_COLUMNS = "id, erased_at, erased_by, reason, object_type, key_hash, pseudonym, allow_new, lifted_at, touched"

export const toErasureRecord = (r: ErasureLogRow): ErasureRecord => ({
  id: Number(r.id),
  erasedAt: r.erased_at,
  erasedBy: r.erased_by,
  reason: r.reason,
  objectType: r.object_type,
  keyHash: r.key_hash,
  pseudonym: r.pseudonym,
  allowNew: r.allow_new === true || r.allow_new === 1,
  liftedAt: r.lifted_at,
  touched: JSON.parse(r.touched) as ErasureCounts
})
