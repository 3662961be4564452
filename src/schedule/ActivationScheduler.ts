/**
 * The activation scheduler: one fiber that sleeps until the earliest pending
 * activation, settles everything due, and sleeps again. A commit (a new,
 * perhaps earlier activation) wakes it early; so does the poll interval, which
 * catches activations written by another process on the same store (a CLI
 * import beside a running engine). Time comes from Effect's Clock, so tests
 * drive it with TestClock.
 */
import { Clock, Config, Duration, Effect, Layer, Option, Queue } from "effect"
import { Leadership } from "../cluster/Leadership.js"
import { fromEpochMillis, type Instant, toEpochMillis } from "../domain/core/Instant.js"
import { ActivationStore } from "../store/Activations.js"
import { CommitSignal } from "../store/CommitSignal.js"

export const ActivationsConfig = Config.all({
  enabled: Config.boolean("enabled").pipe(Config.withDefault(true)),
  /** Fired more than this long after its instant (the engine was down): marked late. */
  lateAfterSeconds: Config.integer("lateAfterSeconds").pipe(Config.withDefault(60), Config.validate({ message: "must be ≥ 0", validation: (n) => n >= 0 })),
  /** Longest sleep between looks at the store (activations written by other processes). */
  pollSeconds: Config.integer("pollSeconds").pipe(Config.withDefault(10), Config.validate({ message: "must be ≥ 1", validation: (n) => n >= 1 }))
}).pipe(Config.nested("activations"))

export interface SchedulerOptions {
  readonly lateAfterMs: number
  readonly pollMs: number
}

/** Milliseconds until `at`, rounded up, so the scheduler never wakes a microsecond early and spins. */
export const millisUntil = (at: Instant, nowMs: number): number => {
  const atMs = toEpochMillis(at) + (at.slice(23, 26) === "000" ? 0 : 1)
  return Math.max(0, atMs - nowMs)
}

/** Runs until interrupted. */
export const runActivationScheduler = (options: SchedulerOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const store = yield* ActivationStore
      const wake = yield* (yield* CommitSignal).subscribe
      let first = true
      for (;;) {
        const nowMs = yield* Clock.currentTimeMillis
        const settled = yield* store.settleDue(fromEpochMillis(nowMs), options.lateAfterMs)
        if (settled.fired + settled.skipped > 0) {
          // Counts only: an activation names a person's object, and logs carry no personal data.
          yield* Effect.logInfo("activations settled").pipe(
            Effect.annotateLogs({ fired: settled.fired, skipped: settled.skipped, late: settled.late, ...(first ? { catchUp: true } : {}) })
          )
        }
        first = false
        const next = yield* store.next
        // From the time now, not the time before settling: on a store over a network settling takes
        // real time, and a wait measured from before it would wake that much late.
        const nextNowMs = yield* Clock.currentTimeMillis
        const waitMs = Option.match(next, {
          onNone: () => options.pollMs,
          onSome: (at) => Math.min(millisUntil(at, nextNowMs), options.pollMs)
        })
        yield* Effect.race(Effect.sleep(Duration.millis(waitMs)), Queue.take(wake))
      }
    })
  )

/** The scheduler as part of the engine, when `activations.enabled`: one per cluster, singleton `activations`. */
export const ActivationSchedulerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const cfg = yield* ActivationsConfig
    if (!cfg.enabled) return yield* Effect.logInfo("activations disabled (activations.enabled = false)")
    const leadership = yield* Leadership
    yield* Effect.forkScoped(
      leadership.lead("activations", runActivationScheduler({ lateAfterMs: cfg.lateAfterSeconds * 1000, pollMs: cfg.pollSeconds * 1000 })).pipe(
        Effect.tapErrorCause((cause) => Effect.logError("activation scheduler stopped", cause))
      )
    )
  })
)
