/**
 * Erasure of one object (issue 18), the rules both backends apply: the object's rows keep their
 * intervals (the shape of history) but carry a fixed tombstone instead of their data and a pseudonym
 * instead of the object id; the erasure log names the object only by a keyed hash (HMAC-SHA256 under
 * a random salt the store keeps), so a later input for it can be matched and refused while the log
 * itself reveals nobody.
 */
import { createHmac, randomBytes } from "node:crypto"
import { decodeRecordedOperation, encodeOperation, type Operation, type Refusal } from "./Operation.js"

/** The `data` of every row of an erased object (canonical JSON). */
export const ERASED_DATA = '{"_erased":true}'

/** The id an erased object's tombstones carry: `~erased/<erasure id>` (never a real id: see `reservedIdProblem`). */
export const PSEUDONYM_PREFIX = "~erased/"
export const pseudonym = (erasureId: number): string => `${PSEUDONYM_PREFIX}${erasureId}`

/** A fresh salt for a store's erasure log (256 random bits, hex). */
export const newSalt = (): string => randomBytes(32).toString("hex")

/** The erasure log's key of an object: HMAC-SHA256(salt, type NUL id), hex. */
export const erasureKey = (salt: string, objectType: string, objectId: string): string =>
  createHmac("sha256", Buffer.from(salt, "hex")).update(`${objectType}\u0000${objectId}`, "utf8").digest("hex")

/** An operation on a tombstone's pseudonym would write into erased history: refused. */
export const reservedIdProblem = (objectId: string): string | undefined =>
  objectId.startsWith(PSEUDONYM_PREFIX) ? `objectId ${objectId} is reserved for the tombstones of an erased object` : undefined

/** An event id that names the object (providers build them from it) names its pseudonym instead. */
export const tombstoneEventId = (eventId: string, objectId: string, erasedId: string): string => eventId.split(objectId).join(erasedId)

/** The recorded operation of an erased object, as it is kept: its shape, with the pseudonym and no data. */
export const tombstoneOperation = (recorded: string, objectId: string, erasedId: string): string => {
  const op = decodeRecordedOperation(recorded)
  const eventId = tombstoneEventId(op.eventId, objectId, erasedId)
  const kept: Operation = op.op === "assert" ? { ...op, objectId: erasedId, eventId, data: ERASED_DATA } : { ...op, objectId: erasedId, eventId }
  return encodeOperation(kept)
}

/** The latest erasure of an object, as a new input for it sees it. */
export interface ErasureBlock {
  readonly id: number
  readonly erasedAt: string
  readonly allowNew: boolean
  readonly liftedAt: string | null
}

/** Whether an erasure still refuses new inputs for its object. */
export const blocks = (latest: ErasureBlock | undefined): latest is ErasureBlock => latest !== undefined && !latest.allowNew && latest.liftedAt === null

/**
 * The refusal recorded for an input of an erased object: no payload (the raw input is not kept) and
 * the pseudonym, never the object id, so the refusal brings no personal data back.
 */
export const erasedRefusal = (op: Pick<Operation, "eventId" | "objectType" | "objectId">, erasure: ErasureBlock): Refusal => ({
  reason: `object erased (erasure ${erasure.id} at ${erasure.erasedAt}): new inputs for it are refused until an operator lifts the erasure (skygge erase --lift)`,
  eventId: tombstoneEventId(op.eventId, op.objectId, pseudonym(erasure.id)),
  objectType: op.objectType,
  objectId: pseudonym(erasure.id)
})

/** Records touched by one erasure, per table (what the log keeps instead of the data). */
export type ErasureCounts = Readonly<Record<string, number>>
