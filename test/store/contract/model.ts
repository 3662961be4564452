/**
 * Model-based properties of the one write path. The model knows nothing of
 * rows: it keeps, per object, the accepted operations in arrival order and
 * answers a point question by replaying those registered at or before the
 * registration instant onto a grid of validity days. Every row-level trick in
 * the store (splitting, closing, open ends, equal instants) must agree with it.
 * Each run of a property gets a fresh store of the backend.
 */
import { Effect, Option } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Bound, fromEpochMillis, type Instant } from "../../../src/domain/core/Instant.js"
import { canonicalJson, type Operation } from "../../../src/domain/core/Operation.js"
import { type Outcome, type Row, Store, type StoreShape } from "../../../src/store/Store.js"
import { onFreshStore, propertyRuns, type StoreBackend } from "./backend.js"

const DAY = 86_400_000
const BASE = Date.UTC(2020, 0, 1)
/** Validity boundaries are whole days 0..MAX_DAY; cells −1 and MAX_DAY stand for the open ends. */
const MAX_DAY = 12
export const OBJECTS = ["a", "b", "c"] as const
export const REG_STEPS = 8

const vDay = (day: number): Instant => fromEpochMillis(BASE + day * DAY)
export const rAt = (step: number): Instant => fromEpochMillis(BASE + step * 3_600_000)

interface OpSpec {
  readonly kind: "assert" | "retract"
  readonly object: number
  readonly reg: number
  readonly from: number | null
  readonly to: number | null
  readonly value: number
  /** fresh: a new event id; repeat: resend an earlier operation; reuse: an earlier id with this new content. */
  readonly id: { readonly _tag: "fresh" } | { readonly _tag: "repeat" | "reuse"; readonly of: number }
}

const bounds = fc
  .tuple(fc.option(fc.integer({ min: 0, max: MAX_DAY }), { freq: 4 }), fc.option(fc.integer({ min: 0, max: MAX_DAY }), { freq: 4 }))
  .filter(([f, t]) => f === null || t === null || f < t)

const opSpec: fc.Arbitrary<OpSpec> = fc.record({
  kind: fc.constantFrom("assert", "assert", "retract") as fc.Arbitrary<"assert" | "retract">,
  object: fc.integer({ min: 0, max: OBJECTS.length - 1 }),
  reg: fc.integer({ min: 0, max: REG_STEPS - 1 }),
  span: bounds,
  value: fc.integer({ min: 0, max: 2 }),
  id: fc.oneof(
    { weight: 8, arbitrary: fc.constant({ _tag: "fresh" as const }) },
    { weight: 1, arbitrary: fc.nat().map((of) => ({ _tag: "repeat" as const, of })) },
    { weight: 1, arbitrary: fc.nat().map((of) => ({ _tag: "reuse" as const, of })) }
  )
}).map(({ span, ...rest }) => ({ ...rest, from: span[0], to: span[1] }))

/** Registrations mostly move forward per object, sometimes back (stale), sometimes repeat an instant. */
export const stream = fc.array(opSpec, { minLength: 1, maxLength: 40 })

export const toOperations = (specs: ReadonlyArray<OpSpec>): Array<Operation> => {
  const out: Array<Operation> = []
  specs.forEach((spec, i) => {
    if (spec.id._tag === "repeat" && out.length > 0) {
      out.push(out[spec.id.of % out.length]!)
      return
    }
    const eventId = spec.id._tag === "reuse" && out.length > 0 ? out[spec.id.of % out.length]!.eventId : `e-${i}`
    const base = {
      objectType: "thing",
      objectId: OBJECTS[spec.object]!,
      registreringstid: rAt(spec.reg),
      virkningFra: spec.from === null ? null : vDay(spec.from),
      virkningTil: spec.to === null ? null : vDay(spec.to),
      eventId
    }
    out.push(spec.kind === "assert" ? { op: "assert", ...base, data: canonicalJson({ v: spec.value }) } : { op: "retract", ...base })
  })
  return out
}

// ---- The model ---------------------------------------------------------------

