/** The outbox as the store writes it: one record per real change, none for a re-fetch that changes nothing. (Delivery is test/outbox.) */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { fromEpochMillis } from "../../../src/domain/core/Instant.js"
import { canonicalJson, type Operation } from "../../../src/domain/core/Operation.js"
import { OutboxStore } from "../../../src/store/Outbox.js"
import { Store } from "../../../src/store/Store.js"
import { onFreshStore, type StoreBackend } from "./backend.js"

/** Objects p0…p(count-1) each get a name at its own registration (the publisher tests' first changes). */
const created = (count: number): Array<{ input: Operation }> =>
  Array.from({ length: count }, (_, i) => ({
    input: { op: "assert", objectType: "person", objectId: `p${i}`, registreringstid: fromEpochMillis(Date.UTC(2020, 0, 1) + i * 1000), virkningFra: null, virkningTil: null, data: canonicalJson({ name: `v${i}` }), eventId: `e${i}` }
  }))

export const outboxContract = (backend: StoreBackend) =>
  describe(`${backend.name}: outbox`, () => {
    it("writes one record per real change and none for a re-fetch that changes nothing", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const store = yield* Store
        yield* store.ingest("test", created(3))
        // The same states again under new event ids: a re-fetch that finds nothing new.
        const again = yield* store.ingest("test", [0, 1, 2].map((i) => ({
          input: { op: "assert", objectType: "person", objectId: `p${i}`, registreringstid: fromEpochMillis(Date.UTC(2021, 0, 1)), virkningFra: null, virkningTil: null, data: canonicalJson({ name: `v${i}` }), eventId: `again${i}` } as Operation
        })))
        expect(again.map((r) => r.outcome)).toEqual(["unchanged", "unchanged", "unchanged"])
        yield* store.ingest("test", [{ input: { op: "retract", objectType: "person", objectId: "p0", registreringstid: fromEpochMillis(Date.UTC(2021, 0, 2)), virkningFra: null, virkningTil: null, eventId: "gone" } }])
        const records = yield* (yield* OutboxStore).after(0, 1_000_000)
        expect(records.map((r) => [r.objectId, r.type, r.eventId])).toEqual([
          ["p0", "created", "e0"], ["p1", "created", "e1"], ["p2", "created", "e2"], ["p0", "deleted", "gone"]
        ])
        expect(new Set(records.map((r) => r.id)).size).toBe(4)
      })))
  
    it("a batch large enough to be bulk-written (COPY on PostgreSQL) keeps every text byte for byte", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const store = yield* Store
        const odd = "tab\there, line\nbreak, return\r, back\\slash \\N, quote \" and æøå \u{1F600}"
        const ops: Array<Operation> = Array.from({ length: 300 }, (_, i) => ({
          op: "assert", objectType: "person", objectId: `p\\${i}\\N`, registreringstid: fromEpochMillis(Date.UTC(2020, 0, 1) + i * 1000),
          virkningFra: null, virkningTil: null, data: canonicalJson({ name: `${odd} ${i}`, nested: { n: i, s: odd } }), eventId: `e\\${i}`
        }))
        const results = yield* store.ingest("source\twith\\odd", ops.map((input) => ({ input })))
        expect(results.every((r) => r.outcome === "applied")).toBe(true)
        for (const i of [0, 137, 299]) {
          const [row] = yield* store.history("person", `p\\${i}\\N`)
          expect(row!.data).toEqual({ name: `${odd} ${i}`, nested: { n: i, s: odd } })
          expect(row!.eventId).toBe(`e\\${i}`)
        }
        const events = yield* store.events(0, 1000)
        expect(events.map((e) => e.operation)).toEqual(ops)
        expect(events.every((e) => e.source === "source\twith\\odd")).toBe(true)
        const records = yield* (yield* OutboxStore).after(0, 1000)
        expect(records.map((r) => [r.objectId, r.type, r.eventId, r.virkningTil])).toEqual(ops.map((op) => [op.objectId, "created", op.eventId, null]))
      })))

    it("moves a publisher's position only from where the mover read it: a stale publisher cannot move it back", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const store = yield* Store
        const outbox = yield* OutboxStore
        yield* store.ingest("test", created(3))
        const records = yield* outbox.after(0, 10)
        const start = yield* outbox.cursor("hook")
        // The new leader delivered the first two; the old one, still holding the start, delivered the first.
        yield* outbox.delivered("hook", start, records[1]!.seq)
        const stale = yield* Effect.flip(outbox.delivered("hook", start, records[0]!.seq))
        expect(stale._tag).toBe("StaleWrite")
        expect(yield* outbox.cursor("hook")).toBe(records[1]!.seq)
        yield* outbox.delivered("hook", records[1]!.seq, records[2]!.seq)
        expect(yield* outbox.cursor("hook")).toBe(records[2]!.seq)
      })))
  })
