/**
 * A batch of operations planned as a whole: the rules of one operation — dedup by event id,
 * registrations never going backwards (Plan.staleReason), the portion plan (Plan.planOperation),
 * activations held and cancelled (Activation), the change's name (Change) — applied in order to an
 * in-memory copy of what the batch touches. A store reads that copy once (heads, current rows,
 * recorded events of the batch's objects and ids) and writes the result in a few bulk statements,
 * instead of a round trip per statement per operation. The answers are those of applying the
 * operations one by one: the same results, rows, activations and outbox records, in the same order.
 *
 * Rows inserted by the batch carry provisional ids (-1, -2, … in insertion order); the store
 * replaces them with real ones, allocated in the same order.
 */
import { closingCancels, heldActivations, type ActivationKind } from "./Activation.js"
import { type ChangeKind, operationChangeKind } from "./Change.js"
import type { Bound, Instant } from "./Instant.js"
import { encodeOperation, isRefusal, type Operation, type Refusal } from "./Operation.js"
import { type CurrentRow, planOperation, staleReason } from "./Plan.js"

/** A current row as planning reads it, with when it was stored (for its activations). */
export interface StoredCurrentRow extends CurrentRow {
  readonly storedAt: string
}

/** One object's identity as a map key. */
export const objectKey = (objectType: string, objectId: string): string => `${objectType}\u0000${objectId}`

/** What the store holds, before the batch, of the batch's objects and event ids. */
export interface BatchBefore {
  /** The latest accepted registration of each object that has one. */
  readonly heads: ReadonlyMap<string, Instant>
  /** The current rows of each object that has a head (by objectKey). */
  readonly current: ReadonlyMap<string, ReadonlyArray<StoredCurrentRow>>
  /** The recorded operation (encoded) of each of the batch's event ids already used. */
  readonly events: ReadonlyMap<string, string>
}

/** What a repeated event id means: the same operation again is a duplicate; another one under it is refused. */
export const repeatedEventId = (previous: string, encoded: string, eventId: string): "duplicate" | string =>
  previous === encoded ? "duplicate" : `eventId '${eventId}' was already used for a different operation`

export interface BatchResult {
  readonly outcome: "applied" | "unchanged" | "duplicate" | "refused"
  readonly eventId?: string
  readonly reason?: string
  readonly field?: string
}

export interface PlannedRow {
  /** Provisional id: -(index in `rows` + 1). */
  readonly ref: number
  readonly objectType: string
  readonly objectId: string
  readonly registreringFra: Instant
  /** Set when a later operation of the batch closes the row. */
  registreringTil: Bound
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly data: string
  readonly eventId: string
}

export interface PlannedActivation {
  /** The row's id: provisional (< 0) for a row of this batch. */
  readonly rowId: number
  readonly objectType: string
  readonly objectId: string
  readonly kind: ActivationKind
  readonly at: Instant
  /** Its row was closed later in the batch: held and cancelled at once. */
  cancelled: boolean
}

export interface PlannedBatch {
  /** One per submission, in order. */
  readonly results: ReadonlyArray<BatchResult>
  /** Accepted operations in order, each with its outcome (the event log). */
  readonly events: ReadonlyArray<{ readonly op: Operation; readonly encoded: string; readonly outcome: "applied" | "unchanged" }>
  /** Refusals in order: the submission's index, the refusal, and the operation refused (when it decoded). */
  readonly refusals: ReadonlyArray<{ readonly index: number; readonly refusal: Refusal; readonly operation?: Operation }>
  /** Rows inserted, in order. */
  readonly rows: ReadonlyArray<PlannedRow>
  /** Rows stored before the batch that it closes, in order. */
  readonly closes: ReadonlyArray<{ readonly id: number; readonly at: Instant }>
  /** Rows stored before the batch whose pending activations the batch cancels. */
  readonly cancels: ReadonlyArray<number>
  /** Activations held by the batch's rows, in order. */
  readonly activations: ReadonlyArray<PlannedActivation>
  /** Outbox records, in order. */
  readonly changes: ReadonlyArray<{ readonly kind: ChangeKind; readonly op: Operation }>
  /** Each touched object's latest registration after the batch. */
  readonly heads: ReadonlyArray<{ readonly objectType: string; readonly objectId: string; readonly latest: Instant }>
}

const NO_ROWS: ReadonlyArray<StoredCurrentRow> = []

