/**
 * Activations against an independent model, with time driven by TestClock.
 *
 * The model knows nothing of rows: it keeps each object's current view as a
 * function of virkning over whole days, and says that at a day boundary t the
 * engine must emit "ended" (with the data before t) and/or "started" (with the
 * data from t) exactly when the view changes across t — judged by the
 * operations registered before t arrived. Operations happen at noon,
 * boundaries at midnight, so "before t" is never ambiguous. A restart closes
 * the store and opens the backend's layer again.
 */
import { type Context, Effect, Fiber, Logger, LogLevel, Option, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromEpochMillis, type Instant, instant } from "../../../src/domain/core/Instant.js"
import { canonicalJson, type Operation } from "../../../src/domain/core/Operation.js"
import { millisUntil, runActivationScheduler } from "../../../src/schedule/ActivationScheduler.js"
import { ActivationStore } from "../../../src/store/Activations.js"
import { OutboxStore } from "../../../src/store/Outbox.js"
import { Store } from "../../../src/store/Store.js"
import type { StoreServices } from "../../../src/store/StoreServices.js"
import { onFreshStore, openServices, propertyRuns, runTest, type StoreBackend } from "./backend.js"

const DAY = 86_400_000
const BASE = Date.UTC(2030, 0, 1)
const DAYS = 12 // boundaries at days 0..DAYS; cells -1 (before day 0) .. DAYS (from day DAYS on)
const LATE_AFTER_MS = 60_000
const POLL_MS = 400 * DAY // longer than any test: every wake-up is a due activation or a commit

const midnight = (day: number) => fromEpochMillis(BASE + day * DAY)

interface OpSpec {
  readonly objectId: string
  readonly retract: boolean
  readonly fra: number | null
  readonly til: number | null
  readonly data: string
}
type Step = { readonly gap: number } & ({ readonly _tag: "op"; readonly op: OpSpec } | { readonly _tag: "restart"; readonly downDays: number })

const opSpec: fc.Arbitrary<OpSpec> = fc
  .record({
    objectId: fc.constantFrom("a", "b", "c"),
    retract: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    fra: fc.option(fc.integer({ min: 0, max: DAYS - 1 }), { freq: 4 }),
    len: fc.option(fc.integer({ min: 1, max: DAYS }), { freq: 4 }),
    data: fc.constantFrom("A", "B")
  })
  .map(({ objectId, retract, fra, len, data }) => ({
    objectId,
    retract,
    fra,
    til: len === null ? null : Math.min(DAYS, (fra ?? 0) + len),
    data
  }))

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ gap: fc.integer({ min: 0, max: 2 }), op: opSpec }).map((s) => ({ _tag: "op" as const, ...s })) },
  { weight: 1, arbitrary: fc.record({ gap: fc.integer({ min: 0, max: 1 }), downDays: fc.integer({ min: 1, max: 3 }) }).map((s) => ({ _tag: "restart" as const, ...s })) }
)

interface Emitted {
  readonly objectId: string
  readonly kind: "started" | "ended"
  readonly at: Instant
  readonly data: string
  readonly late: boolean
}
const key = (e: Emitted) => `${e.at} ${e.objectId} ${e.kind} ${e.data}${e.late ? " late" : ""}`

/** What must be emitted, from the operations (with their clock days) and the downtimes. */
const expectedEmissions = (ops: ReadonlyArray<{ readonly day: number; readonly op: OpSpec }>, downtimes: ReadonlyArray<[number, number]>) => {
  const out: Array<Emitted> = []
  for (let t = 1; t <= DAYS; t++) {
    const views = new Map<string, Array<string | undefined>>()
    for (const { day, op } of ops) {
      if (day + 0.5 >= t) break // registered at noon of `day`: after midnight t
      const cells = views.get(op.objectId) ?? new Array<string | undefined>(DAYS + 2).fill(undefined)
      views.set(op.objectId, cells)
      const from = op.fra === null ? -1 : op.fra, to = op.til === null ? DAYS : op.til - 1
      for (let c = from; c <= to; c++) cells[c + 1] = op.retract ? undefined : op.data
    }
    const late = downtimes.some(([from, to]) => from < t && t < to)
    for (const [objectId, cells] of views) {
      const before = cells[t - 1 + 1], after = cells[t + 1]
      if (before === after) continue
      if (before !== undefined) out.push({ objectId, kind: "ended", at: midnight(t), data: before, late })
      if (after !== undefined) out.push({ objectId, kind: "started", at: midnight(t), data: after, late })
    }
  }
  return out.map(key).sort()
}

/** The store's services, open: `close` releases them (a restart opens the layer again). */
interface Open {
  readonly context: Context.Context<StoreServices>
  readonly close: Effect.Effect<void>
}

