/** Folding decoded PULL/PUSH events per object: duplicates by envelope Id or beskedID, inline rows, unconfigured types. */
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { decodePullEnvelope, type PullEvent } from "../../../src/domain/datafordeler/DatafordelerEvents.js"
import { instant } from "../../../src/domain/core/Instant.js"
import { DafSourceSchema } from "../../../src/sources/datafordeler/DafConfig.js"
import { eventFold, heldRowsShow, letGoInline } from "../../../src/sources/datafordeler/PointerEvents.js"

const source = Schema.decodeUnknownSync(DafSourceSchema)({ kind: "datafordeler", name: "dar", push: { port: 1 }, entities: { Adresse: { objectType: "dar.adresse", rest: "http://x/{id}" } } })

const envelope = (id: number, beskedID: string, objektID: string, registreringstid: string, objekttype = "Adresse", rows?: Array<Record<string, unknown>>) =>
  decodePullEnvelope({
    Id: id,
    Message: {
      Grunddatabesked: {
        Hændelsesbesked: {
          beskedID,
          Beskedkuvert: { Filtreringsdata: { beskedtype: `${objekttype}Update`, Objektregistrering: [{ objektID, objekttype, registreringstid }] } },
          Beskeddata: rows === undefined ? [{ Objektreference: { objektreference: objektID } }] : rows.map((r) => ({ Objektdata: r }))
        }
      }
    }
  }) as PullEvent

