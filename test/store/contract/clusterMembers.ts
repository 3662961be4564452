/** Cluster members: join, heartbeat (false once the row is gone), leave, list, forget the long gone. */
import { Clock, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { instant, toEpochMillis } from "../../../src/domain/core/Instant.js"
import { ClusterMembers, type MemberIdentity } from "../../../src/store/ClusterMembers.js"
import { onFreshStore, type StoreBackend } from "./backend.js"

/** Run `effect` with the clock standing at `iso` (the adapters stamp heartbeats with the Clock). */
export const at = (iso: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const ms = toEpochMillis(instant(iso))
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => ms,
    currentTimeMillis: Effect.succeed(ms),
    unsafeCurrentTimeNanos: () => BigInt(ms) * 1_000_000n,
    currentTimeNanos: Effect.succeed(BigInt(ms) * 1_000_000n),
    sleep: () => Effect.void
  }
  return Effect.withClock(effect, clock)
}

export const memberNamed = (name: string, startedAt = "2030-01-01T00:00:00Z"): MemberIdentity => ({
  id: `${name}/0123abcd`,
  name,
  host: `host-${name}`,
  pid: 4000 + name.length,
  startedAt: instant(startedAt)
})

export const clusterMembersContract = (backend: StoreBackend) =>
  describe(`${backend.name}: cluster members`, () => {
    it("lists who joined with their heartbeats; a heartbeat moves it, a left member's heartbeat finds nothing; forgets only the long gone", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const members = yield* ClusterMembers
        const a = memberNamed("a"), b = memberNamed("b", "2030-01-01T00:00:01Z"), c = memberNamed("c", "2030-01-01T00:00:02Z")
        yield* at("2030-01-01T00:00:05Z")(members.join(a))
        yield* at("2030-01-01T00:00:06Z")(members.join(b))
        yield* at("2030-01-01T00:00:07Z")(members.join(c))
        expect(yield* members.list).toEqual([
          { ...a, heartbeatAt: "2030-01-01T00:00:05.000000Z" },
          { ...b, heartbeatAt: "2030-01-01T00:00:06.000000Z" },
          { ...c, heartbeatAt: "2030-01-01T00:00:07.000000Z" }
        ])
        expect(yield* at("2030-01-01T00:00:09Z")(members.heartbeat(a.id))).toBe(true)
        yield* members.leave(b.id)
        expect(yield* at("2030-01-01T00:00:09Z")(members.heartbeat(b.id))).toBe(false)
        expect((yield* members.list).map((m) => [m.id, m.heartbeatAt])).toEqual([
          [a.id, "2030-01-01T00:00:09.000000Z"],
          [c.id, "2030-01-01T00:00:07.000000Z"]
        ])
        // Joining again (forgotten while alive) keeps who it is and beats now.
        yield* at("2030-01-01T00:00:10Z")(members.join(b))
        expect((yield* members.list).find((m) => m.id === b.id)).toEqual({ ...b, heartbeatAt: "2030-01-01T00:00:10.000000Z" })
        // c's last heartbeat (00:07) is before the line, a's (00:09) and b's (00:10) are not.
        expect(yield* members.forgetGone(instant("2030-01-01T00:00:08Z"))).toBe(1)
        expect((yield* members.list).map((m) => m.id)).toEqual([a.id, b.id])
        expect(yield* members.forgetGone(instant("2030-01-01T00:00:09Z"))).toBe(0)
      })))

    it("names each singleton once, in name order; with no lock taken a dead member holds none (SQLite: the live member holds all)", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const members = yield* ClusterMembers
        expect(yield* members.singletons(instant("2030-01-01T00:00:00Z"))).toEqual([])
        yield* members.nameSingleton("outbox:prune")
        yield* members.nameSingleton("activations")
        yield* members.nameSingleton("outbox:prune")
        const a = memberNamed("a")
        yield* at("2030-01-01T00:00:05Z")(members.join(a))
        // Its heartbeat is older than the line: nobody holds anything, on either backend.
        expect(yield* members.singletons(instant("2030-01-01T00:00:06Z"))).toEqual([
          { name: "activations", holder: null },
          { name: "outbox:prune", holder: null }
        ])
        // Live: on SQLite (one engine per file) it holds them all; on PostgreSQL only a lock would say so, and none is taken.
        const holder = backend.name === "sqlite" ? a.id : null
        expect((yield* members.singletons(instant("2030-01-01T00:00:04Z"))).map((s) => s.holder)).toEqual([holder, holder])
      })))
  })
