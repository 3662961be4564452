/**
 * Erasure (issue 18) as every backend must do it: the object's data gone from every table in one unit
 * of work, the shape of history kept as tombstones under a pseudonym, an `erased` notification in place
 * of its undelivered ones, a log that names nobody, and later inputs for the object refused (without
 * their payload) unless the erasure allowed them or was lifted.
 */
import { Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { ERASED_DATA } from "../../../src/domain/core/Erasure.js"
import { fromEpochMillis } from "../../../src/domain/core/Instant.js"
import { canonicalJson, type Operation } from "../../../src/domain/core/Operation.js"
import { ActivationStore } from "../../../src/store/Activations.js"
import { Erasures } from "../../../src/store/Erasures.js"
import { MirrorStore } from "../../../src/store/Mirror.js"
import { OutboxStore } from "../../../src/store/Outbox.js"
import { PushInbox } from "../../../src/store/PushInbox.js"
import { type Row, Store } from "../../../src/store/Store.js"
import { onFreshStore, type StoreBackend } from "./backend.js"

const SECRET = "Quetzalcoatl-7731"
const at = (y: number, m = 0) => fromEpochMillis(Date.UTC(y, m, 1))
const assert = (objectId: string, eventId: string, registreringstid: ReturnType<typeof at>, name: string, virkningTil: ReturnType<typeof at> | null = null): Operation =>
  ({ op: "assert", objectType: "person", objectId, registreringstid, virkningFra: null, virkningTil, data: canonicalJson({ name }), eventId })

/** Person 01017012345 with three registrations (one with a future boundary), a refused input naming it, and a bystander. */
const seed = Effect.gen(function* () {
  const store = yield* Store
  yield* store.ingest("test", [
    { input: assert("01017012345", "e1", at(2020), `${SECRET} one`) },
    { input: assert("01017012345", "e2", at(2021), `${SECRET} two`, at(2999)) },
    { input: assert("bystander", "b1", at(2020), "Bystander") }
  ])
  // A stale registration, refused and recorded with its raw text.
  yield* store.ingest("test", [{ input: assert("01017012345", "e0", at(2019), `${SECRET} stale`), raw: `{"objectId":"01017012345","name":"${SECRET} stale"}` }])
  yield* (yield* PushInbox).record("daf:push", [{ envelopeId: "env1", body: `{"id":"01017012345"}` }, { envelopeId: "env2", body: `{"id":"other"}` }])
})

const allText = Effect.gen(function* () {
  const store = yield* Store
  const outbox = yield* OutboxStore
  const activations = yield* ActivationStore
  return JSON.stringify([
    yield* store.history("person", "01017012345"),
    yield* store.events(0, 1000),
    yield* store.refused(0, 1000),
    yield* store.snapshot({ objectType: "person", registreringstid: at(2500), virkningstid: at(2500), limit: 100 }),
    yield* store.changes({ since: at(2000), until: at(2500), limit: 100 }),
    (yield* outbox.after(0, 1000)).filter((r) => r.type !== "erased"),
    yield* activations.list({ from: null, to: null, limit: 1000 })
  ])
})

export const erasuresContract = (backend: StoreBackend) =>
  describe(`${backend.name}: erasures`, () => {
    it("erases every trace of the object's data at once, keeps tombstones under a pseudonym, and logs it by a keyed hash", () =>
      onFreshStore(backend, Effect.gen(function* () {
        yield* seed
        const store = yield* Store
        const erasures = yield* Erasures
        expect(yield* allText).toContain(SECRET)
        const before = yield* store.history("person", "01017012345")
        expect(before.length).toBe(3)
        const record = yield* erasures.erase({ objectType: "person", objectId: "01017012345", reason: "request 2026-17", by: "cli", allowNew: false })
        expect(record).toMatchObject({ id: 1, erasedBy: "cli", reason: "request 2026-17", objectType: "person", pseudonym: "~erased/1", allowNew: false, liftedAt: null })
        expect(record.keyHash).toMatch(/^[0-9a-f]{64}$/)
        expect(record.touched).toMatchObject({ rows: 3, events: 2, objects: 1, refused: 1, activationsCancelled: 2, outbox: 2, pushInbox: 1 })
        const text = yield* allText
        expect(text).not.toContain(SECRET)
        expect(text).not.toContain("01017012345")
        expect(JSON.stringify(yield* erasures.list(0, 10))).not.toContain("01017012345")
        // Queries of the object find nothing; the erasure says why.
        expect(yield* store.asOf({ objectType: "person", objectId: "01017012345", registreringstid: at(2022), virkningstid: at(2022) })).toEqual(Option.none())
        expect(yield* store.history("person", "01017012345")).toEqual([])
        expect(Option.map(yield* erasures.find("person", "01017012345"), (e) => e.id)).toEqual(Option.some(1))
        expect(yield* erasures.find("person", "bystander")).toEqual(Option.none())
        // The shape of history stays: three tombstones with the intervals they had.
        const tombstones = yield* store.history("person", "~erased/1")
        const shape = (rows: ReadonlyArray<Row>) => rows.map((r) => [r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.eventId])
        expect(shape(tombstones)).toEqual(shape(before))
        expect(tombstones.map((r) => r.data)).toEqual(before.map(() => JSON.parse(ERASED_DATA)))
        // Subscribers are told; the bystander is untouched.
        const outbox = yield* (yield* OutboxStore).after(0, 1000)
        expect(outbox.map((r) => [r.type, r.objectId])).toEqual([["created", "bystander"], ["erased", "01017012345"]])
        expect((yield* store.history("person", "bystander")).map((r) => r.data)).toEqual([{ name: "Bystander" }])
        const activations = yield* (yield* ActivationStore).list({ from: null, to: null, limit: 10 })
        expect(activations.map((a) => [a.objectId, a.status])).toEqual([["~erased/1", "cancelled"], ["~erased/1", "cancelled"]])
      })))

    it("refuses later inputs for the erased object without keeping their payload, until the erasure is lifted", () =>
      onFreshStore(backend, Effect.gen(function* () {
        yield* seed
        const store = yield* Store
        const erasures = yield* Erasures
        yield* erasures.erase({ objectType: "person", objectId: "01017012345", reason: "request", by: "cli", allowNew: false })
        const again = yield* store.ingest("test", [
          { input: assert("01017012345", "e3", at(2022), `${SECRET} back`), raw: `{"name":"${SECRET} back"}` },
          { input: assert("~erased/1", "e4", at(2022), "forged") },
          { input: assert("bystander", "b2", at(2022), "Bystander 2") }
        ])
        expect(again.map((r) => r.outcome)).toEqual(["refused", "refused", "applied"])
        expect(again[0]!.reason).toContain("erased")
        expect(again[1]!.reason).toContain("reserved")
        const refused = yield* store.refused(0, 100)
        const last = refused.filter((r) => r.eventId === "e3")
        expect(last).toMatchObject([{ objectType: "person", objectId: "~erased/1", input: null }])
        expect(JSON.stringify(refused)).not.toContain(SECRET)
        expect(JSON.stringify(refused)).not.toContain("01017012345")
        // Lifted: the object may come back.
        const lifted = yield* erasures.lift("person", "01017012345")
        expect(Option.map(lifted, (e) => e.liftedAt !== null)).toEqual(Option.some(true))
        expect((yield* store.ingest("test", [{ input: assert("01017012345", "e5", at(2023), "back") }])).map((r) => r.outcome)).toEqual(["applied"])
        expect(yield* erasures.lift("person", "nobody")).toEqual(Option.none())
      })))

    it("does not mirror an erased object back: the register's rows for it are refused, without their data", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const mirror = yield* MirrorStore
        const store = yield* Store
        const item = (objectId: string, name: string, day: number) => ({
          objectType: "cpr.person", objectId, complete: false, identity: [], checkOverlaps: false,
          rows: [{ objectId, key: `r${day}`, registreringFra: fromEpochMillis(Date.UTC(2020, 0, day)), registreringTil: null, virkningFra: null, virkningTil: null, data: canonicalJson({ name }) }]
        })
        yield* mirror.mirror("cpr:pull", "ev-1", [item("0101701234", `${SECRET} m`, 1), item("other", "Other", 1)])
        yield* (yield* Erasures).erase({ objectType: "cpr.person", objectId: "0101701234", reason: "request", by: "cli", allowNew: false })
        const results = yield* mirror.mirror("cpr:pull", "ev-2", [item("0101701234", `${SECRET} back`, 2), item("other", "Other 2", 2)])
        expect(results.map((r) => [r.objectId, r.inserted])).toEqual([["0101701234", 0], ["other", 1]])
        expect(yield* store.history("cpr.person", "0101701234")).toEqual([])
        const refused = yield* store.refused(0, 100)
        expect(refused.map((r) => [r.source, r.objectId, r.input])).toEqual([["cpr:pull", "~erased/1", null]])
        expect(refused[0]!.reason).toContain("object erased (erasure 1")
        expect(JSON.stringify(refused)).not.toContain(SECRET)
      })))

    it("with allowNew accepts new inputs at once; a second erasure takes those too", () =>
      onFreshStore(backend, Effect.gen(function* () {
        yield* seed
        const store = yield* Store
        const erasures = yield* Erasures
        yield* erasures.erase({ objectType: "person", objectId: "01017012345", reason: "request", by: "token", allowNew: true })
        expect((yield* store.ingest("test", [{ input: assert("01017012345", "e6", at(2024), `${SECRET} new`) }])).map((r) => r.outcome)).toEqual(["applied"])
        const second = yield* erasures.erase({ objectType: "person", objectId: "01017012345", reason: "again", by: "cli", allowNew: false })
        expect(second).toMatchObject({ id: 2, pseudonym: "~erased/2", touched: { rows: 1, events: 1 } })
        expect(yield* allText).not.toContain(SECRET)
        expect((yield* erasures.list(0, 10)).map((e) => [e.id, e.allowNew])).toEqual([[1, true], [2, false]])
        expect((yield* erasures.list(1, 10)).map((e) => e.id)).toEqual([2])
      })))
  })
