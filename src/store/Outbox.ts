/**
 * The transactional outbox, as the store holds it: every real change and every
 * fired activation leaves one record, written in the same commit, in `seq`
 * order. Each publisher (the AMQP exchange, each webhook URL) keeps its own
 * cursor, so one that is down holds back only itself.
 */
import { Context, type Effect } from "effect"
import type { ChangeKind } from "../domain/core/Change.js"
import type { Bound, Instant } from "../domain/core/Instant.js"
import type { StaleWrite } from "./StaleWrite.js"
import type { StoreError } from "./StoreError.js"

/** A change (domain/core/Change), a fired activation (domain/core/Activation), or an erasure (store/Erasures). */
export type OutboxType = ChangeKind | "validity-started" | "validity-ended" | "erased"

export interface OutboxRecord {
  readonly seq: number
  /** Stable across redeliveries: consumers dedup by it. */
  readonly id: string
  readonly type: OutboxType
  readonly objectType: string
  readonly objectId: string
  /** The operation's registreringstid; for an activation, its row's registreringFra. */
  readonly registreringstid: Instant
  /** The portion changed; for an activation, its row's validity. */
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly eventId: string | null
  readonly rowId: number | null
  /** The activation instant. */
  readonly at: Instant | null
  readonly late: boolean | null
  readonly createdAt: Instant
}

export interface PublisherState {
  readonly publisher: string
  readonly deliveredSeq: number
  /** Records after the cursor. */
  readonly backlog: number
  /** Failed attempts since the last delivery. */
  readonly attempts: number
  readonly lastError: string | null
}

export interface OutboxStoreShape {
  readonly after: (seq: number, limit: number) => Effect.Effect<ReadonlyArray<OutboxRecord>, StoreError>
  /** The publisher's cursor; a new publisher starts before the oldest record still kept. */
  readonly cursor: (publisher: string) => Effect.Effect<number, StoreError>
  /**
   * Move the publisher's cursor from `from` (the position it read or last wrote) to `seq`; a
   * compare-and-set, so a publisher that lost its leadership cannot move a successor's cursor back
   * (StaleWrite: another process moved it since).
   */
  readonly delivered: (publisher: string, from: number, seq: number) => Effect.Effect<void, StoreError | StaleWrite>
  readonly failed: (publisher: string, error: string) => Effect.Effect<void, StoreError>
  readonly states: (publishers: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<PublisherState>, StoreError>
  /**
   * Delete records created before `before` that every one of `publishers` has
   * delivered (with no publisher, records older than `before`). Returns the count.
   */
  readonly prune: (publishers: ReadonlyArray<string>, before: Instant) => Effect.Effect<number, StoreError>
  readonly size: Effect.Effect<number, StoreError>
}

export class OutboxStore extends Context.Tag("skygge/OutboxStore")<OutboxStore, OutboxStoreShape>() {}
