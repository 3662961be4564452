/** Periodic work on a cron schedule, driven by Effect's Clock (so TestClock can move it). */
import { Effect, Schedule } from "effect"

/**
 * Run `task` at every instant of `expression` read in `timeZone`, until
 * interrupted. A failed run is logged (as `what`) and the schedule goes on:
 * it runs again at the next instant.
 */
export const runOnCron = <A, E, R>(expression: string, timeZone: string, what: string, task: Effect.Effect<A, E, R>) =>
  task.pipe(
    Effect.catchAllCause((cause) => Effect.logError(`${what} failed; it runs again at the schedule's next instant`, cause)),
    // Effect.schedule waits for the first instant before the first run.
    Effect.schedule(Schedule.cron(expression, timeZone)),
    Effect.asVoid
  )
