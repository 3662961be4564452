/** Periodic work on a cron schedule, driven by Effect's Clock (so TestClock can move it). */
import { Clock, Cron, Duration, Effect } from "effect"

/**
 * Run `task` at every instant of `expression` read in `timeZone`, until
 * interrupted. A failed run is logged (as `what`) and the schedule goes on.
 */
export const runOnCron = <A, E, R>(expression: string, timeZone: string, what: string, task: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const cron = Cron.unsafeParse(expression, timeZone)
    for (;;) {
      const nowMs = yield* Clock.currentTimeMillis
      yield* Effect.sleep(Duration.millis(Math.max(0, Cron.next(cron, new Date(nowMs)).getTime() - nowMs)))
      yield* task.pipe(Effect.catchAllCause((cause) => Effect.logError(`${what} failed; it runs again at the schedule's next instant`, cause)))
    }
  })
