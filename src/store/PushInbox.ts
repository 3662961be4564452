/**
 * Events received by PUSH, durable before the sender is answered: recorded in
 * one transaction per request (a redelivered envelope Id is a duplicate),
 * processed afterwards, marked once what they caused is committed, and pruned
 * a while after (the dedup window).
 */
import { Context, type Effect } from "effect"
import type { StoreError } from "./StoreError.js"

export interface InboxEntry {
  readonly id: number
  readonly envelopeId: string
  readonly body: string
}

export interface PushInboxShape {
  readonly record: (source: string, events: ReadonlyArray<{ readonly envelopeId: string; readonly body: string }>) => Effect.Effect<{ readonly recorded: number; readonly duplicates: number }, StoreError>
  /** The oldest unprocessed entries of a source. */
  readonly pending: (source: string, limit: number) => Effect.Effect<ReadonlyArray<InboxEntry>, StoreError>
  readonly markProcessed: (ids: ReadonlyArray<number>) => Effect.Effect<void, StoreError>
  /** Remove processed entries received before `before` (an instant); how many. */
  readonly prune: (before: string) => Effect.Effect<number, StoreError>
  readonly pendingCount: Effect.Effect<number, StoreError>
}

export class PushInbox extends Context.Tag("skygge/PushInbox")<PushInbox, PushInboxShape>() {}
