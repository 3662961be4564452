/**
 * The mirror write path: real DAR histories replayed instant by instant end equal
 * to upstream row for row and answer as-of questions as upstream would; anomalies
 * are recorded and listed, not obeyed; only real changes reach the outbox; future
 * validity gets its activations.
 */
import { Effect, Option } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { fromEpochMillis, instant } from "../../../src/domain/core/Instant.js"
import { decodeMirrorRow, type MirrorRow, type RowShape } from "../../../src/domain/core/Mirror.js"
import { DATAFORDELER_SHAPE } from "../../../src/domain/datafordeler/DatafordelerRows.js"
import { ActivationStore } from "../../../src/store/Activations.js"
import { type MirrorItem, MirrorStore } from "../../../src/store/Mirror.js"
import { OutboxStore } from "../../../src/store/Outbox.js"
import { Store } from "../../../src/store/Store.js"
import { sharedStore, type StoreBackend } from "./backend.js"

const DAWA_SHAPE: RowShape = { id: "id", registreringFra: "registreringfra", registreringTil: "registreringtil", virkningFra: "virkningfra", virkningTil: "virkningtil", identity: [], volatile: ["eventopdater"] }

const decode = (raw: unknown, shape: RowShape): MirrorRow => {
  const row = decodeMirrorRow(raw, shape, "UTC")
  if ("reason" in row) throw new Error(row.reason)
  return row
}