/** Plan `inputs` (decoded operations, or refusals already) at `now` against what the store held before them. */
export const planIngestBatch = (before: BatchBefore, inputs: ReadonlyArray<Operation | Refusal>, now: Instant): PlannedBatch => {
  const heads = new Map(before.heads)
  const current = new Map(before.current)
  const events = new Map(before.events)
  const results: Array<BatchResult> = []
  const planned: Omit<PlannedBatch, "results" | "heads"> & {
    events: Array<PlannedBatch["events"][number]>
    refusals: Array<PlannedBatch["refusals"][number]>
    rows: Array<PlannedRow>
    closes: Array<{ id: number; at: Instant }>
    cancels: Array<number>
    activations: Array<PlannedActivation>
    changes: Array<PlannedBatch["changes"][number]>
  } = { events: [], refusals: [], rows: [], closes: [], cancels: [], activations: [], changes: [] }
  const touched = new Map<string, { objectType: string; objectId: string }>()

  const refuse = (index: number, refusal: Refusal, operation?: Operation) => {
    planned.refusals.push(operation === undefined ? { index, refusal } : { index, refusal, operation })
    const result: { -readonly [K in keyof BatchResult]: BatchResult[K] } = { outcome: "refused", reason: refusal.reason }
    if (refusal.eventId !== undefined) result.eventId = refusal.eventId
    if (refusal.field !== undefined) result.field = refusal.field
    results.push(result)
  }

  inputs.forEach((input, index) => {
    if (isRefusal(input)) return refuse(index, input)
    const op = input
    const encoded = encodeOperation(op)
    // Dedup first in meaning: a repeat of an old event is a duplicate, not stale.
    const previous = events.get(op.eventId)
    if (previous !== undefined) {
      const repeated = repeatedEventId(previous, encoded, op.eventId)
      if (repeated === "duplicate") return results.push({ eventId: op.eventId, outcome: "duplicate" })
      return refuse(index, { reason: repeated, eventId: op.eventId, objectType: op.objectType, objectId: op.objectId }, op)
    }
    const key = objectKey(op.objectType, op.objectId)
    const stale = staleReason(heads.get(key), op)
    if (stale !== undefined) return refuse(index, { reason: stale, eventId: op.eventId, objectType: op.objectType, objectId: op.objectId }, op)
    const rows = current.get(key) ?? NO_ROWS
    const plan = planOperation(rows, op)
    const outcome = plan._tag === "Change" ? "applied" : "unchanged"
    events.set(op.eventId, encoded)
    planned.events.push({ op, encoded, outcome })
    if (plan._tag === "Change") {
      const closed = new Set(plan.close)
      for (const row of rows) {
        if (!closed.has(row.id)) continue
        if (row.id < 0) {
          planned.rows[-row.id - 1]!.registreringTil = op.registreringstid
          for (const a of planned.activations) if (a.rowId === row.id) a.cancelled = true
        } else {
          planned.closes.push({ id: row.id, at: op.registreringstid })
          if (closingCancels(row)) planned.cancels.push(row.id)
        }
      }
      const after: Array<StoredCurrentRow> = rows.filter((row) => !closed.has(row.id))
      for (const row of plan.insert) {
        const ref = -(planned.rows.length + 1)
        planned.rows.push({ ref, objectType: op.objectType, objectId: op.objectId, registreringFra: op.registreringstid, registreringTil: null, virkningFra: row.virkningFra, virkningTil: row.virkningTil, data: row.data, eventId: op.eventId })
        for (const a of heldActivations({ virkningFra: row.virkningFra, virkningTil: row.virkningTil, storedAt: now })) {
          planned.activations.push({ rowId: ref, objectType: op.objectType, objectId: op.objectId, kind: a.kind, at: a.at, cancelled: false })
        }
        after.push({ id: ref, virkningFra: row.virkningFra, virkningTil: row.virkningTil, data: row.data, storedAt: now })
      }
      planned.changes.push({ kind: operationChangeKind(rows.length, plan), op })
      current.set(key, after)
    } else if (!current.has(key)) current.set(key, rows)
    heads.set(key, op.registreringstid)
    touched.set(key, { objectType: op.objectType, objectId: op.objectId })
    results.push({ eventId: op.eventId, outcome })
  })

  return {
    ...planned,
    results,
    heads: [...touched].map(([key, o]) => ({ ...o, latest: heads.get(key)! }))
  }
}

/** The objects and event ids a batch reads before planning. */
export const batchReads = (inputs: ReadonlyArray<Operation | Refusal>): { readonly objects: ReadonlyArray<{ readonly objectType: string; readonly objectId: string }>; readonly eventIds: ReadonlyArray<string> } => {
  const objects = new Map<string, { objectType: string; objectId: string }>()
  const eventIds = new Set<string>()
  for (const input of inputs) {
    if (isRefusal(input)) continue
    objects.set(objectKey(input.objectType, input.objectId), { objectType: input.objectType, objectId: input.objectId })
    eventIds.add(input.eventId)
  }
  return { objects: [...objects.values()], eventIds: [...eventIds] }
}
