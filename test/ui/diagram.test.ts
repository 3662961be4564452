/**
 * The diagram's geometry without a browser: the two worked examples of the Datafordeler documentation as
 * rectangles (their tables read as pictures), open ends, equal instants, colours, and the way back from a
 * screen point to the instant pair and the row in force there.
 */
import { describe, expect, it } from "vitest"
import { instant } from "../../src/domain/core/Instant.js"
import { canonical, type Diagram, diagramOf, type DiagramRow, fromPx, inkOn, instantsAt, legendOf, letterOf, makeScale, MIN_EMPTY_WIDTH, PALETTE, rowsAt, shortInstant, ticksOf, toPx, formatTick } from "../../src/ui/Diagram.js"
import { diffData, registrationsOf } from "../../src/ui/Registrations.js"
import { EMPTY, formatState, parseState } from "../../src/ui/UiState.js"

const t = (date: string) => `${date}T00:00:00.000000Z`
const row = (id: number, navn: string, regFra: string, regTil: string | null, virkFra: string | null, virkTil: string | null): DiagramRow => ({
  id,
  registreringFra: t(regFra),
  registreringTil: regTil === null ? null : t(regTil),
  virkningFra: virkFra === null ? null : t(virkFra),
  virkningTil: virkTil === null ? null : t(virkTil),
  data: { navn }
})

/** Correction, no change of validity (object xxxx). */
export const XXXX = [row(1, "Grøndahl", "2016-09-01", "2016-09-07", "2016-10-01", null), row(2, "Grøndal", "2016-09-07", null, "2016-10-01", null)]
/** Change with validity from 2017-02-01, registered 2017-01-04 (object yyyy). */
export const YYYY = [
  row(3, "Aabakke", "2016-11-01", "2017-01-04", "2016-12-01", null),
  row(4, "Aabakke", "2017-01-04", null, "2016-12-01", "2017-02-01"),
  row(5, "Åbakke", "2017-01-04", null, "2017-02-01", null)
]

const SIZE = { width: 800, height: 400, margin: { left: 100, right: 20, top: 20, bottom: 60 } }
// The plot: x from 100 to 780, y from 20 (top) to 340 (bottom); open ends get 22% of it past the named instants, closed sides 4%.
const rectOf = (d: Diagram, id: number) => d.rects.find((r) => r.rowId === id)!
const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-6)

