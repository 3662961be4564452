/**
 * The membership runtime (TestClock, a real SQLite store): it joins, heartbeats on the clock, logs a
 * failing heartbeat once and its return once, joins again when forgotten, leaves when it stops; alone
 * (one engine per SQLite file) it forgets the members of earlier runs at start, else it keeps them.
 */
import { ConfigProvider, Context, Effect, Exit, Layer, Logger, Ref, Scope, TestClock, TestContext } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Membership, type MembershipOptions } from "../../src/cluster/Membership.js"
import { toEpochMillis } from "../../src/domain/core/Instant.js"
import { ClusterMembers, type ClusterMembersShape } from "../../src/store/ClusterMembers.js"
import { StoreError } from "../../src/store/StoreError.js"
import { openStore } from "../support/engine.js"
import { memberNamed } from "../store/contract/clusterMembers.js"

const dir = mkdtempSync(join(tmpdir(), "skygge-membership-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let stores = 0
const freshMembers = () => {
  const store = openStore(join(dir, `store-${++stores}.db`))
  afterAll(() => store.close())
  return store.members
}

const config = ConfigProvider.fromMap(new Map([["cluster.memberName", "node-t"], ["cluster.heartbeatSeconds", "1"], ["cluster.memberTimeoutSeconds", "5"]]))

/** Run `body` with the membership built in a scope it can close, the clock a TestClock at 2030, log lines kept. */
const withMembership = <A, E>(
  members: ClusterMembersShape,
  options: MembershipOptions,
  body: (opened: { readonly membership: Membership["Type"]; readonly close: Effect.Effect<void>; readonly logs: ReadonlyArray<string> }) => Effect.Effect<A, E>
) => {
  const logs: Array<string> = []
  const logger = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void logs.push(String(message))))
  return Effect.runPromise(
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2030, 0, 1))
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Membership.layer(options).pipe(Layer.provide(Layer.succeed(ClusterMembers, members))), scope)
      return yield* body({ membership: Context.get(context, Membership), close: Scope.close(scope, Exit.void), logs })
    }).pipe(Effect.provide(logger), Effect.provide(TestContext.TestContext), Effect.withConfigProvider(config))
  )
}

describe("cluster membership", () => {
  it("joins, heartbeats every heartbeatSeconds, logs a failing heartbeat once and its return once, joins again when forgotten, leaves when it stops", async () => {
    const store = freshMembers()
    const failing = Effect.runSync(Ref.make(false))
    // The store's members, with heartbeats that fail while `failing` is set (the database away).
    const members: ClusterMembersShape = {
      ...store,
      heartbeat: (id) => Effect.flatMap(Ref.get(failing), (f) => (f ? Effect.fail(new StoreError({ operation: "ClusterMembers.heartbeat", cause: new Error("connection refused") })) : store.heartbeat(id)))
    }
    await withMembership(members, { alone: false }, ({ membership, close, logs }) =>
      Effect.gen(function* () {
        const me = membership.member
        expect(me.name).toBe("node-t")
        const beat = Effect.map(store.list, (list) => list.find((m) => m.id === me.id)?.heartbeatAt)
        expect(yield* beat).toBe("2030-01-01T00:00:00.000000Z")
        expect(toEpochMillis(yield* membership.liveSince)).toBe(Date.UTC(2030, 0, 1) - 5000)
        yield* TestClock.adjust("1 second")
        expect(yield* beat).toBe("2030-01-01T00:00:01.000000Z")
        yield* Ref.set(failing, true)
        yield* TestClock.adjust("3 seconds")
        expect(yield* beat).toBe("2030-01-01T00:00:01.000000Z")
        yield* Ref.set(failing, false)
        yield* TestClock.adjust("3 seconds")
        expect(yield* beat).toBe("2030-01-01T00:00:07.000000Z")
        expect(logs.filter((l) => l.includes("heartbeat failed"))).toHaveLength(1)
        expect(logs.filter((l) => l.includes("heartbeat works again"))).toHaveLength(1)
        // Forgotten while alive (its row gone): the next heartbeat joins again.
        yield* store.leave(me.id)
        yield* TestClock.adjust("1 second")
        expect(yield* beat).toBe("2030-01-01T00:00:08.000000Z")
        expect(logs.filter((l) => l.includes("joining again"))).toHaveLength(1)
        yield* close
        expect(yield* store.list).toEqual([])
      }))
  })

  it("alone, forgets the members of earlier runs at start (their claims free at once); not alone, keeps them", async () => {
    const store = freshMembers()
    const earlier = memberNamed("crashed")
    await Effect.runPromise(store.join(earlier))
    await withMembership(store, { alone: false }, ({ membership, close }) =>
      Effect.gen(function* () {
        expect((yield* store.list).map((m) => m.id).sort()).toEqual([earlier.id, membership.member.id].sort())
        yield* close
      }))
    await withMembership(store, { alone: true }, ({ membership, close, logs }) =>
      Effect.gen(function* () {
        expect((yield* store.list).map((m) => m.id)).toEqual([membership.member.id])
        expect(logs.filter((l) => l.includes("members of earlier runs forgotten"))).toHaveLength(1)
        yield* close
      }))
  })
})