/**
 * Wait until the scheduler has settled everything due by now (it runs on its own fiber). The
 * simulated clock does not move meanwhile; real time does, since a backend over a network (PostgreSQL)
 * settles in real round trips: first yield to the scheduler's fiber, then wait a real millisecond at a time.
 */
const settled = (open: Open) =>
  Effect.gen(function* () {
    const activations = yield* ActivationStore
    const deadline = Date.now() + 10_000
    for (let i = 0; i < 200 || Date.now() < deadline; i++) {
      const now = fromEpochMillis((yield* TestClockNow) + 1)
      const due = yield* activations.list({ from: null, to: now, status: "pending", limit: 1 })
      if (due.length === 0) return
      if (i < 200) yield* Effect.yieldNow()
      else yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
    }
    return yield* Effect.die(new Error("the scheduler did not settle the due activations within 10 s"))
  }).pipe(Effect.provide(open.context))
const TestClockNow = Effect.flatMap(TestClock.testClock(), (clock) => clock.currentTimeMillis)

/**
 * Let `ms` of simulated time pass while the engine runs, the way real time passes: to each pending
 * activation's instant in turn, waiting there until the scheduler has settled it, then to the end.
 * (One TestClock.adjust over several instants would wake the scheduler for each but let the clock
 * run on meanwhile; a backend that settles in real round trips would then settle them late.)
 */
const advance = (open: Open, ms: number) =>
  Effect.gen(function* () {
    const target = (yield* TestClockNow) + ms
    for (;;) {
      const next = yield* on(open, Effect.flatMap(ActivationStore, (activations) => activations.next))
      if (Option.isNone(next)) break
      const dueMs = millisUntil(next.value, 0)
      if (dueMs > target) break
      yield* TestClock.setTime(Math.max(dueMs, yield* TestClockNow))
      yield* settled(open)
    }
    yield* TestClock.setTime(target)
    yield* settled(open)
  })

const emitted = (open: Open) =>
  Effect.gen(function* () {
    const store = yield* Store
    const records = yield* (yield* OutboxStore).after(0, 100_000)
    const data = new Map<number, string>()
    for (const objectId of ["a", "b", "c"]) {
      for (const row of yield* store.history("person", objectId)) data.set(row.id, canonicalJson(row.data))
    }
    return records
      .filter((r) => r.type === "validity-started" || r.type === "validity-ended")
      .map((r): Emitted => ({
        objectId: r.objectId,
        kind: r.type === "validity-started" ? "started" : "ended",
        at: r.at!,
        data: JSON.parse(data.get(r.rowId!)!) as string,
        late: r.late === true
      }))
      .map(key)
      .sort()
  }).pipe(Effect.provide(open.context))

/** Run an effect on the open store's services. */
const on = <A, E>(open: Open, effect: Effect.Effect<A, E, StoreServices>) => Effect.provide(effect, open.context)

const toOperation = (op: OpSpec, registreringstid: Instant, eventId: string): Operation => ({
  op: op.retract ? "retract" : "assert",
  objectType: "person",
  objectId: op.objectId,
  registreringstid,
  virkningFra: op.fra === null ? null : midnight(op.fra),
  virkningTil: op.til === null ? null : midnight(op.til),
  eventId,
  ...(op.retract ? {} : { data: canonicalJson(op.data) })
}) as Operation

const runScenario = (steps: ReadonlyArray<Step>, backend: StoreBackend) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(BASE + 0.5 * DAY) // day 0, noon
    const layer = backend.layer()
    let open = yield* openServices(layer)
    const start = (o: Open) => Effect.forkDaemon(runActivationScheduler({ lateAfterMs: LATE_AFTER_MS, pollMs: POLL_MS }).pipe(Effect.provide(o.context)))
    let fiber = yield* start(open)
    let day = 0
    const applied: Array<{ day: number; op: OpSpec }> = []
    const downtimes: Array<[number, number]> = []
    for (const [i, s] of steps.entries()) {
      if (s.gap > 0) {
        yield* advance(open, s.gap * DAY)
        day += s.gap
      }
      if (s._tag === "op") {
        const now = fromEpochMillis(yield* TestClockNow)
        const [result] = yield* on(open, Effect.flatMap(Store, (store) => store.ingest("test", [{ input: toOperation(s.op, now, `e${i}`) }])))
        expect(result?.outcome).not.toBe("refused")
        applied.push({ day, op: s.op })
      } else {
        yield* Fiber.interrupt(fiber)
        yield* open.close
        yield* TestClock.adjust(s.downDays * DAY)
        downtimes.push([day + 0.5, day + s.downDays + 0.5])
        day += s.downDays
        open = yield* openServices(layer)
        fiber = yield* start(open)
        yield* settled(open)
      }
    }
    // Let every boundary pass.
    const end = DAYS + 1 - day
    if (end > 0) yield* advance(open, end * DAY)
    yield* settled(open)
    const actual = yield* emitted(open)
    const stillPending = yield* on(open, Effect.flatMap(ActivationStore, (activations) => activations.pendingCount))
    yield* Fiber.interrupt(fiber)
    yield* open.close
    return { actual, expected: expectedEmissions(applied, downtimes), stillPending }
  })

