/** Loading dumps of current state (CSV, NDJSON, JSON) as the objects' state at one registration time. */
import { Effect, Option } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { instant } from "../../src/domain/core/Instant.js"
import { type ExtractOptions, ingestExtract } from "../../src/ingest/Extract.js"
import { tempStore } from "../support/engine.js"

async function* bytes(text: string) {
  yield new TextEncoder().encode(text)
}

describe("import of current-state dumps", () => {
  const t = tempStore("skygge-extract-")

  const load = (text: string, options: Partial<ExtractOptions> & Pick<ExtractOptions, "format" | "registreringstid">, file?: string) =>
    Effect.runPromise(
      ingestExtract(bytes(text), file, {
        objectType: "hr.ansatt",
        idField: "ansattnummer",
        timeZone: "Europe/Oslo",
        full: false,
        source: "test",
        batchSize: 3,
        maxRecordBytes: 1 << 16,
        ...options
      }).pipe(Effect.provide(t.engine.context))
    )
  const now = (objectId: string, at = "2030-01-01") =>
    Effect.runSync(t.engine.store.asOf({ objectType: "hr.ansatt", objectId, registreringstid: instant(at), virkningstid: instant(at) })).pipe(
      Option.map((r) => r.data),
      Option.getOrNull
    )

  it("loads a CSV dump, treats the same dump again as duplicates, and a full later dump repairs, adds and retracts", async () => {
    const first = "ansattnummer,navn,enhet\n1,Ola,IT\n2,Kari,HR\n3,Per,IT\n,Uten id,IT\n4,too,many,fields\n"
    const r1 = await load(first, { format: "csv", registreringstid: instant("2026-01-01") })
    expect(r1).toMatchObject({ records: 5, applied: 3, refused: 2 })
    expect(r1.refusals.map((r) => [r.line, r.reason])).toEqual([
      [5, "record 5 has no id at 'ansattnummer'"],
      [6, "record 6: 4 fields where the header has 3"]
    ])
    expect(now("2")).toEqual({ ansattnummer: "2", navn: "Kari", enhet: "HR" })
    expect(await load(first, { format: "csv", registreringstid: instant("2026-01-01") })).toMatchObject({ applied: 0, duplicate: 3 })

    // A month later: 1 unchanged, 2 changed, 3 gone, 5 new.
    const later = "ansattnummer,navn,enhet\n1,Ola,IT\n2,Kari,Økonomi\n5,Nils,IT\n"
    const r2 = await load(later, { format: "csv", registreringstid: instant("2026-02-01"), full: true })
    expect(r2).toMatchObject({ records: 3, applied: 3, unchanged: 1, retracted: 1, refused: 0 })
    expect(now("2")).toEqual({ ansattnummer: "2", navn: "Kari", enhet: "Økonomi" })
    expect(now("3")).toBeNull()
    expect(now("3", "2026-01-15")).toEqual({ ansattnummer: "3", navn: "Per", enhet: "IT" }) // the past stays
    expect(now("5")).not.toBeNull()
    // Loading an older dump after a newer one is refused as stale, never silently reordered.
    const stale = await load(first, { format: "csv", registreringstid: instant("2026-01-15") })
    expect(stale.refused).toBeGreaterThan(0)
    expect(stale.refusals[0]!.reason).toMatch(/stale registration/)
  })

  it("reads NDJSON with validity fields (9999-12-31 open) and a JSON collection envelope", async () => {
    const ndjson = [
      { ansattnummer: 10, navn: "Åse", periode: { fra: "2025-08-01", til: "9999-12-31" } },
      { ansattnummer: 11, navn: "Jonas", periode: { fra: "2026-01-01", til: "2026-06-30" } }
    ].map((r) => JSON.stringify(r)).join("\n") + "\nnot json\n"
    const r = await load(ndjson, { format: "ndjson", registreringstid: instant("2026-03-01"), validFrom: "periode.fra", validTo: "periode.til" })
    expect(r).toMatchObject({ records: 3, refused: 1 })
    const rows = Effect.runSync(t.engine.store.history("hr.ansatt", "11")).filter((row) => row.registreringTil === null)
    expect(rows.map((row) => [row.virkningFra, row.virkningTil])).toEqual([["2025-12-31T23:00:00.000000Z", "2026-06-29T22:00:00.000000Z"]])
    expect(Effect.runSync(t.engine.store.history("hr.ansatt", "10"))[0]!.virkningTil).toBeNull()

    const file = join(t.dir, "dump.json")
    writeFileSync(file, JSON.stringify({ items: [{ ansattnummer: 20, navn: "Sigrid" }] }))
    expect(await load("", { format: "json", registreringstid: instant("2026-03-01") }, file)).toMatchObject({ records: 1, applied: 1 })
    await expect(load("", { format: "json", registreringstid: instant("2026-03-01") })).rejects.toThrow(/read from a file/)
  })
})
