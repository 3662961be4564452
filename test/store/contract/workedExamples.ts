/**
 * The DESIGN.md worked examples (test/fixtures/worked-examples.ndjson) at the store itself, as the
 * HTTP and CLI tests meet them through their doors: both tables row for row, and the as-of answers.
 */
import { Effect, Option } from "effect"
import { createReadStream } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { instant } from "../../../src/domain/core/Instant.js"
import { ingestNdjson } from "../../../src/ingest/Ingest.js"
import { type Row, Store } from "../../../src/store/Store.js"
import { onFreshStore, type StoreBackend } from "./backend.js"

const fixture = fileURLToPath(new URL("../../fixtures/worked-examples.ndjson", import.meta.url))

/** Ingest the worked examples (the fixture, four operations) through the Store service. */
export const ingestWorkedExamples = Effect.suspend(() =>
  ingestNdjson(createReadStream(fixture), { source: "examples", batchSize: 100, maxLineBytes: 1 << 20, timeZone: "UTC" }))
const d = (date: string) => `${date}T00:00:00.000000Z`
const pick = (row: Row) => [row.registreringFra, row.registreringTil, row.virkningFra, row.virkningTil, row.data]

export const workedExamplesContract = (backend: StoreBackend) =>
  describe(`${backend.name}: the DESIGN.md worked examples`, () => {
    it("reproduces both tables row for row and answers the analyst's question", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const summary = yield* ingestWorkedExamples
        expect(summary).toMatchObject({ lines: 4, applied: 4, refused: 0 })
        const store = yield* Store
        expect((yield* store.history("vej", "xxxx")).map(pick)).toEqual([
          [d("2016-09-01"), d("2016-09-07"), d("2016-10-01"), null, { navn: "Grøndahl" }],
          [d("2016-09-07"), null, d("2016-10-01"), null, { navn: "Grøndal" }]
        ])
        const yyyy = yield* store.history("vej", "yyyy")
        expect(yyyy.map(pick)).toEqual([
          [d("2016-11-01"), d("2017-01-04"), d("2016-12-01"), null, { navn: "Aabakke" }],
          [d("2017-01-04"), null, d("2016-12-01"), d("2017-02-01"), { navn: "Aabakke" }],
          [d("2017-01-04"), null, d("2017-02-01"), null, { navn: "Åbakke" }]
        ])
        for (const row of yyyy) expect(typeof row.storedAt).toBe("string")
        const asOf = (objectId: string, r: string, v: string) =>
          Effect.map(store.asOf({ objectType: "vej", objectId, registreringstid: instant(r), virkningstid: instant(v) }), Option.map((row) => row.data))
        // The analyst's question: on 2017-01-05, what did the register say about 2017-03-01?
        expect(yield* asOf("yyyy", "2017-01-05", "2017-03-01")).toEqual(Option.some({ navn: "Åbakke" }))
        // Half-open: at exactly registreringTil the closed row is not seen.
        expect(yield* asOf("xxxx", "2016-09-07", "2016-10-01")).toEqual(Option.some({ navn: "Grøndal" }))
      })))
  })
