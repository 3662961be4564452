/**
 * Mirror planning against real DAR histories (DAWA's DAR 1.0 rows) and the
 * rewrite cases. The register's evolution is replayed: at every registration
 * instant T the upstream shows the rows it knew at T (a row closed later is
 * still open then), and each view is mirrored in turn into an in-memory copy.
 */
import fc from "fast-check"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { type Instant, instant } from "../../src/domain/core/Instant.js"
import { canonicalJson } from "../../src/domain/core/Operation.js"
import { decodeMirrorRow, type MirrorRow, planMirror, type RowShape, type StoredMirrorRow, withFields } from "../../src/domain/core/Mirror.js"
import { DATAFORDELER_SHAPE } from "../../src/domain/datafordeler/DatafordelerRows.js"

const DAWA_SHAPE: RowShape = {
  id: "id",
  registreringFra: "registreringfra",
  registreringTil: "registreringtil",
  virkningFra: "virkningfra",
  virkningTil: "virkningtil",
  identity: [],
  volatile: ["eventopdater"]
}

const sample = (name: string) =>
  readFileSync(new URL(`../fixtures/datafordeler/${name}`, import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>)

const decode = (raw: unknown, shape = DAWA_SHAPE): MirrorRow => {
  const row = decodeMirrorRow(raw, shape, "UTC")
  if ("reason" in row) throw new Error(row.reason)
  return row
}

/** A store of one object's rows, applying plans as the SQL layer does (with the register shape's content rule). */
const copy = (shape: Pick<RowShape, "normalise"> = DATAFORDELER_SHAPE) => {
  const rows: Array<StoredMirrorRow> = []
  let next = 1
  return {
    rows,
    mirror: (upstream: ReadonlyArray<MirrorRow>, complete = true, checkedAgainst?: ReadonlyMap<string, Instant | null>, asOf?: Instant) => {
      const plan = planMirror(rows, upstream, { complete, checkOverlaps: true, normalise: shape.normalise, checkedAgainst, asOf })
      for (const c of plan.close) {
        const i = rows.findIndex((r) => r.id === c.id)
        rows[i] = { ...rows[i]!, registreringTil: c.at }
      }
      for (const r of plan.insert) rows.push({ ...r, id: next++ })
      return plan
    }
  }
}

const strip = (r: MirrorRow) => ({ rf: r.registreringFra, rt: r.registreringTil, vf: r.virkningFra, vt: r.virkningTil, data: r.data })
const byStart = (a: { rf: string; vf: string | null }, b: { rf: string; vf: string | null }) => (a.rf + (a.vf ?? "")).localeCompare(b.rf + (b.vf ?? ""))

describe("mirror planning on real DAR histories", () => {
  for (const file of ["Postnummer.ndjson", "Adresse_multirow_subset.ndjson", "DARKommuneinddeling.ndjson", "SupplerendeBynavn.ndjson"]) {
    it(`${file}: replaying the register instant by instant ends equal to it, with only inserts and closes`, () => {
      const rows = sample(file)
      const byObject = new Map<string, Array<Record<string, unknown>>>()
      for (const r of rows) byObject.set(String(r.id), [...(byObject.get(String(r.id)) ?? []), r])
      let closes = 0
      for (const [, history] of byObject) {
        const instants = [...new Set(history.flatMap((r) => [r.registreringfra, r.registreringtil]).filter((t): t is string => typeof t === "string"))].sort()
        const mirror = copy()
        for (const t of instants) {
          const T = instant(t)
          // What upstream showed at T: rows registered by then, closes after T not yet made.
          const view = history
            .map((r) => decode(r))
            .filter((r) => r.registreringFra <= T)
            .map((r) => (r.registreringTil !== null && r.registreringTil > T ? { ...r, registreringTil: null } : r))
          const plan = mirror.mirror(view)
          expect(plan.anomalies.filter((a) => a.kind !== "overlap")).toEqual([])
          closes += plan.close.length
        }
        expect(mirror.rows.map(strip).sort(byStart)).toEqual(history.map((r) => strip(decode(r))).sort(byStart))
        // Mirroring the same view again changes nothing.
        const again = mirror.mirror(history.map((r) => decode(r)))
        expect(again.insert.length + again.close.length).toBe(0)
      }
      if (file !== "SupplerendeBynavn.ndjson") expect(closes).toBeGreaterThan(0)
    })
  }
})

describe("mirror anomalies: recorded, never obeyed", () => {
  const row = (over: Partial<Record<string, unknown>> = {}) => ({
    id_lokalId: "a",
    registreringFra: "2020-01-01T00:00:00Z",
    virkningFra: "2020-01-01T00:00:00Z",
    navn: "Åbakke",
    datafordelerOpdateringstid: "2020-01-01T00:00:01Z",
    ...over
  })
  const d = (raw: Record<string, unknown>) => decode(raw, DATAFORDELER_SHAPE)

  it("keeps a field named __proto__ as the row's data", () => {
    const row = decodeMirrorRow(JSON.parse('{"id_lokalId":"a","registreringFra":"2020-01-01T00:00:00Z","__proto__":{"x":1},"b":2}'), DATAFORDELER_SHAPE, "UTC")
    expect("data" in row && row.data).toBe('{"__proto__":{"x":1},"b":2,"id_lokalId":"a"}')
  })

  it("a changed row content, a moved or reopened close, and a row gone from a complete history", () => {
    const m = copy()
    m.mirror([d(row()), d(row({ registreringFra: "2021-01-01T00:00:00Z", virkningFra: "2021-01-01T00:00:00Z", navn: "B" }))])
    expect(m.mirror([d(row({ navn: "Aabakke" }))], false).anomalies.map((a) => a.kind)).toEqual(["rewrite"])
    expect(m.rows[0]!.data).toContain("Åbakke")
    // The allowed close; a volatile stamp changing with it is not a rewrite.
    const closed = m.mirror([d(row({ registreringTil: "2021-01-01T00:00:00Z", datafordelerOpdateringstid: "2021-01-01T00:00:01Z" }))], false)
    expect(closed.close).toEqual([{ id: 1, at: instant("2021-01-01T00:00:00Z") }])
    expect(m.mirror([d(row({ registreringTil: "2022-01-01T00:00:00Z" }))], false).anomalies.map((a) => a.kind)).toEqual(["rewrite"])
    expect(m.mirror([d(row())], false).anomalies.map((a) => a.kind)).toEqual(["reopen"])
    expect(m.rows[0]!.registreringTil).toBe(instant("2021-01-01T00:00:00Z"))
    expect(m.mirror([d(row({ registreringTil: "2021-01-01T00:00:00Z" }))], true).anomalies.map((a) => a.kind)).toEqual(["missing-upstream"])
  })

  it("a re-import (same rows, new row ids, a new import sequence number) is the same history: no rewrite, later closes apply", () => {
    // As CVR_Events shows: rows deleted at one load package and inserted again at another, with the platform's
    // columns (every field named datafordeler…) new and the register's data the same.
    const m = copy()
    const first = { datafordelerRowId: "r1", datafordelerRowVersion: 1, datafordelerRegisterImportSequenceNumber: 349504 }
    m.mirror([d(row(first))])
    const again = { datafordelerRowId: "r2", datafordelerRowVersion: 2, datafordelerRegisterImportSequenceNumber: 310213, datafordelerOpdateringstid: "2021-06-01T00:00:00Z" }
    expect(m.mirror([d(row(again))], true)).toMatchObject({ insert: [], close: [], unchanged: 1, anomalies: [] })
    // The platform's columns are not the row's content, whatever their spelling, nested rows' too.
    expect(JSON.parse(m.rows[0]!.data)).not.toHaveProperty("datafordelerRegisterImportSequenceNumber")
    const nested = copy()
    nested.mirror([d(row({ husnummer: { id: "h", datafordelerOpdateringstid: "2020-01-01T00:00:00Z" } }))])
    expect(nested.mirror([d(row({ husnummer: { id: "h", datafordelerOpdateringstid: "2021-01-01T00:00:00Z", DatafordelerRowId: "x" } }))], true).anomalies).toEqual([])
    expect(nested.mirror([d(row({ husnummer: { id: "i" } }))], true).anomalies.map((a) => a.kind)).toEqual(["rewrite"])
    // The close that follows the re-import is the allowed one; a row after it overlaps nothing.
    const closed = m.mirror([
      d(row({ ...again, registreringTil: "2022-01-01T00:00:00Z", datafordelerRegisterImportSequenceNumber: 409204 })),
      d(row({ registreringFra: "2022-01-01T00:00:00Z", navn: "Ny", datafordelerRegisterImportSequenceNumber: 409204 }))
    ], true)
    expect(closed).toMatchObject({ close: [{ id: 1, at: instant("2022-01-01T00:00:00Z") }], anomalies: [] })
    expect(closed.insert).toHaveLength(1)
  })

  it("a whole history older than what is held (read before another path committed) testifies to no absence or reopen", () => {
    const m = copy()
    const later = row({ registreringFra: "2021-01-01T00:00:00Z", virkningFra: "2021-01-01T00:00:00Z", navn: "B" })
    m.mirror([d(row({ registreringTil: "2021-01-01T00:00:00Z" })), d(later)], true)
    // As of 2020-06: only the first row, still open.
    const stale = m.mirror([d(row())], true)
    expect(stale).toMatchObject({ insert: [], close: [], anomalies: [] })
    // A snapshot as new as ours still does.
    expect(m.mirror([d(later)], true).anomalies.map((a) => a.kind)).toEqual(["missing-upstream"])
  })

  it("a whole history checked against the rows held when it was read testifies only about those (another path committed since)", () => {
    // Path B reads the object half-way through a re-import (its newest row back, its first not yet) while we hold
    // nothing, so the answer covers what we hold; path A then reads it whole and commits first. B's answer is as new
    // as A's by its instants, yet it was checked only against nothing: it cannot say A's first row is gone.
    const first = row({ registreringTil: "2021-01-01T00:00:00Z" })
    const later = row({ registreringFra: "2021-01-01T00:00:00Z", virkningFra: "2021-01-01T00:00:00Z", navn: "B" })
    const m = copy()
    m.mirror([d(first), d(later)], true) // A
    expect(m.mirror([d(later)], true, new Map())).toMatchObject({ insert: [], close: [], unchanged: 1, anomalies: [] }) // B
    // Nor can an answer checked while our first row was open say it reopened: A closed it since.
    const open = copy()
    open.mirror([d(row())], true)
    const checked = new Map([[d(row()).key, null]])
    open.mirror([d(first), d(later)], true)
    expect(open.mirror([d(row()), d(later)], true, checked)).toMatchObject({ insert: [], close: [], anomalies: [] })
    // A row that was held when the answer was checked and that the answer lacks is missing upstream, as without a check.
    const held = new Map([[d(first).key, instant("2021-01-01T00:00:00Z")], [d(later).key, null]])
    expect(m.mirror([d(later)], true, held).anomalies.map((a) => a.kind)).toEqual(["missing-upstream"])
  })

  it("rows true as of an instant (events' inline rows) cannot show a row reopened that was closed after it", () => {
    // Object X: event A (registered 2020) carries r1 open; event B (2021) closes r1 and registers r2. A window's
    // events are mirrored in chunks, so reading the window again mirrors A's chunk after B's rows are held.
    const at = (s: string) => instant(`${s}-01-01T00:00:00Z`)
    const r1 = d(row())
    const r1closed = d(row({ registreringTil: "2021-01-01T00:00:00Z" }))
    const r2 = d(row({ registreringFra: "2021-01-01T00:00:00Z", virkningFra: "2021-01-01T00:00:00Z", navn: "B" }))
    const m = copy()
    expect(m.mirror([r1], false, undefined, at("2020")).insert).toHaveLength(1) // read 1, A
    expect(m.mirror([r1closed, r2], false, undefined, at("2021"))).toMatchObject({ close: [{ id: 1, at: at("2021") }], anomalies: [] }) // read 1, B
    // Read again: A's rows are as of 2020, before r1's close: stale for r1, unchanged, nothing written, no anomaly.
    expect(m.mirror([r1], false, undefined, at("2020"))).toMatchObject({ insert: [], close: [], unchanged: 1, anomalies: [] })
    expect(m.mirror([r1closed, r2], false, undefined, at("2021"))).toMatchObject({ insert: [], close: [], unchanged: 2, anomalies: [] })
    // The same when PUSH applied B before PULL mirrors A (the two paths side by side): A is older than what is held.
    const sideBySide = copy()
    sideBySide.mirror([r1closed, r2], false, undefined, at("2021"))
    expect(sideBySide.mirror([r1], false, undefined, at("2020"))).toMatchObject({ insert: [], close: [], unchanged: 1, anomalies: [] })
    // Rows as of the close's own instant, or later, that show the row open: a genuine reopen, as without an instant.
    expect(m.mirror([r1], false, undefined, at("2021")).anomalies.map((a) => a.kind)).toEqual(["reopen"])
    expect(m.mirror([r1], false, undefined, at("2022")).anomalies.map((a) => a.kind)).toEqual(["reopen"])
    // Without an instant (an event without registreringstid): today's rule, a reopen.
    expect(m.mirror([r1], false).anomalies.map((a) => a.kind)).toEqual(["reopen"])
    expect(m.rows.map((r) => r.registreringTil)).toEqual([at("2021"), null])
    // Being stale for a row's close changes nothing else: the item's new rows are inserted, its closes applied,
    // a content change is still a rewrite, and a row held open is closed.
    const r3 = d(row({ registreringFra: "2019-01-01T00:00:00Z", registreringTil: "2020-01-01T00:00:00Z", virkningFra: "2019-01-01T00:00:00Z", navn: "C" }))
    expect(m.mirror([r1, r3], false, undefined, at("2020"))).toMatchObject({ insert: [r3], close: [], unchanged: 1, anomalies: [] })
    expect(m.mirror([d(row({ navn: "Aabakke" }))], false, undefined, at("2020")).anomalies.map((a) => a.kind)).toEqual(["rewrite"])
    expect(m.mirror([d(row({ registreringFra: "2021-01-01T00:00:00Z", virkningFra: "2021-01-01T00:00:00Z", navn: "B", registreringTil: "2022-01-01T00:00:00Z" }))], false, undefined, at("2020")).close).toEqual([{ id: 2, at: at("2022") }])
  })

  it("the same row read through GraphQL (ASCII field names) is the same row: its close applies, no rewrite", () => {
    const m = copy()
    m.mirror([d(row({ dørbetegnelse: "tv", forretningshændelse: { værdi: 1 } }))])
    const viaGraphql = m.mirror([d(row({ doerbetegnelse: "tv", forretningshaendelse: { vaerdi: 1 }, registreringTil: "2021-01-01T00:00:00Z" }))], false)
    expect(viaGraphql).toMatchObject({ anomalies: [], close: [{ id: 1, at: instant("2021-01-01T00:00:00Z") }] })
    // A real change of content is still one.
    expect(m.mirror([d(row({ doerbetegnelse: "th", registreringTil: "2021-01-01T00:00:00Z" }))], false).anomalies.map((a) => a.kind)).toEqual(["rewrite"])
    // The rule is the register's: a shape without one compares texts as they are.
    const plain = copy({})
    plain.mirror([d(row({ dørbetegnelse: "tv" }))])
    expect(plain.mirror([d(row({ doerbetegnelse: "tv", registreringTil: "2021-01-01T00:00:00Z" }))], false).anomalies.map((a) => a.kind)).toEqual(["rewrite"])
  })

  it("overlaps are reported (and stored, as upstream has them); duplicates and closes before the start too", () => {
    const m = copy()
    const plan = m.mirror([d(row()), d(row({ registreringFra: "2020-06-01T00:00:00Z", virkningFra: "2020-03-01T00:00:00Z", navn: "X" }))])
    expect(plan.anomalies.map((a) => a.kind)).toEqual(["overlap"])
    expect(m.rows).toHaveLength(2)
    expect(m.mirror([d(row({ virkningFra: "2019-01-01T00:00:00Z" })), d(row({ virkningFra: "2019-01-01T00:00:00Z", navn: "Y" }))], false).anomalies.map((a) => a.kind)).toContain("duplicate-identity")
    const n = copy()
    n.mirror([d(row())])
    expect(decodeMirrorRow(row({ registreringTil: "2019-01-01T00:00:00Z" }), DATAFORDELER_SHAPE, "UTC")).toMatchObject({ field: "registreringTil" })
  })

  it("overlap anomalies: each pair of rows after the plan, one of them new or newly closed, both visible, overlapping in both times — in order", () => {
    const at = fc.integer({ min: 0, max: 5 }).map((n) => `202${n}-01-01T00:00:00.000000Z` as Instant)
    const open = fc.option(at, { nil: null })
    // Rows with a few instants, so that overlaps, rows closed at their start and identities held already come up often.
    const rowOf = fc.tuple(at, open, open, open).map(([rf, rt, vf, vt]): MirrorRow => ({
      objectId: "a",
      registreringFra: rf,
      registreringTil: rt !== null && rt < rf ? rf : rt,
      virkningFra: vf,
      virkningTil: vt !== null && vf !== null && vt < vf ? vf : vt,
      data: "{}",
      key: JSON.stringify([rf, vf])
    }))
    const overlaps = (aF: string | null, aT: string | null, bF: string | null, bT: string | null) => (aF === null || bT === null || aF < bT) && (bF === null || aT === null || bF < aT)
    fc.assert(
      fc.property(fc.array(rowOf, { maxLength: 7 }), fc.array(rowOf, { maxLength: 7 }), (held, upstream) => {
        const stored = [...new Map(held.map((r) => [r.key, r])).values()].map((r, i): StoredMirrorRow => ({ ...r, id: i + 1 }))
        const plan = planMirror(stored, upstream, { complete: false, checkOverlaps: true })
        const closedAt = new Map(plan.close.map((c) => [c.id, c.at]))
        const after = [...stored.map((r) => ({ ...r, registreringTil: closedAt.get(r.id) ?? r.registreringTil, fresh: closedAt.has(r.id) })), ...plan.insert.map((r) => ({ ...r, fresh: true }))]
        const expected: Array<string> = []
        after.forEach((a, i) =>
          after.slice(i + 1).forEach((b) => {
            const visible = a.registreringTil !== a.registreringFra && b.registreringTil !== b.registreringFra
            if ((a.fresh || b.fresh) && visible && overlaps(a.registreringFra, a.registreringTil, b.registreringFra, b.registreringTil) && overlaps(a.virkningFra, a.virkningTil, b.virkningFra, b.virkningTil)) {
              expected.push(`row registreringFra ${a.registreringFra}, virkningFra ${a.virkningFra ?? "open"} and row registreringFra ${b.registreringFra}, virkningFra ${b.virkningFra ?? "open"} hold the same instants`)
            }
          })
        )
        expect(plan.anomalies.filter((a) => a.kind === "overlap").map((a) => a.detail)).toEqual(expected)
      }),
      { numRuns: 3000 }
    )
  })

  it("decodes REST rows exactly: omitted ends are open, local offsets, 7 digits truncated, placeholder dates", () => {
    const rest = JSON.parse(readFileSync(new URL("../fixtures/datafordeler/postnummer.json", import.meta.url), "utf8")) as Array<unknown>
    const r = d(rest[0] as Record<string, unknown>)
    expect([r.registreringFra, r.registreringTil, r.virkningTil]).toEqual([instant("2023-03-24T18:36:14.484899Z"), null, null])
    expect(JSON.parse(r.data)).not.toHaveProperty("datafordelerOpdateringstid")
    expect(d(row({ registreringFra: "2020-01-01T00:00:00.1234567+02:00" })).registreringFra).toBe("2019-12-31T22:00:00.123456Z" as Instant)
    expect(d(row({ virkningFra: "1753-01-01T00:00:00Z" })).virkningFra).toBe("1753-01-01T00:00:00.000000Z")
  })

  it("a row's data is the canonical JSON of its content, however its keys come and whatever rows of the shape came before", () => {
    // The content as it has always been taken: every field but the instants, volatile and bookkeeping ones, canonical JSON.
    const contentOf = (raw: Record<string, unknown>, shape: RowShape) =>
      canonicalJson(Object.fromEntries(Object.entries(raw).filter(([k]) => ![shape.registreringFra, shape.registreringTil, shape.virkningFra, shape.virkningTil, ...shape.volatile].includes(k) && shape.bookkeeping?.(k) !== true)))
    const key = fc.constantFrom("status", "adressebetegnelse", "b", "a", "10", "2", "æble", "datafordelerRowId", "datafordelerOpdateringstid", "datafordelerFoo", "z", "__proto__")
    const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.dictionary(fc.constantFrom("y", "x", "1"), fc.integer()), fc.array(fc.integer(), { maxLength: 2 }))
    const raw = fc.tuple(fc.array(fc.tuple(key, value), { maxLength: 8 }), fc.boolean()).map(([fields, reversed]) => {
      const r: Record<string, unknown> = {}
      const all: Array<[string, unknown]> = [["id_lokalId", "a"], ["registreringFra", "2020-01-01T00:00:00Z"], ...fields]
      for (const [k, v] of reversed ? all.reverse() : all) Object.defineProperty(r, k, { value: v, enumerable: true, writable: true, configurable: true })
      return r
    })
    const shapes = [DATAFORDELER_SHAPE, withFields(DATAFORDELER_SHAPE, { drop: ["b"] })]
    fc.assert(
      fc.property(fc.array(fc.tuple(raw, fc.integer({ min: 0, max: 1 })), { minLength: 1, maxLength: 6 }), (rows) => {
        for (const [r, i] of rows) {
          const shape = shapes[i]!
          const expected = i === 0 ? contentOf(r, shape) : canonicalJson(JSON.parse(contentOf(Object.fromEntries(Object.entries(r).filter(([k]) => k !== "b")), shape)))
          expect(decode(r, shape).data).toBe(expected)
        }
      }),
      { numRuns: 3000 }
    )
  })

  it("decodes a live DAR adresse answer: Danish keys kept, nested objects part of the content, their own times not the row's", () => {
    const rest = JSON.parse(readFileSync(new URL("../fixtures/datafordeler/adresse.json", import.meta.url), "utf8")) as Array<Record<string, unknown>>
    const r = d(rest[0]!)
    expect(r.objectId).toBe(rest[0]!.id_lokalId)
    expect(r.registreringTil).toBeNull()
    const data = JSON.parse(r.data) as Record<string, unknown>
    expect(Object.keys(data)).toEqual(expect.arrayContaining(["dørbetegnelse", "forretningshændelse", "husnummer"]))
    expect(data).not.toHaveProperty("registreringFra")
    expect((data.husnummer as Record<string, unknown>).registreringFra).toBeDefined()
  })
})
