/**
 * The persisted work queue: collapse by object, dedup by message id, poison recorded, in-flight hints,
 * settle outcomes, crash recovery; claims as leases of cluster members (a live member's kept, a gone
 * one's returned, a settle by a claimer that lost its claim dropped).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { ChangeHint } from "../../../src/domain/intark/ChangeHint.js"
import { instant } from "../../../src/domain/core/Instant.js"
import { canonicalJson } from "../../../src/domain/core/Operation.js"
import { Store } from "../../../src/store/Store.js"
import { type Received, WorkQueue } from "../../../src/store/WorkQueue.js"
import { ClusterMembers } from "../../../src/store/ClusterMembers.js"
import { onFreshStore, type StoreBackend } from "./backend.js"
import { at, memberNamed } from "./clusterMembers.js"

const hint = (id: string, messageId: string | null, operation: ChangeHint["operation"] = "update"): Received => ({
  _tag: "Hint",
  hint: { format: "fs", resource: "personer", id, operation, messageId, issuedAt: null, location: `personer/${id}`, validFrom: null }
})

/** Members slow and other; slow claims persons 1 and 2 and is presumed dead (no heartbeat since 00:00): its claims return to the pool. */
const slowTakenOver = Effect.gen(function* () {
  const wq = yield* WorkQueue
  const members = yield* ClusterMembers
  const slow = memberNamed("slow"), other = memberNamed("other")
  yield* at("2030-01-01T00:00:00Z")(members.join(slow))
  yield* at("2030-01-01T00:00:30Z")(members.join(other))
  yield* wq.record("fs", [hint("1", null), hint("2", null)])
  const claimed = yield* wq.claim("fs", 10, slow.id)
  expect(yield* wq.recover("fs", instant("2030-01-01T00:00:15Z"))).toBe(2)
  return { wq, slow, other, claimed }
})

