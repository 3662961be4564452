/**
 * The persisted work queue between an IntArk consumer and its fetchers.
 * `record` is what a consumer calls before it acks: once it returns, the
 * notifications are durable (as work, as a dropped duplicate, or as a refusal).
 *
 * A claim is a lease held by a cluster member (ClusterMembers): the item is in
 * flight under that member's id for as long as the member's heartbeat is fresh.
 * `recover` returns to the pool only the claims of members that are gone (no
 * row, or a heartbeat older than the time given), never a live member's; a
 * settle applies only while the item is still claimed by the member settling
 * it, so a member presumed dead that comes back cannot overwrite the outcome
 * of the one that took its work over.
 */
import { Context, type Effect, type Queue, type Scope } from "effect"
import type { ChangeHint } from "../domain/intark/ChangeHint.js"
import type { Instant } from "../domain/core/Instant.js"
import type { StoreError } from "./StoreError.js"

export type Received =
  | { readonly _tag: "Hint"; readonly hint: ChangeHint }
  | { readonly _tag: "Poison"; readonly reason: string; readonly raw: string; readonly routingKey: string }

export type RecordOutcome = "queued" | "duplicate" | "refused"

export interface WorkItem {
  readonly source: string
  readonly resource: string
  readonly objectId: string
  readonly location: string | null
  readonly operation: ChangeHint["operation"]
  readonly hints: number
  readonly issuedAt: Instant | null
  readonly validFrom: Instant | null
  readonly attempts: number
  readonly confirming: boolean
  readonly lastError: string | null
  readonly nextAttemptAt: Instant
  readonly state: "pending" | "in_flight" | "abandoned"
  /** The member whose claim (lease) the item is while in flight; null otherwise. */
  readonly claimedBy: string | null
}

export type WorkKey = Pick<WorkItem, "source" | "resource" | "objectId">

/** How a fetch ended, for `settle` (what follows is domain/intark/WorkSettlement's rule). */
export type { Settlement } from "../domain/intark/WorkSettlement.js"
import type { Settlement } from "../domain/intark/WorkSettlement.js"

export interface WorkQueueShape {
  readonly record: (source: string, received: ReadonlyArray<Received>) => Effect.Effect<ReadonlyArray<RecordOutcome>, StoreError>
  /** Due pending items, now in flight claimed by `memberId` (oldest due first). */
  readonly claim: (source: string, limit: number, memberId: string) => Effect.Effect<ReadonlyArray<WorkItem>, StoreError>
  /**
   * Apply each fetch's outcome to its item — only while the item is still in flight claimed by the
   * member that claimed it (`item.claimedBy`); the others are dropped. Returns how many were dropped.
   */
  readonly settle: (settlements: ReadonlyArray<readonly [WorkItem, Settlement]>) => Effect.Effect<number, StoreError>
  /**
   * In-flight items whose claimer is gone — no member row, or its last heartbeat before `liveSince` —
   * go back to pending; a live member's stay its own, but for `restarting`'s: a member whose fetcher of
   * the source starts again (after a store failure) has none in hand. Returns how many.
   */
  readonly recover: (source: string, liveSince: Instant, restarting?: string) => Effect.Effect<number, StoreError>
  /** Abandoned items (of one resource, or all) go back to pending (a resync, or an operator, retries them); returns how many. */
  readonly revive: (source: string, resource?: string) => Effect.Effect<number, StoreError>
  readonly nextDue: (source: string) => Effect.Effect<Instant | null, StoreError>
  readonly list: (source: string, state: WorkItem["state"], limit: number) => Effect.Effect<ReadonlyArray<WorkItem>, StoreError>
  readonly counts: Effect.Effect<ReadonlyArray<{ readonly source: string; readonly state: string; readonly n: number }>, StoreError>
  /** Forget message ids received before `before` (dedup needs only a window). */
  readonly pruneSeen: (before: Instant) => Effect.Effect<number, StoreError>
  /** Wakes after every `record` that queued work (subscribe before looking). */
  readonly queued: Effect.Effect<Queue.Dequeue<void>, never, Scope.Scope>
}

export class WorkQueue extends Context.Tag("skygge/WorkQueue")<WorkQueue, WorkQueueShape>() {}