describe("the worked examples as pictures", () => {
  it("a correction: two rectangles side by side over the same validity, the first closed, the second open to the right; both open upwards", () => {
    const d = diagramOf(XXXX, SIZE)
    expect(d.rects).toHaveLength(2)
    const [r1, r2] = [rectOf(d, 1), rectOf(d, 2)]
    // Registreringstid 2016-09-01 → 2016-09-07 fills the inner plot (100 + 4% … 780 − 22%); row 2 runs on to the right edge.
    near(r1.screen.x, 127.2)
    near(r1.screen.x + r1.screen.width, 630.4)
    near(r2.screen.x, 630.4)
    near(r2.screen.x + r2.screen.width, 780)
    // Same virkning [2016-10-01, ∞): the same bottom, both reaching the top edge.
    expect(r1.screen.y).toBe(20)
    expect(r2.screen.y).toBe(20)
    near(r1.screen.y + r1.screen.height, r2.screen.y + r2.screen.height)
    near(r1.screen.y + r1.screen.height, 327.2) // one virkning instant, every row running up from it: at the foot of the inner plot (4% up)
    expect([r1.openRight, r1.openTop, r1.openBottom]).toEqual([false, true, false])
    expect([r2.openRight, r2.openTop, r2.openBottom]).toEqual([true, true, false])
    expect(r1.key).not.toBe(r2.key)
    expect(d.xTicks.map((tick) => tick.label)).toEqual(["2016-09-01", "2016-09-07"])
    expect(d.yTicks.map((tick) => tick.label)).toEqual(["2016-10-01"])
  })

  it("a change with a later validity: the first row's rectangle, then on 2017-01-04 the old value below 2017-02-01 and the new one above, both open to the right", () => {
    const d = diagramOf(YYYY, SIZE)
    expect(d.rects).toHaveLength(3)
    const [r3, r4, r5] = [rectOf(d, 3), rectOf(d, 4), rectOf(d, 5)]
    const x = (date: string) => toPx(d.x, Date.parse(date))
    const y = (date: string) => toPx(d.y, Date.parse(date))
    near(r3.screen.x, x("2016-11-01"))
    near(r3.screen.x + r3.screen.width, x("2017-01-04"))
    near(r4.screen.x, x("2017-01-04"))
    near(r5.screen.x, x("2017-01-04"))
    near(r4.screen.x + r4.screen.width, 780)
    near(r5.screen.x + r5.screen.width, 780)
    // Row 3 from 2016-12-01 to the top; row 4 from 2016-12-01 up to 2017-02-01, where row 5 begins.
    near(r3.screen.y + r3.screen.height, y("2016-12-01"))
    expect(r3.screen.y).toBe(20)
    near(r4.screen.y + r4.screen.height, y("2016-12-01"))
    near(r4.screen.y, y("2017-02-01"))
    near(r5.screen.y + r5.screen.height, y("2017-02-01"))
    expect(r5.screen.y).toBe(20)
    expect(y("2017-02-01")).toBeLessThan(y("2016-12-01")) // virkningstid runs up
    // Aabakke (rows 3 and 4) one colour, Åbakke another.
    expect(r3.key).toBe(r4.key)
    expect(r5.key).not.toBe(r3.key)
    expect(d.legend.map((e) => [e.letter, e.value, e.rowIds])).toEqual([
      ["A", canonical({ navn: "Aabakke" }), [3, 4]],
      ["B", canonical({ navn: "Åbakke" }), [5]]
    ])
    expect([r4.openRight, r4.openTop, r5.openTop]).toEqual([true, false, true])
  })

  it("a click answers the row the half-open rule gives: the point's instants, back through the scales", () => {
    const d = diagramOf(YYYY, SIZE)
    const r5 = rectOf(d, 5)
    const at = instantsAt(d, r5.screen.x + r5.screen.width / 2, r5.screen.y + r5.screen.height / 2)
    expect(rowsAt(YYYY, instant(at.registreringstid), instant(at.virkningstid)).map((r) => r.id)).toEqual([5])
    // The documentation's question: as registered on 2017-01-05, about 2017-03-01 → Åbakke; as registered 2017-01-03 → Aabakke.
    expect(rowsAt(YYYY, t("2017-01-05"), t("2017-03-01")).map((r) => r.id)).toEqual([5])
    expect(rowsAt(YYYY, t("2017-01-03"), t("2017-03-01")).map((r) => r.id)).toEqual([3])
    // At exactly registreringTil the closed row is not seen; at exactly virkningTil neither.
    expect(rowsAt(YYYY, t("2017-01-04"), t("2017-02-01")).map((r) => r.id)).toEqual([5])
    expect(rowsAt(YYYY, t("2017-01-04"), t("2016-11-30")).map((r) => r.id)).toEqual([])
  })
})

