/** The persisted work queue: collapse by object, dedup by message id, poison recorded, in-flight hints, settle outcomes, crash recovery. */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { ChangeHint } from "../../../src/domain/intark/ChangeHint.js"
import { instant } from "../../../src/domain/core/Instant.js"
import { Store } from "../../../src/store/Store.js"
import { type Received, WorkQueue } from "../../../src/store/WorkQueue.js"
import { onFreshStore, type StoreBackend } from "./backend.js"

const hint = (id: string, messageId: string | null, operation: ChangeHint["operation"] = "update"): Received => ({
  _tag: "Hint",
  hint: { format: "fs", resource: "personer", id, operation, messageId, issuedAt: null, location: `personer/${id}`, validFrom: null }
})

export const workQueueContract = (backend: StoreBackend) =>
  describe(`${backend.name}: work queue`, () => {
    it("collapses a burst for one object into one item, drops duplicate message ids, records poison", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const wq = yield* WorkQueue
        const store = yield* Store
        const outcomes = yield* wq.record("fs", [hint("1", "m1"), hint("1", "m2"), hint("1", "m1"), hint("2", null), hint("2", null), { _tag: "Poison", reason: "not JSON", raw: "{x", routingKey: "no.uio.fs.FS-test.personer.update" }])
        expect(outcomes).toEqual(["queued", "queued", "duplicate", "queued", "queued", "refused"])
        const items = yield* wq.claim("fs", 10)
        expect(items.map((i) => [i.objectId, i.hints, i.state])).toEqual([["1", 2, "in_flight"], ["2", 2, "in_flight"]])
        expect(yield* wq.claim("fs", 10)).toEqual([])
        // Redelivered after a reconnect: still a duplicate.
        expect(yield* wq.record("fs", [hint("1", "m2")])).toEqual(["duplicate"])
        const refused = yield* store.refused(0, 10)
        expect(refused).toMatchObject([{ source: "fs", reason: "not JSON", input: "{x", field: "no.uio.fs.FS-test.personer.update" }])
      })))

    it("fetches again after the fetch in hand when a hint arrives meanwhile; confirms once; retries, abandons, revives; recovers after a crash", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const wq = yield* WorkQueue
        yield* wq.record("fs", [hint("1", "a"), hint("2", "b"), hint("3", "c"), hint("4", "d")])
        const [one, two, three, four] = yield* wq.claim("fs", 10)
        yield* wq.record("fs", [hint("1", "a2")]) // while 1 is in flight
        const later = instant("2999-01-01T00:00:00Z")
        yield* wq.settle([[one!, { _tag: "Done" }], [two!, { _tag: "Confirm", at: later }], [three!, { _tag: "Retry", at: later, error: "HTTP 503" }], [four!, { _tag: "Abandon", error: "HTTP 404 not proven" }]])
        const due = yield* wq.claim("fs", 10)
        expect(due.map((i) => i.objectId)).toEqual(["1"]) // dirty: again at once
        expect((yield* wq.list("fs", "pending", 10)).map((i) => [i.objectId, i.confirming, i.attempts, i.lastError])).toEqual([
          ["2", true, 0, null],
          ["3", false, 1, "HTTP 503"]
        ])
        expect((yield* wq.list("fs", "abandoned", 10)).map((i) => i.objectId)).toEqual(["4"])
        expect(yield* wq.revive("fs")).toBe(1)
        // A crash with 1 and 4 in flight: both come back.
        yield* wq.claim("fs", 10)
        expect(yield* wq.recover("fs")).toBeGreaterThanOrEqual(2)
        expect((yield* wq.counts).find((c) => c.state === "in_flight")).toBeUndefined()
      })))
  })