export const mirrorContract = (backend: StoreBackend) =>
  describe(`${backend.name}: mirror into the store`, () => {
    const run = sharedStore(backend)
    const item = (objectType: string, objectId: string, rows: ReadonlyArray<MirrorRow>, complete = true): MirrorItem => ({ objectType, objectId, rows, complete, identity: [], checkOverlaps: true })
    const mirror = (items: ReadonlyArray<MirrorItem>, eventId = "ev") => run(Effect.flatMap(MirrorStore, (m) => m.mirror("test", eventId, items)))
    const outboxSize = () => run(Effect.flatMap(OutboxStore, (o) => o.size))
    const history = (objectType: string, objectId: string) => run(Effect.flatMap(Store, (s) => s.history(objectType, objectId)))
    const anomalyCount = () => run(Effect.flatMap(MirrorStore, (m) => m.anomalyCount))

    it("replays real Postnummer histories: the store ends equal to upstream and answers as upstream would", async () => {
      const raw = readFileSync(new URL("../../fixtures/datafordeler/Postnummer.ndjson", import.meta.url), "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)
      const rows = raw.map((r) => decode(r, DAWA_SHAPE))
      const instants = [...new Set(rows.flatMap((r) => [r.registreringFra, r.registreringTil]).filter((t) => t !== null))].sort()
      const ids = [...new Set(rows.map((r) => r.objectId))]
      const outboxBefore = await outboxSize()
      for (const t of instants) {
        const items = ids.map((id) =>
          item("dar.postnummer", id, rows.filter((r) => r.objectId === id && r.registreringFra <= t!).map((r) => (r.registreringTil !== null && r.registreringTil > t! ? { ...r, registreringTil: null } : r)))
        ).filter((i) => i.rows.length > 0)
        await mirror(items, `t-${t}`)
      }
      for (const id of ids) {
        const stored = (await history("dar.postnummer", id)).map((r) => [r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil])
        const upstream = rows.filter((r) => r.objectId === id).map((r) => [r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil])
        expect(stored.sort()).toEqual(upstream.sort())
      }
      // As-of: København SV's name before and after its 2018-07-13 update, as the rows say.
      const sv = "054c67fa-1e94-47eb-b468-03ac335195de"
      const at = (r: string, v: string) =>
        run(Effect.flatMap(Store, (s) => s.asOf({ objectType: "dar.postnummer", objectId: sv, registreringstid: instant(r), virkningstid: instant(v) }))).then((row) =>
          row.pipe(Option.map((row) => (row.data as { navn: string }).navn), Option.getOrNull)
        )
      const svRows = rows.filter((r) => r.objectId === sv)
      const closedAt = svRows.find((r) => r.registreringTil !== null)!.registreringTil!
      expect(await at(closedAt, closedAt)).toBe((JSON.parse(svRows.find((r) => r.registreringFra === closedAt && r.virkningTil === null)!.data) as { navn: string }).navn)
      expect(await outboxSize()).toBeGreaterThan(outboxBefore)

      // Mirroring the final state again writes nothing and notifies nobody.
      const outboxAfter = await outboxSize()
      const again = await mirror(ids.map((id) => item("dar.postnummer", id, rows.filter((r) => r.objectId === id))))
      expect(again.every((r) => r.inserted === 0 && r.closed === 0 && r.anomalies === 0)).toBe(true)
      expect(await outboxSize()).toBe(outboxAfter)
    })

    it("records a history rewrite as an anomaly, keeps its own row, and lists it", async () => {
      const base = { id_lokalId: "v1", registreringFra: "2020-01-01T00:00:00+01:00", virkningFra: "2020-01-01T00:00:00+01:00", navn: "Grøndahl" }
      await mirror([item("dar.vej", "v1", [decode(base, DATAFORDELER_SHAPE)])])
      const before = await anomalyCount()
      const [result] = await mirror([item("dar.vej", "v1", [decode({ ...base, navn: "Grøndal" }, DATAFORDELER_SHAPE)])])
      expect(result).toMatchObject({ inserted: 0, closed: 0, anomalies: 1 })
      expect(((await history("dar.vej", "v1"))[0]!.data as { navn: string }).navn).toBe("Grøndahl")
      const listed = await run(Effect.flatMap(MirrorStore, (m) => m.anomalies({ after: 0, limit: 100, objectType: "dar.vej" })))
      expect(await anomalyCount()).toBe(before + 1)
      expect(listed.at(-1)).toMatchObject({ kind: "rewrite", objectId: "v1", source: "test" })
    })

    it("rows true as of an instant before a held row's close (an event's inline rows read again) show no reopen; at or after it they do", async () => {
      const first = { id_lokalId: "v2", registreringFra: "2020-01-01T00:00:00Z", virkningFra: "2020-01-01T00:00:00Z", navn: "A" }
      const open = decode(first, DATAFORDELER_SHAPE)
      const asOf = (rows: ReadonlyArray<MirrorRow>, at: string): MirrorItem => ({ ...item("dar.vej", "v2", rows, false), checkOverlaps: false, asOf: instant(at) })
      await mirror([asOf([open], "2020-01-01T00:00:00Z")])
      await mirror([asOf([decode({ ...first, registreringTil: "2021-01-01T00:00:00Z" }, DATAFORDELER_SHAPE), decode({ ...first, registreringFra: "2021-01-01T00:00:00Z", navn: "B" }, DATAFORDELER_SHAPE)], "2021-01-01T00:00:00Z")])
      const before = await anomalyCount()
      expect((await mirror([asOf([open], "2020-01-01T00:00:00Z")]))[0]).toMatchObject({ inserted: 0, closed: 0, unchanged: 1, anomalies: 0 })
      expect(await anomalyCount()).toBe(before)
      expect((await mirror([asOf([open], "2021-01-01T00:00:00Z")]))[0]).toMatchObject({ anomalies: 1 })
      expect((await history("dar.vej", "v2")).map((r) => r.registreringTil)).toEqual([instant("2021-01-01T00:00:00Z"), null])
    })

    it("tells the rows held for several objects at once, each by its identity with its registreringTil; none for an object not held", async () => {
      const first = { id_lokalId: "h1", registreringFra: "2020-01-01T00:00:00Z", virkningFra: "2020-01-01T00:00:00Z", navn: "A", status: "3" }
      const closed = decode({ ...first, registreringTil: "2021-01-01T00:00:00Z" }, DATAFORDELER_SHAPE)
      const next = decode({ ...first, registreringFra: "2021-01-01T00:00:00Z", navn: "B" }, DATAFORDELER_SHAPE)
      const other = decode({ ...first, id_lokalId: "h2" }, DATAFORDELER_SHAPE)
      await mirror([item("dar.held", "h1", [closed, next]), item("dar.held", "h2", [other])])
      const held = await run(Effect.flatMap(MirrorStore, (m) => m.heldRows("dar.held", ["h2", "h1", "h3"], ["status"])))
      const keyOf = (r: MirrorRow) => JSON.stringify([r.registreringFra, r.virkningFra, "3"])
      expect([...held.keys()].sort()).toEqual(["h1", "h2", "h3"])
      expect(held.get("h1")).toEqual(new Map([[keyOf(closed), instant("2021-01-01T00:00:00Z")], [keyOf(next), null]]))
      expect(held.get("h2")).toEqual(new Map([[keyOf(other), null]]))
      expect(held.get("h3")!.size).toBe(0)
    })

    it("holds activations for a mirrored current row's future validity, none for closed history", async () => {
      const future = fromEpochMillis(Date.now() + 86_400_000 * 30)
      const rows = [
        decode({ id_lokalId: "f1", registreringFra: "2020-01-01T00:00:00Z", registreringTil: "2021-01-01T00:00:00Z", virkningFra: "2020-01-01T00:00:00Z", virkningTil: future, navn: "closed" }, DATAFORDELER_SHAPE),
        decode({ id_lokalId: "f1", registreringFra: "2021-01-01T00:00:00Z", virkningFra: "2020-01-01T00:00:00Z", virkningTil: future, navn: "current" }, DATAFORDELER_SHAPE)
      ]
      await mirror([item("dar.vej", "f1", rows)])
      const pending = await run(Effect.flatMap(ActivationStore, (a) => a.list({ from: null, to: null, limit: 100, objectType: "dar.vej", status: "pending" })))
      expect(pending.map((a) => [a.objectId, a.kind, a.at])).toEqual([["f1", "ended", future]])
    })
  })
