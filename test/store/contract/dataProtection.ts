/**
 * Retention and minimisation primitives (issue 18), on every backend:
 * - pruning the registrations closed before a cutoff keeps every as-of answer at or after the cutoff, and
 *   before it an answer is the one it was or nothing — never another (a property over random histories);
 * - what references pruned rows (activations, the outbox) still reads;
 * - stored data and recorded operations are read and rewritten in place, page by page;
 * - refused inputs' raw text and processed PUSH inbox bodies are cleared before a cutoff, nothing else.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromEpochMillis, type Instant } from "../../../src/domain/core/Instant.js"
import { ActivationStore } from "../../../src/store/Activations.js"
import { DataProtection } from "../../../src/store/DataProtection.js"
import type { MirrorRow } from "../../../src/domain/core/Mirror.js"
import { MirrorStore } from "../../../src/store/Mirror.js"
import { OutboxStore } from "../../../src/store/Outbox.js"
import { PushInbox } from "../../../src/store/PushInbox.js"
import { Store } from "../../../src/store/Store.js"
import { onFreshStore, propertyRuns, type StoreBackend } from "./backend.js"
import { answer, ingestAll, OBJECTS, REG_STEPS, rAt, regPoints, stream, toOperations, virkPoints } from "./model.js"

const RUNS = Number(process.env.SKYGGE_PROPERTY_RUNS ?? 60)

const assertOp = (objectId: string, registreringstid: string, data: unknown, eventId: string, virkningFra: string | null = null) => ({
  input: { op: "assert" as const, objectType: "person", objectId, registreringstid: registreringstid as Instant, virkningFra: virkningFra as Instant | null, virkningTil: null, data: JSON.stringify(data), eventId }
})

export const dataProtectionContract = (backend: StoreBackend) =>
  describe(`${backend.name}: retention and minimisation`, () => {
    it("pruning closed registrations: answers at or after the cutoff unchanged; before it the same answer or nothing", async () => {
      await fc.assert(
        fc.asyncProperty(stream, fc.integer({ min: 0, max: REG_STEPS * 3_600_000 }), (specs, offset) => {
          const ops = toOperations(specs)
          const cutoff = fromEpochMillis(Date.parse(rAt(0)) + offset)
          return onFreshStore(backend, Effect.gen(function* () {
            const store = yield* Store
            const protection = yield* DataProtection
            yield* ingestAll(store, ops)
            const questions = OBJECTS.flatMap((objectId) => regPoints.flatMap((r) => virkPoints.map((v) => ({ objectId, r, v }))))
            const before = yield* Effect.forEach(questions, (q) => answer(store, q.objectId, q.r, q.v))
            const closedBefore = (yield* Effect.forEach(OBJECTS, (o) => store.history("thing", o))).flat().filter((row) => row.registreringTil !== null && row.registreringTil < cutoff).length
            expect(yield* protection.pruneClosed("other", cutoff, false)).toBe(0)
            expect(yield* protection.pruneClosed("thing", cutoff, true)).toBe(closedBefore)
            expect(yield* protection.pruneClosed("thing", cutoff, false)).toBe(closedBefore)
            expect(yield* protection.pruneClosed("thing", cutoff, false)).toBe(0)
            const after = yield* Effect.forEach(questions, (q) => answer(store, q.objectId, q.r, q.v))
            questions.forEach((q, i) => {
              if (q.r >= cutoff) {
                if (after[i] !== before[i]) expect({ ...q, cutoff, after: after[i] }).toEqual({ ...q, cutoff, after: before[i] })
              } else if (after[i] !== before[i] && after[i] !== "-") {
                expect({ ...q, cutoff, after: after[i] }).toEqual({ ...q, cutoff, after: `${before[i]} or nothing` })
              }
            })
            // Current rows are never pruned, however old.
            const remaining = (yield* Effect.forEach(OBJECTS, (o) => store.history("thing", o))).flat()
            expect(remaining.every((row) => row.registreringTil === null || row.registreringTil >= cutoff)).toBe(true)
          }))
        }),
        { numRuns: propertyRuns(backend, RUNS) }
      )
    })

    it("activations and outbox records of pruned rows still read; pending activations of current rows stay", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const store = yield* Store
        const protection = yield* DataProtection
        const activations = yield* ActivationStore
        const outbox = yield* OutboxStore
        // A future validity start (an activation), then a correction before it comes: the first row closed, its activation cancelled.
        yield* store.ingest("t", [assertOp("p1", "2020-01-01T00:00:00Z", { n: 1 }, "e1", "2099-01-01T00:00:00Z")])
        yield* store.ingest("t", [assertOp("p1", "2020-02-01T00:00:00Z", { n: 2 }, "e2", "2099-01-01T00:00:00Z")])
        const all = { from: null, to: null, limit: 100 } as const
        expect((yield* activations.list({ ...all, status: "cancelled" })).length).toBe(1)
        expect((yield* activations.list({ ...all, status: "pending" })).length).toBe(1)
        const records = (yield* outbox.after(0, 100)).length
        expect(yield* protection.pruneClosed("person", "2021-01-01T00:00:00.000000Z" as Instant, false)).toBe(1)
        expect((yield* activations.list({ ...all, status: "cancelled" })).length).toBe(0)
        expect((yield* activations.list({ ...all, status: "pending" })).length).toBe(1)
        expect(yield* activations.pendingCount).toBe(1)
        expect((yield* outbox.after(0, 100)).length).toBe(records)
        expect((yield* store.history("person", "p1")).map((r) => r.data)).toEqual([{ n: 2 }])
        expect(yield* protection.objectTypes).toEqual(["person"])
      })))

    it("mirroring with a retention cutoff: an upstream row closed before it that is not held is not inserted", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const mirror = yield* MirrorStore
        const store = yield* Store
        const row = (fra: string, til: string | null, status: string): MirrorRow => ({
          objectId: "m1", registreringFra: fra as Instant, registreringTil: til as Instant | null, virkningFra: null, virkningTil: null,
          data: `{"status":"${status}"}`, key: JSON.stringify([fra, null])
        })
        const old = row("2020-01-01T00:00:00.000000Z", "2020-02-01T00:00:00.000000Z", "1"), current = row("2020-02-01T00:00:00.000000Z", null, "2")
        const item = { objectType: "reg", objectId: "m1", rows: [old, current], complete: true, identity: [], checkOverlaps: true }
        const [first] = yield* mirror.mirror("t", "m-1", [{ ...item, closedBefore: "2021-01-01T00:00:00.000000Z" as Instant }])
        expect(first).toMatchObject({ inserted: 1, unchanged: 1, anomalies: 0 })
        // Held rows are planned as ever; without the cutoff the old row is new again.
        const [again] = yield* mirror.mirror("t", "m-2", [item])
        expect(again).toMatchObject({ inserted: 1, unchanged: 1, anomalies: 0 })
        expect((yield* store.history("reg", "m1")).length).toBe(2)
      })))

    it("rows' data and recorded operations are read by type in pages and rewritten in place", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const store = yield* Store
        const protection = yield* DataProtection
        yield* store.ingest("t", [assertOp("p1", "2020-01-01T00:00:00Z", { a: 1, secret: "x" }, "e1"), assertOp("p2", "2020-01-01T00:00:00Z", { a: 2, secret: "y" }, "e2")])
        yield* store.ingest("t", [{ input: { ...assertOp("q1", "2020-01-01T00:00:00Z", { secret: "z" }, "e3").input, objectType: "other" } }])
        const rows = yield* protection.rowData("person", 0, 1)
        expect(rows.map((r) => r.text)).toEqual(['{"a":1,"secret":"x"}'])
        const rest = yield* protection.rowData("person", rows[0]!.key, 10)
        expect(rest.map((r) => r.text)).toEqual(['{"a":2,"secret":"y"}'])
        expect(yield* protection.rewriteRowData([...rows, ...rest].map((r) => ({ key: r.key, text: r.text.replace(/,"secret":"."/, "") })))).toBe(2)
        expect((yield* store.history("person", "p1")).map((r) => r.data)).toEqual([{ a: 1 }])
        expect((yield* store.history("other", "q1")).map((r) => r.data)).toEqual([{ secret: "z" }])
        const events = yield* protection.eventOperations("person", 0, 10)
        expect(events.length).toBe(2)
        expect(events.every((e) => e.text.includes('"secret"'))).toBe(true)
        expect(yield* protection.rewriteEventOperations(events.map((e) => ({ key: e.key, text: e.text.replace(/,"secret":"."/, "") })))).toBe(2)
        const recorded = (yield* store.events(0, 10)).filter((e) => e.operation.objectType === "person")
        expect(recorded.map((e) => (e.operation.op === "assert" ? JSON.parse(e.operation.data) : null))).toEqual([{ a: 1 }, { a: 2 }])
        expect(yield* protection.rewriteRowData([])).toBe(0)
      })))

    it("refused inputs' raw text and processed PUSH bodies are cleared before the cutoff, the records kept", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const store = yield* Store
        const protection = yield* DataProtection
        const inbox = yield* PushInbox
        yield* store.ingest("t", [{ raw: '{"fodselsnummer":"01019012345"', input: { reason: "malformed JSON" } }])
        const past = "2000-01-01T00:00:00.000000Z" as Instant, future = "2999-01-01T00:00:00.000000Z" as Instant
        expect(yield* protection.pruneRefusedInputs(past, false)).toBe(0)
        expect(yield* protection.pruneRefusedInputs(future, true)).toBe(1)
        expect((yield* store.refused(0, 10))[0]!.input).toContain("fodselsnummer")
        expect(yield* protection.pruneRefusedInputs(future, false)).toBe(1)
        const refused = yield* store.refused(0, 10)
        expect(refused.map((r) => [r.reason, r.input])).toEqual([["malformed JSON", null]])
        expect(yield* protection.pruneRefusedInputs(future, false)).toBe(0)

        yield* inbox.record("dar:push", [{ envelopeId: "1", body: '{"secret":1}' }, { envelopeId: "2", body: '{"secret":2}' }])
        const [first] = yield* inbox.pending("dar:push", 1)
        yield* inbox.markProcessed([first!.id])
        expect(yield* protection.prunePushBodies(past, false)).toBe(0)
        expect(yield* protection.prunePushBodies(future, true)).toBe(1)
        expect(yield* protection.prunePushBodies(future, false)).toBe(1)
        // The pending one keeps its body; the processed one still dedups its envelope.
        expect((yield* inbox.pending("dar:push", 10)).map((e) => e.body)).toEqual(['{"secret":2}'])
        expect(yield* inbox.record("dar:push", [{ envelopeId: "1", body: "{}" }])).toEqual({ recorded: 0, duplicates: 1 })
      })))
  })