const CELLS = Array.from({ length: MAX_DAY + 2 }, (_, i) => i - 1) // −1 … MAX_DAY
const cellOf = (b: Bound, open: number): number => (b === null ? open : (Date.parse(b) - BASE) / DAY)
const cellsOf = (op: Operation) => CELLS.filter((c) => c >= cellOf(op.virkningFra, -1) && c < cellOf(op.virkningTil, MAX_DAY + 1))

class Model {
  private readonly byId = new Map<string, string>()
  private readonly latest = new Map<string, Instant>()
  /** Accepted operations per object, in arrival order. */
  readonly accepted = new Map<string, Array<Operation>>()

  private key = (op: Operation) => JSON.stringify([op.op, op.objectType, op.objectId, op.registreringstid, op.virkningFra, op.virkningTil, op.op === "assert" ? op.data : null])

  apply(op: Operation): Outcome {
    const known = this.byId.get(op.eventId)
    if (known !== undefined) return known === this.key(op) ? "duplicate" : "refused"
    const latest = this.latest.get(op.objectId)
    if (latest !== undefined && op.registreringstid < latest) return "refused"
    const before = this.cells(op.objectId, op.registreringstid)
    const unchanged = cellsOf(op).every((c) => before.get(c) === (op.op === "assert" ? op.data : undefined))
    this.byId.set(op.eventId, this.key(op))
    this.latest.set(op.objectId, op.registreringstid)
    const list = this.accepted.get(op.objectId) ?? []
    list.push(op)
    this.accepted.set(op.objectId, list)
    return unchanged ? "unchanged" : "applied"
  }

  /** The object's validity cells as the register knew them at registration instant r. */
  cells(objectId: string, r: Instant): Map<number, string> {
    const cells = new Map<number, string>()
    for (const op of this.accepted.get(objectId) ?? []) {
      if (op.registreringstid > r) continue
      for (const c of cellsOf(op)) {
        if (op.op === "assert") cells.set(c, op.data)
        else cells.delete(c)
      }
    }
    return cells
  }
}

// ---- Helpers -------------------------------------------------------------------

export const ingestAll = (store: StoreShape, ops: ReadonlyArray<Operation>) =>
  Effect.map(store.ingest("property", ops.map((input) => ({ input }))), (results) => results.map((r) => r.outcome))

/** Registration instants worth asking at: each step, and just before and after it. */
export const regPoints = Array.from({ length: REG_STEPS + 1 }, (_, s) => [rAt(s), fromEpochMillis(BASE + s * 3_600_000 - 1), fromEpochMillis(BASE + s * 3_600_000 + 1)]).flat()
/** Validity instants: one inside each cell, and each boundary itself. */
export const virkPoints = [...CELLS.map((c) => fromEpochMillis(BASE + c * DAY + DAY / 2)), ...CELLS.filter((c) => c >= 0).map(vDay)]
const cellAt = (v: Instant) => Math.floor((Date.parse(v) - BASE) / DAY)

export const answer = (store: StoreShape, objectId: string, r: Instant, v: Instant) =>
  Effect.map(store.asOf({ objectType: "thing", objectId, registreringstid: r, virkningstid: v }), Option.match({
    onNone: () => "-",
    onSome: (row) => canonicalJson(row.data)
  }))

const rowsOf = (store: StoreShape) =>
  Effect.map(Effect.forEach(OBJECTS, (o) => store.history("thing", o)), (histories) =>
    histories.flat()
      .map((row: Row) => JSON.stringify([row.objectId, row.registreringFra, row.registreringTil, row.virkningFra, row.virkningTil, canonicalJson(row.data), row.eventId]))
      .sort()
  )

const overlap = (aF: Bound, aT: Bound, bF: Bound, bT: Bound) => (aF === null || bT === null || aF < bT) && (bF === null || aT === null || bF < aT)

const RUNS = Number(process.env.SKYGGE_PROPERTY_RUNS ?? 300)

