/**
 * The bitemporal store: one tag, one layer per dialect (SQLite now,
 * PostgreSQL later). Every method is a whole unit of work; none hands out a
 * transaction. Domain planning decides what to write; the layer only applies it.
 */
import { Context, type Effect, type Option } from "effect"
import type { Bound, Instant } from "../domain/core/Instant.js"
import type { Operation, Refusal } from "../domain/core/Operation.js"
import type { ClaimFence } from "./ClaimFence.js"
import type { StoreError } from "./StoreError.js"

/** One input of a batch: a decoded operation, or an input already refused by decoding. */
export interface Submission {
  /** Line number in the source (NDJSON), for messages and the refused record. */
  readonly line?: number
  readonly input: Operation | Refusal
  /** The raw input, kept with a refusal. */
  readonly raw?: string
}

export type Outcome = "applied" | "unchanged" | "duplicate" | "refused"

export interface SubmissionResult {
  readonly line?: number
  readonly eventId?: string
  readonly outcome: Outcome
  readonly reason?: string
  readonly field?: string
}

/** A row as every interface shows it. Open ends are null. */
export interface Row {
  readonly id: number
  readonly objectType: string
  readonly objectId: string
  readonly registreringFra: Instant
  readonly registreringTil: Bound
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly data: unknown
  readonly eventId: string
  readonly storedAt: Instant
}

export interface AsOfQuery {
  readonly objectType: string
  readonly objectId: string
  readonly registreringstid: Instant
  readonly virkningstid: Instant
}

export interface SnapshotQuery {
  readonly objectType: string
  readonly registreringstid: Instant
  readonly virkningstid: Instant
  /** Keyset: return objects after this object id. */
  readonly after?: string
  readonly limit: number
}

/** Position in the changes order: (instant of the change, row id). */
export interface ChangeCursor {
  readonly at: Instant
  readonly id: number
}

export interface ChangesQuery {
  readonly since: Instant
  readonly until: Instant
  readonly objectType?: string
  readonly after?: ChangeCursor
  readonly limit: number
}

/**
 * A row registered or closed in the window, as it stood at `until`: a close
 * after the window is not shown, so the same window always gives the same answer.
 */
export interface ChangeRow extends Row {
  readonly change: "registered" | "closed"
  readonly changeAt: Instant
}

export interface RecordedEvent {
  readonly seq: number
  readonly eventId: string
  readonly operation: Operation
  readonly outcome: "applied" | "unchanged"
  readonly source: string
  readonly receivedAt: Instant
}

export interface RefusedRecord {
  readonly id: number
  readonly receivedAt: Instant
  readonly source: string
  readonly line: number | null
  readonly eventId: string | null
  readonly objectType: string | null
  readonly objectId: string | null
  readonly field: string | null
  readonly reason: string
  readonly input: string | null
}

export interface StoreStats {
  readonly rows: number
  readonly currentRows: number
  readonly objects: number
  readonly events: number
  readonly refused: number
}

export interface StoreShape {
  /**
   * Apply a batch in one transaction, in order: refusals are recorded,
   * duplicates skipped, stale registrations refused and recorded, the rest planned and applied.
   */
  readonly ingest: (source: string, batch: ReadonlyArray<Submission>) => Effect.Effect<ReadonlyArray<SubmissionResult>, StoreError>
  /**
   * `ingest` of what a work-queue claimer fetched: in the same transaction, only the submissions whose
   * work items are still in flight under `fence.claimedBy` (ClaimFence). The others are not written:
   * undefined in their places.
   */
  readonly ingestClaimed: (source: string, batch: ReadonlyArray<Submission>, fence: ClaimFence) => Effect.Effect<ReadonlyArray<SubmissionResult | undefined>, StoreError>
  readonly asOf: (query: AsOfQuery) => Effect.Effect<Option.Option<Row>, StoreError>
  /**
   * `asOf` and `history` answered synchronously, where the store can (SQLite): the HTTP fast path
   * (src/api/FastPath.ts) reads through them without a fiber. They throw what `asOf`/`history` fail with.
   */
  readonly readNow?: {
    readonly asOf: (query: AsOfQuery) => Row | undefined
    readonly history: (objectType: string, objectId: string) => ReadonlyArray<Row>
  }
  readonly history: (objectType: string, objectId: string) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  readonly snapshot: (query: SnapshotQuery) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  readonly changes: (query: ChangesQuery) => Effect.Effect<ReadonlyArray<ChangeRow>, StoreError>
  /** The accepted operations in arrival order, after `afterSeq`. */
  readonly events: (afterSeq: number, limit: number) => Effect.Effect<ReadonlyArray<RecordedEvent>, StoreError>
  readonly refused: (afterId: number, limit: number) => Effect.Effect<ReadonlyArray<RefusedRecord>, StoreError>
  readonly stats: Effect.Effect<StoreStats, StoreError>
  /** Whether the store answers at all (one trivial statement): readiness, whatever the store's size. */
  readonly ping: Effect.Effect<void, StoreError>
  /** Ids of every object of the type ever registered, in id order after `after` (for reconciliation). */
  readonly objectIds: (objectType: string, after: string, limit: number) => Effect.Effect<ReadonlyArray<string>, StoreError>
  /** Has any object of this type ever been registered? (An empty shadow asks for a full load.) */
  readonly hasObjects: (objectType: string) => Effect.Effect<boolean, StoreError>
}

export class Store extends Context.Tag("skygge/Store")<Store, StoreShape>() {}
