/**
 * The one backoff of the engine, for every retry of something that may pass —
 * a request to a register or a provider, an outbox delivery, a broker
 * connection: exponential from `base`, capped at `max`, jittered (each delay
 * 80–120 % of that) so that clients that failed together do not come back
 * together. Its output is the delay it chose, for the log line that says when
 * the next try comes.
 */
import { Chunk, Duration, Effect, Schedule } from "effect"

export interface BackoffOptions {
  readonly base: Duration.DurationInput
  /** The longest delay before jitter; without it the delays only grow. */
  readonly max?: Duration.DurationInput
}

export const backoff = (options: BackoffOptions): Schedule.Schedule<Duration.Duration> => {
  const exponential = Schedule.exponential(options.base)
  const capped: Schedule.Schedule<unknown> = options.max === undefined ? exponential : exponential.pipe(Schedule.union(Schedule.spaced(options.max)))
  return Schedule.delays(Schedule.jittered(capped))
}

/**
 * The delay before retry number `attempt` (0: the first) — for retries whose
 * count outlives the fiber (a work queue keeps it with the item).
 */
export const backoffDelay = (options: BackoffOptions, attempt: number): Effect.Effect<Duration.Duration> =>
  Schedule.run(backoff(options), 0, Array.from({ length: Math.min(Math.max(0, attempt), 30) + 1 }, () => undefined)).pipe(
    Effect.map((delays) => Chunk.unsafeLast(delays))
  )