export const activationsContract = (backend: StoreBackend) =>
  describe(`${backend.name}: virkningstid activations (TestClock)`, () => {
    it("emit exactly the future boundaries of the current view, once each, late after downtime", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
          const result = await runTest(runScenario(steps, backend).pipe(Effect.provide(TestContext.TestContext), Logger.withMinimumLogLevel(LogLevel.None)))
          expect(result.actual).toEqual(result.expected)
          expect(result.stillPending).toBe(0)
        }),
        { numRuns: propertyRuns(backend, 150) }
      )
    })

    it("sleep for years of simulated time, wake at the exact instant, and let an earlier activation preempt the wait", async () => {
      const program = Effect.gen(function* () {
        yield* TestClock.setTime(BASE)
        const open = yield* openServices(backend.layer())
        // No polling within the test's span: only the commit can cut the long wait short.
        const fiber = yield* Effect.forkDaemon(runActivationScheduler({ lateAfterMs: LATE_AFTER_MS, pollMs: 20 * 365 * DAY }).pipe(Effect.provide(open.context)))
        const assertFrom = (objectId: string, fra: string, eventId: string) =>
          Effect.flatMap(TestClockNow, (now) =>
            on(open, Effect.flatMap(Store, (store) => store.ingest("test", [{
              input: { op: "assert", objectType: "person", objectId, registreringstid: fromEpochMillis(now), virkningFra: instant(fra), virkningTil: null, data: canonicalJson({ role: "student" }), eventId }
            }])))
          )
        yield* assertFrom("later", "2035-01-01T00:00:00.000001Z", "e1")
        yield* advance(open, 30 * DAY) // the scheduler now sleeps toward 2035 (or its poll)
        yield* assertFrom("sooner", "2031-06-01T00:00:00Z", "e2")
        yield* advance(open, 520 * DAY) // past 2031-06-01, far from 2035
        const list = on(open, Effect.flatMap(ActivationStore, (activations) => activations.list({ from: null, to: null, limit: 10 })))
        const afterSooner = yield* list
        yield* advance(open, 5 * 365 * DAY)
        const all = yield* list
        yield* Fiber.interrupt(fiber)
        yield* open.close
        return { afterSooner, all }
      })
      const { afterSooner, all } = await runTest(program.pipe(Effect.provide(TestContext.TestContext), Logger.withMinimumLogLevel(LogLevel.None)))
      expect(afterSooner.map((a) => [a.objectId, a.status])).toEqual([["sooner", "fired"], ["later", "pending"]])
      expect(all.map((a) => [a.objectId, a.kind, a.status, a.late, a.settledAt])).toEqual([
        ["sooner", "started", "fired", false, "2031-06-01T00:00:00.000000Z"],
        // Microseconds past the millisecond: woken on the next millisecond, never before the instant.
        ["later", "started", "fired", false, "2035-01-01T00:00:00.001000Z"]
      ])
    })
  
    it("fires an activation once when two settlers find it due at once (only from pending)", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const store = yield* Store
        const activations = yield* ActivationStore
        const outbox = yield* OutboxStore
        const nowMs = Date.now()
        yield* store.ingest("test", ["a", "b", "c"].map((objectId, i) => ({
          input: { op: "assert", objectType: "thing", objectId, registreringstid: fromEpochMillis(nowMs - 1000), virkningFra: fromEpochMillis(nowMs + (i + 1) * DAY), virkningTil: null, data: canonicalJson({ v: i }), eventId: `e${i}` } as Operation
        })))
        expect(yield* activations.pendingCount).toBe(3)
        const due = fromEpochMillis(nowMs + 10 * DAY)
        const [first, second] = yield* Effect.all([activations.settleDue(due, LATE_AFTER_MS), activations.settleDue(due, LATE_AFTER_MS)], { concurrency: 2 })
        expect(first.fired + second.fired).toBe(3)
        expect((yield* activations.settleDue(due, LATE_AFTER_MS)).fired).toBe(0)
        const started = (yield* outbox.after(0, 100)).filter((r) => r.type === "validity-started")
        expect(started.map((r) => r.objectId).sort()).toEqual(["a", "b", "c"])
      })))
  })