describe("folding events per object", () => {
  it("takes an event once, whether it comes again under its envelope Id or its beskedID; keeps the newest registration", () => {
    const fold = eventFold(source)
    fold.take(envelope(1, "b-1", "a", "2026-01-01T10:00:00Z"))
    fold.take(envelope(1, "b-1", "a", "2026-01-01T10:00:00Z")) // the same envelope (an overlapping window)
    fold.take(envelope(7, "b-1", "a", "2026-01-01T10:00:00Z")) // the same message in another envelope
    fold.take(envelope(2, "b-2", "a", "2026-01-02T10:00:00Z"))
    fold.take(envelope(3, "b-3", "x", "2026-01-02T10:00:00Z", "Husnummer")) // not configured
    expect(fold.events()).toBe(3)
    expect([...fold.wanted.values()].map((w) => [w.entity, w.objectId, w.newest])).toEqual([["Adresse", "a", instant("2026-01-02T10:00:00Z")]])
    expect([fold.wanted.size, fold.wanted.get("Husnummer", "x")]).toEqual([1, undefined])
    // A pointer event: the object is fetched (no inline rows).
    expect(fold.wanted.get("Adresse", "a")!.inline).toBeNull()
  })

  it("uses inline rows only when every event of the object carries readable ones", () => {
    const row = { id_lokalId: "a", registreringFra: "2026-01-01T10:00:00Z", virkningFra: "2026-01-01T00:00:00Z", navn: "Åbakke" }
    const fold = eventFold(source)
    fold.take(envelope(1, "b-1", "a", "2026-01-01T10:00:00Z", "Adresse", [row]))
    expect(fold.wanted.get("Adresse", "a")!.inline!.size).toBe(1)
    fold.take(envelope(2, "b-2", "a", "2026-01-02T10:00:00Z", "Adresse", [{ ...row, registreringFra: "not a time" }]))
    expect(fold.wanted.get("Adresse", "a")!.inline).toBeNull()
  })

  it("hands over inline rows not yet mirrored with the instant they are true as of; an object drained stays inline and gathers again", () => {
    const row = (registreringFra: string, over: Record<string, unknown> = {}) => ({ id_lokalId: "a", registreringFra, virkningFra: "2026-01-01T00:00:00Z", navn: "Å", ...over })
    const fold = eventFold(source)
    fold.take(envelope(1, "b-1", "a", "2026-01-01T10:00:00Z", "Adresse", [row("2026-01-01T10:00:00Z")]))
    fold.take(envelope(2, "b-2", "a", "2026-01-02T10:00:00Z", "Adresse", [row("2026-01-01T10:00:00Z", { registreringTil: "2026-01-02T10:00:00Z" }), row("2026-01-02T10:00:00Z")]))
    expect(fold.inlineRows()).toBe(2)
    const drained = fold.drainInline()
    expect(drained.map((w) => [w.objectId, w.inline!.size, w.inlineAsOf])).toEqual([["a", 2, instant("2026-01-02T10:00:00Z")]])
    expect([fold.inlineRows(), fold.drainInline()]).toEqual([0, []])
    letGoInline(drained[0]!) // as mirrorInline does
    // A later event's rows: the object is handed over again, as of that event alone.
    fold.take(envelope(3, "b-3", "a", "2026-01-03T10:00:00Z", "Adresse", [row("2026-01-03T10:00:00Z")]))
    const again = fold.drainInline()
    expect(again.map((w) => [w.inline!.size, w.inlineAsOf])).toEqual([[1, instant("2026-01-03T10:00:00Z")]])
    letGoInline(again[0]!)
    // An event without a registreringstid leaves the rows as of no known instant (the mirror's rule without asOf).
    fold.take(envelope(6, "b-6", "b", undefined as unknown as string, "Adresse", [row("2026-01-01T10:00:00Z", { id_lokalId: "b" })]))
    fold.take(envelope(7, "b-7", "b", "2026-01-02T10:00:00Z", "Adresse", [row("2026-01-02T10:00:00Z", { id_lokalId: "b" })]))
    expect(fold.wanted.get("Adresse", "b")!.inlineAsOf).toBeNull()
    for (const w of fold.drainInline()) letGoInline(w)
    // An object that turns fetched (an event without rows) takes its rows with it.
    fold.take(envelope(4, "b-4", "a", "2026-01-04T10:00:00Z", "Adresse", [row("2026-01-04T10:00:00Z")]))
    fold.take(envelope(5, "b-5", "a", "2026-01-05T10:00:00Z"))
    expect(fold.inlineRows()).toBe(0)
    expect(fold.wanted.get("Adresse", "a")!.inline).toBeNull()
  })

  it("leaves an object alone only when the rows held show exactly every registration announced, and no close is missing", () => {
    const t = (s: string) => instant(`2026-01-0${s}T10:00:00Z`)
    // Registered at 1, changed at 2 (row a closed, b and c registered).
    const held = [
      { registreringFra: t("1"), registreringTil: t("2"), virkningFra: null, virkningTil: null },
      { registreringFra: t("2"), registreringTil: null, virkningFra: null, virkningTil: t("5") },
      { registreringFra: t("2"), registreringTil: null, virkningFra: t("5"), virkningTil: null }
    ]
    expect(heldRowsShow(held, new Set([t("1")]))).toBe(true)
    expect(heldRowsShow(held, new Set([t("1"), t("2")]))).toBe(true)
    // A registration we hold no row of (a later one, or one between) is fetched.
    expect(heldRowsShow(held, new Set([t("3")]))).toBe(false)
    expect(heldRowsShow(held, new Set([instant("2026-01-01T12:00:00Z")]))).toBe(false)
    expect(heldRowsShow(held, new Set())).toBe(false)
    // Fetched while the data service showed change 2's rows but not yet its close of row a: fetched again.
    const closeMissing = [{ ...held[0]!, registreringTil: null }, held[1]!, held[2]!]
    expect(heldRowsShow(closeMissing, new Set([t("2")]))).toBe(false)
  })
  it("keeps a row's close whatever order its events came in (a row only ever goes from open to closed)", () => {
    const r1 = { id_lokalId: "a", registreringFra: "2026-01-01T10:00:00Z", virkningFra: "2026-01-01T00:00:00Z", navn: "Aabakke" }
    const r2 = { id_lokalId: "a", registreringFra: "2026-01-02T10:00:00Z", virkningFra: "2026-01-01T00:00:00Z", navn: "Åbakke" }
    const closed = { ...r1, registreringTil: "2026-01-02T10:00:00Z" }
    for (const order of [[closed, r1], [r1, closed]]) {
      const fold = eventFold(source)
      // The change (close r1, insert r2) and the creation (r1 open), in either order.
      const events = order.map((r, i) => (r === closed ? envelope(10 + i, `c-${i}`, "a", "2026-01-02T10:00:00Z", "Adresse", [closed, r2]) : envelope(10 + i, `c-${i}`, "a", "2026-01-01T10:00:00Z", "Adresse", [r1])))
      for (const e of events) fold.take(e)
      // Packed rows: registreringFra, then registreringTil (empty when open).
      const open = [...fold.wanted.get("Adresse", "a")!.inline!.values()].map((packed) => packed.split("\t")).filter((f) => f[1] === "")
      expect(open.map((f) => f[0])).toEqual(["2026-01-02T10:00:00.000000Z"])
    }
  })
})