export const modelContract = (backend: StoreBackend) =>
  describe(`${backend.name}: the store agrees with a row-free model`, () => {
    it("outcomes and every point answer match the model", async () => {
      await fc.assert(
        fc.asyncProperty(stream, (specs) => {
          const ops = toOperations(specs)
          const model = new Model()
          const expected = ops.map((op) => model.apply(op))
          return onFreshStore(backend, Effect.gen(function* () {
            const store = yield* Store
            expect(yield* ingestAll(store, ops)).toEqual(expected)
            for (const objectId of OBJECTS) {
              for (const r of regPoints) {
                const cells = model.cells(objectId, r)
                for (const v of virkPoints) {
                  const want = cells.get(cellAt(v)) ?? "-"
                  const got = yield* answer(store, objectId, r, v)
                  if (got !== want) expect({ objectId, r, v, got }).toEqual({ objectId, r, v, got: want })
                }
              }
            }
          }))
        }),
        { numRuns: propertyRuns(backend, RUNS) }
      )
    })

    it("answers about the past never change once later registrations arrive", async () => {
      await fc.assert(
        fc.asyncProperty(stream, fc.nat(), (specs, cut) => {
          const ops = toOperations(specs)
          const split = cut % (ops.length + 1)
          return onFreshStore(backend, Effect.gen(function* () {
            const store = yield* Store
            yield* ingestAll(store, ops.slice(0, split))
            // Only instants strictly before each object's latest registration are settled.
            const settled = (yield* Effect.forEach(OBJECTS, (objectId) => Effect.map(store.history("thing", objectId), (rows) => {
              const latest = rows.reduce<Instant | undefined>(
                (acc, row) => (acc === undefined || row.registreringFra > acc ? row.registreringFra : acc),
                undefined
              )
              return latest === undefined ? [] : regPoints.filter((r) => r < latest).flatMap((r) => virkPoints.map((v) => ({ objectId, r, v })))
            }))).flat()
            const before = yield* Effect.forEach(settled, (q) => answer(store, q.objectId, q.r, q.v))
            yield* ingestAll(store, ops.slice(split))
            expect(yield* Effect.forEach(settled, (q) => answer(store, q.objectId, q.r, q.v))).toEqual(before)
          }))
        }),
        { numRuns: propertyRuns(backend, RUNS) }
      )
    })

    it("no two visible rows of an object hold the same instant pair", async () => {
      await fc.assert(
        fc.asyncProperty(stream, (specs) =>
          onFreshStore(backend, Effect.gen(function* () {
            const store = yield* Store
            yield* ingestAll(store, toOperations(specs))
            for (const objectId of OBJECTS) {
              // Rows closed at their own registration instant are visible to no query.
              const rows = (yield* store.history("thing", objectId)).filter((row) => row.registreringTil === null || row.registreringFra < row.registreringTil)
              for (let i = 0; i < rows.length; i++) {
                for (let j = i + 1; j < rows.length; j++) {
                  const a = rows[i]!, b = rows[j]!
                  const both = overlap(a.registreringFra, a.registreringTil, b.registreringFra, b.registreringTil) &&
                    overlap(a.virkningFra, a.virkningTil, b.virkningFra, b.virkningTil)
                  if (both) expect({ a, b }).toBe("disjoint")
                }
              }
            }
          }))
        ),
        { numRuns: propertyRuns(backend, RUNS) }
      )
    })

    it("replaying the recorded events into an empty store rebuilds the same rows; a second delivery changes nothing", async () => {
      await fc.assert(
        fc.asyncProperty(stream, async (specs) => {
          const ops = toOperations(specs)
          const { rows, events } = await onFreshStore(backend, Effect.gen(function* () {
            const first = yield* Store
            yield* ingestAll(first, ops)
            const rows = yield* rowsOf(first)
            const again = yield* ingestAll(first, ops)
            // Every accepted event repeats as a duplicate; refused ones are refused again.
            expect(again.every((o) => o === "duplicate" || o === "refused")).toBe(true)
            expect(yield* rowsOf(first)).toEqual(rows)
            return { rows, events: yield* first.events(0, 10_000) }
          }))
          expect(events.map((e) => e.outcome)).not.toContain("refused")
          await onFreshStore(backend, Effect.gen(function* () {
            const replica = yield* Store
            const replayed = yield* ingestAll(replica, events.map((e) => e.operation))
            expect(replayed).toEqual(events.map((e) => e.outcome))
            expect(yield* rowsOf(replica)).toEqual(rows)
          }))
        }),
        { numRuns: propertyRuns(backend, RUNS) }
      )
    })
  })
