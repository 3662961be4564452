/**
 * A store operation that failed in the database (disk full, busy past the
 * timeout, a constraint, an I/O error): a typed failure every store port
 * declares, so each caller decides at its edge what it means (an HTTP 503, a
 * failed round that is retried, a command that stops) — not a defect thrown
 * out of a synchronous call. The message names the operation and the cause's
 * own message, never the rows it was writing.
 */
import { Data, Effect } from "effect"

export class StoreError extends Data.TaggedError("StoreError")<{
  /** The port and method, e.g. `Store.ingest`. */
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `store operation ${this.operation} failed: ${reason}`
  }
}

/** Run one synchronous unit of work of a store adapter; what it throws becomes a StoreError naming `operation`. */
export const attempt = <A>(operation: string, work: () => A): Effect.Effect<A, StoreError> =>
  Effect.try({ try: work, catch: (cause) => new StoreError({ operation, cause }) })

/** Run one asynchronous unit of work (a PostgreSQL query); what it rejects with becomes a StoreError naming `operation`. */
export const attemptPromise = <A>(operation: string, work: () => Promise<A>): Effect.Effect<A, StoreError> =>
  Effect.tryPromise({ try: work, catch: (cause) => new StoreError({ operation, cause }) })