describe("open ends, equal instants, scales", () => {
  it("a row open on every side fills the plot; a row open below reaches the bottom edge", () => {
    const d = diagramOf([row(1, "a", "2020-01-01", null, null, null)], SIZE)
    expect(d.rects[0]!.screen).toEqual({ x: 127.2, y: 20, width: 652.8, height: 320 })
    expect([d.rects[0]!.openRight, d.rects[0]!.openTop, d.rects[0]!.openBottom]).toEqual([true, true, true])
    expect(d.yTicks).toEqual([])
    const below = diagramOf([row(1, "a", "2020-01-01", null, null, "2020-06-01")], SIZE).rects[0]!
    expect(below.openBottom).toBe(true)
    expect(below.screen.y + below.screen.height).toBe(340)
  })

  it("a row registered and closed at one instant (visible to no query) is a hairline, flagged empty; equal instants share one tick", () => {
    const rows = [row(1, "a", "2020-01-01", "2020-01-01", "2020-01-01", null), row(2, "b", "2020-01-01", null, "2020-01-01", null)]
    const d = diagramOf(rows, SIZE)
    expect(rectOf(d, 1).empty).toBe(true)
    expect(rectOf(d, 1).screen.width).toBe(MIN_EMPTY_WIDTH)
    expect(rectOf(d, 2).empty).toBe(false)
    expect(d.xTicks).toHaveLength(1)
    expect(rowsAt(rows, t("2020-01-01"), t("2020-02-01")).map((r) => r.id)).toEqual([2])
  })

  it("a chosen instant beyond the plot widens its axis to it; one within (a click) leaves the picture as it was", () => {
    const plain = diagramOf(YYYY, SIZE)
    const far = diagramOf(YYYY, { ...SIZE, focus: { registreringstid: "2017-01-05", virkningstid: "2017-03-01" } })
    expect(far.y.hi).toBeGreaterThanOrEqual(Date.parse("2017-03-01"))
    expect(far.yTicks.map((tick) => tick.at)).toContain(t("2017-03-01"))
    expect(far.x).toEqual(plain.x) // 2017-01-05 was within
    const within = instantsAt(plain, 700, 100)
    expect(diagramOf(YYYY, { ...SIZE, focus: within }).rects).toEqual(plain.rects)
  })

  it("a clicked instant is written short: a date at midnight, whole seconds without a fraction", () => {
    expect(shortInstant(instant("2017-01-05"))).toBe("2017-01-05")
    expect(shortInstant(instant("2017-01-05T10:20:30Z"))).toBe("2017-01-05T10:20:30Z")
    expect(shortInstant(instant("2017-01-05T10:20:30.5Z"))).toBe("2017-01-05T10:20:30.500000Z")
  })

  it("tick labels: a date at midnight, else date and time; one that would overlap the last shown is left out (x: side by side; y: stacked)", () => {
    expect([formatTick(Date.parse("2017-01-04")), formatTick(Date.parse("2017-01-04T10:20:30Z")), formatTick(Date.parse("2017-01-04T10:20:30.250Z"))]).toEqual([
      "2017-01-04",
      "2017-01-04 10:20:30",
      "2017-01-04 10:20:30.250"
    ])
    const values = [Date.parse("2017-01-01"), Date.parse("2017-01-02"), Date.parse("2017-01-20")]
    const across = ticksOf(makeScale("time", values, 0, 500, 1), values, "x")
    expect(across.map((tick) => tick.label)).toEqual(["2017-01-01", "", "2017-01-20"]) // 2017-01-02 is 26 px on: too close
    const up = ticksOf(makeScale("time", values, 500, 0, 1), values, "y")
    expect(up.map((tick) => tick.label)).toEqual(["2017-01-01", "2017-01-02", "2017-01-20"]) // 26 px apart stack fine
  })

  it("the even scale spaces distinct instants equally and maps back exactly", () => {
    const values = [Date.parse("1990-01-01"), Date.parse("2026-01-01"), Date.parse("2026-01-01T00:00:01Z")]
    const s = makeScale("even", values, 0, 1000, 86_400_000)
    const px = values.map((v) => toPx(s, v))
    near(px[1]! - px[0]!, px[2]! - px[1]!)
    for (const v of values) near(fromPx(s, toPx(s, v)), v)
    const time = makeScale("time", values, 0, 1000, 86_400_000)
    expect(toPx(time, values[2]!) - toPx(time, values[1]!)).toBeLessThan(0.001)
    // A y scale runs the other way (pixels down, time up) and maps back just as well.
    const up = makeScale("even", values, 1000, 0, 86_400_000)
    expect(toPx(up, values[0]!)).toBeGreaterThan(toPx(up, values[2]!))
    for (const v of values) near(fromPx(up, toPx(up, v)), v)
  })
})

