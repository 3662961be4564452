/** The PUSH inbox: a redelivered envelope is a duplicate, entries wait in order until processed, only processed ones are pruned. */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { PushInbox } from "../../../src/store/PushInbox.js"
import { onFreshStore, type StoreBackend } from "./backend.js"

const event = (envelopeId: string) => ({ envelopeId, body: `{"Id":"${envelopeId}"}` })

export const pushInboxContract = (backend: StoreBackend) =>
  describe(`${backend.name}: PUSH inbox`, () => {
    it("records once per envelope, hands out the oldest pending per source, marks processed, prunes only the processed", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const inbox = yield* PushInbox
        expect(yield* inbox.record("dar:push", [event("1"), event("2"), event("1")])).toEqual({ recorded: 2, duplicates: 1 })
        expect(yield* inbox.record("dar:push", [event("2"), event("3")])).toEqual({ recorded: 1, duplicates: 1 })
        expect(yield* inbox.record("other", [event("1")])).toEqual({ recorded: 1, duplicates: 0 })
        expect(yield* inbox.pendingCount).toBe(4)
        const pending = yield* inbox.pending("dar:push", 10)
        expect(pending.map((e) => [e.envelopeId, e.body])).toEqual([["1", '{"Id":"1"}'], ["2", '{"Id":"2"}'], ["3", '{"Id":"3"}']])
        expect((yield* inbox.pending("dar:push", 2)).map((e) => e.envelopeId)).toEqual(["1", "2"])

        yield* inbox.markProcessed(pending.slice(0, 2).map((e) => e.id))
        expect((yield* inbox.pending("dar:push", 10)).map((e) => e.envelopeId)).toEqual(["3"])
        expect(yield* inbox.pendingCount).toBe(2)
        // Processed entries still count as seen (the dedup window) until pruned.
        expect(yield* inbox.record("dar:push", [event("1")])).toEqual({ recorded: 0, duplicates: 1 })
        expect(yield* inbox.prune("2000-01-01T00:00:00.000000Z")).toBe(0) // received after that instant
        expect(yield* inbox.prune("2999-01-01T00:00:00.000000Z")).toBe(2) // the processed two; pending ones stay
        expect(yield* inbox.pendingCount).toBe(2)
        // Pruned, an envelope id is new again.
        expect(yield* inbox.record("dar:push", [event("1")])).toEqual({ recorded: 1, duplicates: 0 })
      })))
  })
