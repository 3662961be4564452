/** Source cursors: none until set, the latest per source with when it was set, listed by source. */
import { Clock, Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { fromEpochMillis } from "../../../src/domain/core/Instant.js"
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
        yield* cursors.set("dar:graphql", "17")
        yield* cursors.set("dar", "2020-01-01T00:00:00Z")
        yield* cursors.set("dar:graphql", "42")
        const after = fromEpochMillis(yield* Clock.currentTimeMillis)
        const graphql = Option.getOrThrow(yield* cursors.get("dar:graphql"))
        expect(graphql.cursor).toBe("42")
        expect(graphql.updatedAt >= before && graphql.updatedAt <= after).toBe(true)
        expect((yield* cursors.list).map((c) => [c.source, c.cursor])).toEqual([["dar", "2020-01-01T00:00:00Z"], ["dar:graphql", "42"]])
      })))
  })
