/** runOnCron: every instant of the expression in its time zone, a failed run waiting for the next (TestClock). */
import { Effect, Fiber, Logger, LogLevel, Ref, TestClock, TestContext } from "effect"
import { expect, it } from "vitest"
import { runOnCron } from "../../src/schedule/OnCron.js"

it("runs at each instant read in the time zone, and a failed run waits for the next instant", async () => {
  await Effect.runPromise(
    Effect.gen(function* () {
      const runs = yield* Ref.make<Array<number>>([])
      const task = Effect.gen(function* () {
        const now = yield* TestClock.currentTimeMillis
        const before = yield* Ref.getAndUpdate(runs, (r) => [...r, now])
        // The first run fails: the schedule goes on.
        if (before.length === 0) return yield* Effect.fail("the first run fails")
      })
      yield* TestClock.setTime(Date.UTC(2026, 0, 15, 0, 0)) // 01:00 in Oslo (+01:00)
      const fiber = yield* Effect.fork(runOnCron("30 3 * * *", "Europe/Oslo", "test task", task))
      yield* TestClock.adjust("2 hours") // 03:00 in Oslo: not yet
      expect(yield* Ref.get(runs)).toEqual([])
      yield* TestClock.adjust("31 minutes")
      yield* TestClock.adjust("1 day")
      yield* TestClock.adjust("1 day")
      yield* Fiber.interrupt(fiber)
      expect((yield* Ref.get(runs)).map((t) => new Date(t).toISOString())).toEqual([
        "2026-01-15T02:30:00.000Z",
        "2026-01-16T02:30:00.000Z",
        "2026-01-17T02:30:00.000Z"
      ])
    }).pipe(Effect.provide(TestContext.TestContext), Logger.withMinimumLogLevel(LogLevel.None))
  )
})
