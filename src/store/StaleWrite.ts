/**
 * A singleton write refused because what it was to replace is no longer what the writer read: another
 * process moved the cursor (or the publisher's position) since. The writer was a leader that lost its
 * lock without knowing it (a network partition, a stall longer than the lock check); the refusal is
 * what keeps it from moving a cursor backwards or re-publishing from an old position. The worker stops
 * leading and competes again: the new holder, or it after re-reading, goes on from the stored value.
 */
import { Data, Effect } from "effect"
import type { StoreError } from "./StoreError.js"

export class StaleWrite extends Data.TaggedError("StaleWrite")<{
  /** The port and method, e.g. `SourceCursors.set`. */
  readonly operation: string
  /** The cursor's or publisher's name (never an object id). */
  readonly key: string
}> {
  override get message(): string {
    return `${this.operation}: ${this.key} was moved by another process since this one read it; this process no longer leads it`
  }
}

/** A StoreError whose cause is a StaleWrite thrown inside a unit of work (rolled back) becomes the StaleWrite itself. */
export const staleOut = <A, R>(effect: Effect.Effect<A, StoreError, R>): Effect.Effect<A, StoreError | StaleWrite, R> =>
  Effect.catchIf(effect, (e): e is StoreError & { cause: StaleWrite } => e.cause instanceof StaleWrite, (e) => Effect.fail(e.cause))