export const workQueueContract = (backend: StoreBackend) =>
  describe(`${backend.name}: work queue`, () => {
    it("collapses a burst for one object into one item, drops duplicate message ids, records poison", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const wq = yield* WorkQueue
        const store = yield* Store
        const outcomes = yield* wq.record("fs", [hint("1", "m1"), hint("1", "m2"), hint("1", "m1"), hint("2", null), hint("2", null), { _tag: "Poison", reason: "not JSON", raw: "{x", routingKey: "no.uio.fs.FS-test.personer.update" }])
        expect(outcomes).toEqual(["queued", "queued", "duplicate", "queued", "queued", "refused"])
        const items = yield* wq.claim("fs", 10, "m1")
        expect(items.map((i) => [i.objectId, i.hints, i.state])).toEqual([["1", 2, "in_flight"], ["2", 2, "in_flight"]])
        expect(yield* wq.claim("fs", 10, "m1")).toEqual([])
        // Redelivered after a reconnect: still a duplicate.
        expect(yield* wq.record("fs", [hint("1", "m2")])).toEqual(["duplicate"])
        const refused = yield* store.refused(0, 10)
        expect(refused).toMatchObject([{ source: "fs", reason: "not JSON", input: "{x", field: "no.uio.fs.FS-test.personer.update" }])
      })))

    it("fetches again after the fetch in hand when a hint arrives meanwhile; confirms once; retries, abandons, revives; recovers after a crash", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const wq = yield* WorkQueue
        yield* wq.record("fs", [hint("1", "a"), hint("2", "b"), hint("3", "c"), hint("4", "d")])
        const [one, two, three, four] = yield* wq.claim("fs", 10, "m1")
        yield* wq.record("fs", [hint("1", "a2")]) // while 1 is in flight
        const later = instant("2999-01-01T00:00:00Z")
        yield* wq.settle([[one!, { _tag: "Done" }], [two!, { _tag: "Confirm", at: later }], [three!, { _tag: "Retry", at: later, error: "HTTP 503" }], [four!, { _tag: "Abandon", error: "HTTP 404 not proven" }]])
        const due = yield* wq.claim("fs", 10, "m1")
        expect(due.map((i) => i.objectId)).toEqual(["1"]) // dirty: again at once
        expect((yield* wq.list("fs", "pending", 10)).map((i) => [i.objectId, i.confirming, i.attempts, i.lastError])).toEqual([
          ["2", true, 0, null],
          ["3", false, 1, "HTTP 503"]
        ])
        expect((yield* wq.list("fs", "abandoned", 10)).map((i) => i.objectId)).toEqual(["4"])
        expect(yield* wq.revive("fs")).toBe(1)
        // A crash with 1 and 4 in flight (their claimer m1 never a member, or gone): both come back.
        yield* wq.claim("fs", 10, "m1")
        expect(yield* wq.recover("fs", instant("2000-01-01T00:00:00Z"))).toBeGreaterThanOrEqual(2)
        expect((yield* wq.counts).find((c) => c.state === "in_flight")).toBeUndefined()
      })))

    it("retries a failed or lost confirmation as a confirmation, but not once a hint came during it: the next fetch answers that hint", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const wq = yield* WorkQueue
        const now = instant("2000-01-01T00:00:00Z")
        yield* wq.record("fs", [hint("1", "a"), hint("2", "b")])
        yield* wq.settle((yield* wq.claim("fs", 10, "m1")).map((item) => [item, { _tag: "Confirm", at: now }] as const))
        const confirmations = yield* wq.claim("fs", 10, "m1")
        expect(confirmations.map((i) => [i.objectId, i.confirming])).toEqual([["1", true], ["2", true]])
        yield* wq.record("fs", [hint("2", "b2")]) // an update announced while 2's confirmation is in flight
        yield* wq.settle(confirmations.map((item) => [item, { _tag: "Retry", at: now, error: "HTTP 503" }] as const))
        expect((yield* wq.claim("fs", 10, "m1")).map((i) => [i.objectId, i.confirming, i.attempts])).toEqual([["1", true, 1], ["2", false, 1]])
        // The same when 1's confirming fetch is lost with its claimer (killed) after a hint came: recovered, it answers the hint.
        yield* wq.record("fs", [hint("1", "a2")])
        expect(yield* wq.recover("fs", instant("2000-01-01T00:00:00Z"))).toBe(2)
        expect((yield* wq.claim("fs", 10, "m2")).map((i) => [i.objectId, i.confirming])).toEqual([["1", false], ["2", false]])
      })))

    it("recovers only the claims of members that are gone: no row, a heartbeat before the line, or left", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const wq = yield* WorkQueue
        const members = yield* ClusterMembers
        const live = memberNamed("live"), dead = memberNamed("dead"), leaving = memberNamed("leaving")
        yield* at("2030-01-01T00:00:20Z")(members.join(live))
        yield* at("2030-01-01T00:00:00Z")(members.join(dead))
        yield* at("2030-01-01T00:00:20Z")(members.join(leaving))
        yield* wq.record("fs", [hint("1", null), hint("2", null), hint("3", null), hint("4", null)])
        const claimed = [
          ...(yield* wq.claim("fs", 1, live.id)),
          ...(yield* wq.claim("fs", 1, dead.id)),
          ...(yield* wq.claim("fs", 1, "never-joined/00000000")),
          ...(yield* wq.claim("fs", 1, leaving.id))
        ]
        expect(claimed.map((i) => [i.objectId, i.state, i.claimedBy])).toEqual([
          ["1", "in_flight", live.id],
          ["2", "in_flight", dead.id],
          ["3", "in_flight", "never-joined/00000000"],
          ["4", "in_flight", leaving.id]
        ])
        const line = instant("2030-01-01T00:00:10Z") // heartbeats before it are too old
        expect(yield* wq.recover("fs", line)).toBe(2) // dead's and the never-joined's
        expect((yield* wq.list("fs", "in_flight", 10)).map((i) => [i.objectId, i.claimedBy])).toEqual([["1", live.id], ["4", leaving.id]])
        expect((yield* wq.list("fs", "pending", 10)).map((i) => [i.objectId, i.claimedBy])).toEqual([["2", null], ["3", null]])
        // Another recovery changes nothing while they live; a member that leaves frees its claims at once.
        expect(yield* wq.recover("fs", line)).toBe(0)
        yield* members.leave(leaving.id)
        expect(yield* wq.recover("fs", line)).toBe(1)
        expect((yield* wq.list("fs", "in_flight", 10)).map((i) => [i.objectId, i.claimedBy])).toEqual([["1", live.id]])
        // A live member whose fetcher starts again (after a store failure) takes back its own claims, no one else's.
        expect(yield* wq.recover("fs", line, dead.id)).toBe(0)
        expect(yield* wq.recover("fs", line, live.id)).toBe(1)
        expect(yield* wq.list("fs", "in_flight", 10)).toEqual([])
        expect((yield* wq.claim("fs", 1, live.id)).map((i) => i.claimedBy)).toEqual([live.id])
        // The live member's claim goes only once its heartbeat is older than the line too.
        expect(yield* wq.recover("fs", instant("2030-01-01T00:00:20Z"))).toBe(0)
        expect(yield* wq.recover("fs", instant("2030-01-01T00:00:21Z"))).toBe(1)
        expect(yield* wq.list("fs", "in_flight", 10)).toEqual([])
      })))

    it("drops a settle by a claimer whose claim was taken over: the new claimer's outcome stands", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const { wq, slow, other, claimed: [one, two] } = yield* slowTakenOver
        // slow comes back while both are pending: nothing it says is applied (2 is not removed nor abandoned).
        expect(yield* wq.settle([[two!, { _tag: "Abandon", error: "HTTP 401" }]])).toBe(1)
        const taken = yield* wq.claim("fs", 10, other.id)
        expect(taken.map((i) => [i.objectId, i.claimedBy])).toEqual([["1", other.id], ["2", other.id]])
        // While other holds them: slow's outcomes are dropped, other's stay in flight.
        const later = instant("2999-01-01T00:00:00Z")
        expect(yield* wq.settle([[one!, { _tag: "Done" }], [two!, { _tag: "Retry", at: later, error: "HTTP 503" }]])).toBe(2)
        expect((yield* wq.list("fs", "in_flight", 10)).map((i) => [i.objectId, i.claimedBy, i.attempts, i.lastError])).toEqual([
          ["1", other.id, 0, null],
          ["2", other.id, 0, null]
        ])
        // other's outcomes apply (the item it retries keeps no claimer).
        expect(yield* wq.settle([[taken[0]!, { _tag: "Done" }], [taken[1]!, { _tag: "Retry", at: later, error: "HTTP 503" }]])).toBe(0)
        expect((yield* wq.list("fs", "pending", 10)).map((i) => [i.objectId, i.claimedBy, i.attempts, i.lastError])).toEqual([["2", null, 1, "HTTP 503"]])
        expect(yield* wq.list("fs", "in_flight", 10)).toEqual([])
        // A settle of an item that is gone is dropped too (and recreates nothing).
        expect(yield* wq.settle([[taken[0]!, { _tag: "Retry", at: later, error: "late" }]])).toBe(1)
        expect((yield* wq.counts).map((c) => [c.state, c.n])).toEqual([["pending", 1]])
      })))

    it("writes a claimer's registrations only while it holds their claims: a member presumed dead that comes back writes nothing", () =>
      onFreshStore(backend, Effect.gen(function* () {
        // The stall that matters: slow fetched person 1 before it was deleted, stalled past the member
        // timeout, and comes back after other fetched the deletion. Stamped with the time it came back,
        // slow's stale answer would be newer than other's and put the deleted person back in force.
        const { wq, slow, other } = yield* slowTakenOver
        const store = yield* Store
        yield* wq.claim("fs", 1, other.id) // other takes person 1 over; person 2 waits in the pool
        const assert = (id: string, r: string, name: string) => ({
          input: { op: "assert" as const, objectType: "fs.person", objectId: id, registreringstid: instant(r), virkningFra: null, virkningTil: null, data: canonicalJson({ name }), eventId: `${id}-${r}` }
        })
        const fence = (claimedBy: string) => ({ source: "fs", claimedBy, items: [{ resource: "personer", objectId: "1" }, { resource: "personer", objectId: "2" }] })
        // Neither is slow's any more: nothing is written, and the results say so.
        expect(yield* store.ingestClaimed("slow-source", [assert("1", "2030-01-01T00:01:00Z", "stale"), assert("2", "2030-01-01T00:01:00Z", "stale")], fence(slow.id))).toEqual([undefined, undefined])
        expect(yield* store.history("fs.person", "1")).toEqual([])
        expect(yield* store.history("fs.person", "2")).toEqual([])
        // other holds person 1 only: its registration of 1 is written, one of 2 is not.
        const written = yield* store.ingestClaimed("other-source", [assert("1", "2030-01-01T00:00:40Z", "fresh"), assert("2", "2030-01-01T00:00:40Z", "fresh")], fence(other.id))
        expect(written.map((r) => r?.outcome)).toEqual(["applied", undefined])
        expect((yield* store.history("fs.person", "1")).map((r) => r.data)).toEqual([{ name: "fresh" }])
        expect(yield* store.history("fs.person", "2")).toEqual([])
        expect((yield* store.events(0, 10)).map((e) => e.eventId)).toEqual(["1-2030-01-01T00:00:40Z"])
      })))
  })