describe("colours", () => {
  it("one colour per distinct value (key order ignored), Okabe–Ito first, then patterns; letters past Z go on", () => {
    const rows = Array.from({ length: 9 }, (_, i) => row(i + 1, `v${i}`, `2020-01-0${i + 1}`, null, null, null))
    const legend = legendOf([...rows, { ...row(10, "x", "2020-01-09", null, null, null), data: { b: 1, a: 2 } }, { ...row(11, "x", "2020-01-09", null, null, null), data: { a: 2, b: 1 } }])
    expect(legend).toHaveLength(10)
    expect(legend.slice(0, 7).map((e) => e.colour)).toEqual(PALETTE)
    expect(legend.slice(0, 7).every((e) => e.pattern === "solid")).toBe(true)
    expect(legend[7]!.pattern).toBe("hatch")
    expect(legend[9]!.rowIds).toEqual([10, 11])
    expect([letterOf(0), letterOf(25), letterOf(26), letterOf(27)]).toEqual(["A", "Z", "AA", "AB"])
  })

  it("labels are black on light fills and white on dark ones", () => {
    expect(inkOn("#F0E442")).toBe("#000000")
    expect(inkOn("#0072B2")).toBe("#FFFFFF")
  })
})

describe("registrations and their diffs", () => {
  it("the change example: on 2017-01-04 row 3 closed, row 4 re-registers Aabakke below 2017-02-01 (no data change), row 5 changes navn", () => {
    const regs = registrationsOf(YYYY)
    expect(regs.map((r) => r.registreringFra)).toEqual([t("2016-11-01"), t("2017-01-04")])
    const second = regs[1]!
    expect(second.closed.map((r) => r.id)).toEqual([3])
    expect(second.added.map((a) => [a.row.id, a.replaces.map((r) => r.id), a.changes.flatMap((c) => c.fields)])).toEqual([
      [4, [3], []],
      [5, [3], [{ path: "navn", before: '"Aabakke"', after: '"Åbakke"' }]]
    ])
  })

  it("a retract of everything is a registration with closed rows and none added", () => {
    const regs = registrationsOf([row(1, "a", "2020-01-01", "2020-02-01", null, null)])
    expect(regs.map((r) => [r.registreringFra, r.closed.map((c) => c.id), r.added.map((a) => a.row.id)])).toEqual([
      [t("2020-01-01"), [], [1]],
      [t("2020-02-01"), [1], []]
    ])
  })

  it("diffs nested fields, added and removed ones", () => {
    expect(diffData({ a: 1, n: { x: 1, y: 2 }, gone: true }, { a: 1, n: { x: 2, y: 2 }, new: [1] })).toEqual([
      { path: "gone", before: "true", after: undefined },
      { path: "n.x", before: "1", after: "2" },
      { path: "new", before: undefined, after: "[1]" }
    ])
    expect(diffData("a", "b")).toEqual([{ path: "", before: '"a"', after: '"b"' }])
  })
})

describe("the page's URL", () => {
  it("round-trips the view, object and instant pair, leaving defaults out, and ignores what it does not know", () => {
    const state = { ...EMPTY, objectType: "vej", objectId: "yyyy", registreringstid: "2017-01-05", virkningstid: "2017-03-01", scale: "even" as const }
    const hash = formatState(state)
    expect(hash).toBe("#type=vej&id=yyyy&registreringstid=2017-01-05&virkningstid=2017-03-01&scale=even")
    expect(parseState(hash)).toEqual(state)
    expect(parseState("#view=nonsense&stuckAfter=-3&token=x")).toEqual(EMPTY)
    expect(formatState(EMPTY)).toBe("")
  })
})
