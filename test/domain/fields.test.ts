import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fieldPathProblem, minimise } from "../../src/domain/core/Fields.js"

const person = {
  id: "p1",
  navn: { fornavn: "Kari", etternavn: "Nordmann" },
  fodselsnummer: "01019012345",
  adresser: [
    { gate: "Storgata 1", postnummer: "0155", hemmelig: true },
    { gate: "Lillegata 2", postnummer: "5003" }
  ],
  tags: ["a", "b"]
}

describe("minimise: fields kept or dropped before anything is stored", () => {
  it("keep: only the named top-level fields", () => {
    expect(minimise(person, { keep: ["id", "tags"] })).toEqual({ id: "p1", tags: ["a", "b"] })
  })

  it("drop: everything but the named fields", () => {
    const { fodselsnummer: _, ...rest } = person
    expect(minimise(person, { drop: ["fodselsnummer"] })).toEqual(rest)
  })

  it("nested paths, kept and dropped", () => {
    expect(minimise(person, { keep: ["navn.fornavn"] })).toEqual({ navn: { fornavn: "Kari" } })
    expect(minimise(person, { drop: ["navn.etternavn", "fodselsnummer"] })).toEqual({
      id: "p1",
      navn: { fornavn: "Kari" },
      adresser: person.adresser,
      tags: ["a", "b"]
    })
  })

  it("a step into an array applies to each element", () => {
    expect(minimise(person, { keep: ["adresser.postnummer"] })).toEqual({ adresser: [{ postnummer: "0155" }, { postnummer: "5003" }] })
    expect(minimise(person, { drop: ["adresser.hemmelig", "adresser.gate"] })).toEqual({ ...person, adresser: [{ postnummer: "0155" }, { postnummer: "5003" }] })
    // Arrays of arrays likewise; an element with nothing kept stays in its place, empty.
    expect(minimise({ a: [[{ b: 1, c: 2 }], [{ c: 3 }]] }, { keep: ["a.b"] })).toEqual({ a: [[{ b: 1 }], [{}]] })
  })

  it("absent paths name nothing: no error, nothing added", () => {
    expect(minimise(person, { drop: ["nope", "navn.mellomnavn", "tags.x.y"] })).toEqual(person)
    expect(minimise(person, { keep: ["nope", "id.deeper"] })).toEqual({})
    expect(minimise({}, { keep: ["a"] })).toEqual({})
  })

  it("always-kept paths survive any filter", () => {
    expect(minimise(person, { keep: ["navn.fornavn"] }, ["id"])).toEqual({ id: "p1", navn: { fornavn: "Kari" } })
    expect(minimise(person, { drop: ["id", "navn"] }, ["id", "navn.etternavn"])).toMatchObject({ id: "p1", navn: { etternavn: "Nordmann" } })
    expect(minimise(person, { drop: ["id", "navn"] }, ["id", "navn.etternavn"])).not.toHaveProperty("navn.fornavn")
  })

  it("no filter, or a value that is not an object: the value itself; the input is never changed", () => {
    const before = JSON.stringify(person)
    expect(minimise(person, undefined)).toBe(person)
    expect(minimise("text", { keep: ["a"] })).toBe("text")
    expect(minimise(null, { drop: ["a"] })).toBe(null)
    minimise(person, { drop: ["navn.fornavn", "adresser.gate"] })
    minimise(person, { keep: ["navn"] })
    expect(JSON.stringify(person)).toBe(before)
  })

  it("a key named __proto__ is data, kept and dropped as any other", () => {
    const v = JSON.parse('{"__proto__":{"x":1},"y":2}') as unknown
    expect(JSON.stringify(minimise(v, { keep: ["__proto__"] }))).toBe('{"__proto__":{"x":1}}')
    expect(JSON.stringify(minimise(v, { drop: ["__proto__.x"] }))).toBe('{"__proto__":{},"y":2}')
  })

  it("deeply nested arrays cannot overflow the stack", () => {
    let deep: unknown = { secret: 1 }
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(() => minimise({ a: deep }, { drop: ["a.secret"] })).not.toThrow()
    expect(JSON.stringify(minimise({ a: deep }, { keep: ["a.secret"] }))).not.toContain("secret")
  })

  it("properties: a dropped path is absent afterwards; keep then keeps nothing else; idempotent", () => {
    const key = fc.constantFrom("a", "b", "c")
    fc.assert(
      fc.property(fc.dictionary(key, fc.dictionary(key, fc.jsonValue(), { maxKeys: 3 }), { maxKeys: 3 }), key, key, (value, k1, k2) => {
        const dropped = minimise(value, { drop: [`${k1}.${k2}`] }) as Record<string, Record<string, unknown>>
        expect(dropped[k1] !== undefined && typeof dropped[k1] === "object" && dropped[k1] !== null && Object.hasOwn(dropped[k1], k2)).toBe(false)
        const kept = minimise(value, { keep: [k1] }) as Record<string, unknown>
        expect(Object.keys(kept).every((k) => k === k1)).toBe(true)
        expect(minimise(dropped, { drop: [`${k1}.${k2}`] })).toEqual(dropped)
        expect(minimise(kept, { keep: [k1] })).toEqual(kept)
      }),
      { numRuns: 300 }
    )
  })

  it("configured paths are checked", () => {
    expect(fieldPathProblem(["a.b", "c"])).toBeUndefined()
    expect(fieldPathProblem(["a..b"])).toMatch(/a\.\.b/)
    expect(fieldPathProblem([""])).toBeDefined()
  })
})

describe("minimisation where data is built", () => {
  it("a provider state: validity read from the whole state, only the kept fields stored", async () => {
    const { stateOperations } = await import("../../src/domain/intark/ProviderState.js")
    const ops = stateOperations(
      { objectType: "fs.personrolle", timeZone: "UTC", validFrom: "periode.fraDato", fields: { keep: ["rolle"] } },
      "1",
      { rolle: "SENSOR", periode: { fraDato: "2024-01-01" }, person: { fodselsnummer: "x" } },
      "2026-01-01T00:00:00.000000Z" as never,
      "e"
    )
    expect(Array.isArray(ops) && ops.at(-1)).toMatchObject({ op: "assert", virkningFra: "2024-01-01T00:00:00.000000Z", data: '{"rolle":"SENSOR"}' })
  })

  it("a mirrored row: id and identity fields always kept; rows stored before the setting are not taken for rewrites", async () => {
    const { decodeMirrorRow, planMirror, withFields } = await import("../../src/domain/core/Mirror.js")
    const { DATAFORDELER_SHAPE } = await import("../../src/domain/datafordeler/DatafordelerRows.js")
    const raw = { id_lokalId: "a1", status: "3", navn: "Skjult", registreringFra: "2020-01-01T00:00:00Z", virkningFra: "2020-01-01T00:00:00Z", datafordelerRowId: "r1" }
    const full = { ...DATAFORDELER_SHAPE, identity: ["status"] }
    const narrow = withFields(full, { keep: ["navn.x"] })
    const row = decodeMirrorRow(raw, narrow, "UTC")
    expect("data" in row && JSON.parse(row.data)).toEqual({ id_lokalId: "a1", status: "3" })
    const old = decodeMirrorRow(raw, full, "UTC")
    if (!("data" in old) || !("data" in row)) throw new Error("decoded")
    expect(JSON.parse(old.data)).toHaveProperty("navn", "Skjult")
    const plan = planMirror([{ ...old, id: 1 }], [row], { complete: true, checkOverlaps: true, normalise: narrow.normalise })
    expect(plan).toMatchObject({ insert: [], close: [], unchanged: 1, anomalies: [] })
  })
})
