/**
 * The commit signal: a wake-up after every commit that wrote something
 * downstream should know of (rows, activations, outbox records), for the
 * scheduler and the publishers. Waiters subscribe before they look, so a commit
 * between looking and waiting is never missed. One process's signal; a wake-up
 * across processes (LISTEN/NOTIFY) is a backend's to add.
 */
import { Context, Effect, PubSub, type Queue, type Scope } from "effect"

export interface CommitSignalShape {
  readonly subscribe: Effect.Effect<Queue.Dequeue<void>, never, Scope.Scope>
  readonly notify: Effect.Effect<void>
}

export class CommitSignal extends Context.Tag("skygge/CommitSignal")<CommitSignal, CommitSignalShape>() {}

/** The commit signal of one process: a sliding PubSub, so a slow waiter only ever has one wake-up pending. */
export const makeCommitSignal = Effect.map(PubSub.sliding<void>(1), (pubsub): CommitSignalShape => ({
  subscribe: PubSub.subscribe(pubsub),
  notify: Effect.asVoid(PubSub.publish(pubsub, undefined))
}))
