/**
 * Source cursors: none until set, the latest per source with when it was set, listed by source; every
 * write a compare-and-set against the value the writer read, so a stale writer (a path that lost its
 * leadership without knowing it) is refused and cannot move a cursor back.
 */
import { Clock, Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { fromEpochMillis } from "../../../src/domain/core/Instant.js"
import { MirrorStore } from "../../../src/store/Mirror.js"
import { SourceCursors } from "../../../src/store/SourceCursors.js"
import { onFreshStore, type StoreBackend } from "./backend.js"

export const sourceCursorsContract = (backend: StoreBackend) =>
  describe(`${backend.name}: source cursors`, () => {
    it("keeps the latest cursor per source and when it was set", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const cursors = yield* SourceCursors
        expect(yield* cursors.get("dar")).toEqual(Option.none())
        expect(yield* cursors.list).toEqual([])
        const before = fromEpochMillis(yield* Clock.currentTimeMillis)
        yield* cursors.set("dar:graphql", "17", null)
        yield* cursors.set("dar", "2020-01-01T00:00:00Z", null)
        yield* cursors.set("dar:graphql", "42", "17")
        const after = fromEpochMillis(yield* Clock.currentTimeMillis)
        const graphql = Option.getOrThrow(yield* cursors.get("dar:graphql"))
        expect(graphql.cursor).toBe("42")
        expect(graphql.updatedAt >= before && graphql.updatedAt <= after).toBe(true)
        expect((yield* cursors.list).map((c) => [c.source, c.cursor])).toEqual([["dar", "2020-01-01T00:00:00Z"], ["dar:graphql", "42"]])
      })))

    it("refuses a write whose expected value is no longer the cursor, and writes nothing", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const cursors = yield* SourceCursors
        yield* cursors.set("dar:graphql", "17", null)
        // A second first start (the other process already created it): refused.
        const again = yield* Effect.flip(cursors.set("dar:graphql", "5", null))
        expect(again._tag).toBe("StaleWrite")
        // The new leader moved it to 42; the old one, still expecting 17, would move it back to 30.
        yield* cursors.set("dar:graphql", "42", "17")
        const stale = yield* Effect.flip(cursors.set("dar:graphql", "30", "17"))
        expect(stale._tag).toBe("StaleWrite")
        expect(stale.message).toContain("dar:graphql")
        // A cursor that does not exist is not one anybody expected.
        expect((yield* Effect.flip(cursors.set("nowhere", "1", "0")))._tag).toBe("StaleWrite")
        expect(Option.map(yield* cursors.get("dar:graphql"), (c) => c.cursor)).toEqual(Option.some("42"))
        expect(yield* cursors.get("nowhere")).toEqual(Option.none())
        // Confirming it at the value it has is a write that succeeds.
        yield* cursors.set("dar:graphql", "42", "42")
      })))

    it("moves a cursor with a mirrored page only from the value expected, else commits neither", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const cursors = yield* SourceCursors
        const mirror = yield* MirrorStore
        const item = (objectId: string) => ({
          objectType: "thing", objectId, complete: false, identity: [], checkOverlaps: false,
          rows: [{ objectId, key: "r1", registreringFra: fromEpochMillis(Date.UTC(2020, 0, 1)), registreringTil: null, virkningFra: null, virkningTil: null, data: `{"name":"${objectId}"}` }]
        })
        yield* mirror.mirror("test", "e1", [item("t1")], { source: "reg:pull", cursor: "2020-01-02T00:00:00Z", expected: null })
        // A stale leader's page: refused whole, its rows not written either.
        const stale = yield* Effect.flip(mirror.mirror("test", "e2", [item("t2")], { source: "reg:pull", cursor: "2020-01-01T12:00:00Z", expected: null }))
        expect(stale._tag).toBe("StaleWrite")
        expect(Option.map(yield* cursors.get("reg:pull"), (c) => c.cursor)).toEqual(Option.some("2020-01-02T00:00:00Z"))
        const held = yield* mirror.heldRows("thing", ["t1", "t2"], [])
        expect([held.get("t1")!.size, held.get("t2")!.size]).toEqual([1, 0])
        yield* mirror.mirror("test", "e3", [], { source: "reg:pull", cursor: "2020-01-03T00:00:00Z", expected: "2020-01-02T00:00:00Z" })
        expect(Option.map(yield* cursors.get("reg:pull"), (c) => c.cursor)).toEqual(Option.some("2020-01-03T00:00:00Z"))
      })))
  })
