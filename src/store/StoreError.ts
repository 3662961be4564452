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
    return `store operation ${this.operation} failed: ${reasonOf(this.cause)}`
  }
}

/** A cause's own message, whatever was thrown (an object without a prototype has no toString). */
const reasonOf = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  const message = typeof cause === "object" && cause !== null ? (cause as { message?: unknown }).message : undefined
  if (typeof message === "string") return message
  try {
    return String(cause)
  } catch {
    return Object.prototype.toString.call(cause)
  }
}

/** Run one synchronous unit of work of a store adapter; what it throws becomes a StoreError naming `operation`. */
export const attempt = <A>(operation: string, work: () => A): Effect.Effect<A, StoreError> =>
  Effect.try({ try: work, catch: (cause) => new StoreError({ operation, cause }) })

/** Run one asynchronous unit of work (a PostgreSQL query); what it rejects with becomes a StoreError naming `operation`. */
export const attemptPromise = <A>(operation: string, work: () => Promise<A>): Effect.Effect<A, StoreError> =>
  Effect.tryPromise({ try: work, catch: (cause) => new StoreError({ operation, cause }) })
