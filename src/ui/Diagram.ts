/**
 * The geometry of the bitemporal diagram, pure: an object's rows in, rectangles out — in data space
 * (epoch milliseconds on both axes, `null` for an open end) and in screen space (SVG pixels). The page
 * only draws what this computes, so the pictures are tested without a browser.
 *
 * Registreringstid runs across, virkningstid up; a row is the rectangle
 * `[registreringFra, registreringTil) × [virkningFra, virkningTil)`. An open end runs to the edge of the
 * plot, past the last instant any row names (a fifth of the plot is kept for it), and is flagged so the page
 * marks it open. Each distinct
 * `data` value (canonical JSON) gets one colour of the Okabe–Ito palette (distinguishable with the common
 * colour-vision deficiencies) and a letter; past seven values a hatch or dot pattern tells them apart too.
 *
 * Two scales: `time` (linear: distances are durations) and `even` (every distinct instant one step apart:
 * a history with decades between rows and corrections a second apart stays readable). Both are
 * piecewise-linear maps through knots, so a point on the screen maps back to an instant pair the same way.
 */
import { fromEpochMillis, type Instant, parseInstant, toEpochMillis } from "../domain/core/Instant.js"

/** A row as the API answers it (the fields the diagram needs). */
export interface DiagramRow {
  readonly id: number
  readonly registreringFra: string
  readonly registreringTil: string | null
  readonly virkningFra: string | null
  readonly virkningTil: string | null
  readonly data: unknown
}

export type ScaleKind = "time" | "even"

export interface Box {
  readonly left: number
  readonly top: number
  readonly width: number
  readonly height: number
}

/** A piecewise-linear map from epoch milliseconds to pixels; knots increase on both sides (pixels may decrease: the y axis runs up). */
export interface Scale {
  readonly knots: ReadonlyArray<readonly [ms: number, px: number]>
  /** The data range the plot shows (open ends run to these). */
  readonly lo: number
  readonly hi: number
}

export interface Tick {
  readonly at: Instant
  readonly px: number
  /** The instant as a label (a date, or date and time when it is not midnight); empty when too close to a labelled neighbour. */
  readonly label: string
}

export interface Rect {
  readonly rowId: number
  /** The data value's key: index into `legend`. */
  readonly key: number
  readonly data: { readonly x0: number; readonly x1: number | null; readonly y0: number | null; readonly y1: number | null }
  readonly screen: { readonly x: number; readonly y: number; readonly width: number; readonly height: number }
  readonly openRight: boolean
  readonly openTop: boolean
  readonly openBottom: boolean
  /** registreringFra = registreringTil: visible to no query; drawn as a hairline of MIN_EMPTY_WIDTH. */
  readonly empty: boolean
}

export interface LegendEntry {
  readonly key: number
  readonly letter: string
  readonly colour: string
  /** Text colour readable on `colour`. */
  readonly ink: string
  readonly pattern: Pattern
  /** Canonical JSON of the value. */
  readonly value: string
  readonly rowIds: ReadonlyArray<number>
}

export type Pattern = "solid" | "hatch" | "dots" | "cross"

export interface Diagram {
  readonly box: Box
  readonly x: Scale
  readonly y: Scale
  readonly xTicks: ReadonlyArray<Tick>
  readonly yTicks: ReadonlyArray<Tick>
  readonly rects: ReadonlyArray<Rect>
  readonly legend: ReadonlyArray<LegendEntry>
}

/** Okabe & Ito's palette without black (text and axes are black), in their order. */
export const PALETTE: ReadonlyArray<string> = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]
export const PATTERNS: ReadonlyArray<Pattern> = ["solid", "hatch", "dots", "cross"]
export const MIN_EMPTY_WIDTH = 2
const DAY = 86_400_000
/** Tick labels: about this many pixels a character (11 px text), and this much room between two along the y axis. */
const LABEL_CHAR_PX = 6.6
const LABEL_LINE_PX = 14

/** JSON with object keys sorted, so two equal values are one text (and one colour). */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v
  ) ?? "null"

const ms = (instant: string): number => toEpochMillis(instant as Instant)

/** WCAG relative luminance, for choosing black or white text on a fill. */
const luminance = (hex: string): number => {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
  return 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!
}
export const inkOn = (hex: string): string => ((luminance(hex) + 0.05) / 0.05 >= 1.05 / (luminance(hex) + 0.05) ? "#000000" : "#FFFFFF")

/** A letter per key: A…Z, then AA, AB, … */
export const letterOf = (key: number): string => (key < 26 ? String.fromCharCode(65 + key) : letterOf(Math.floor(key / 26) - 1) + letterOf(key % 26))

/** Colour keys by first appearance, rows taken in (registreringFra, virkningFra, id) order. */
export const legendOf = (rows: ReadonlyArray<DiagramRow>): ReadonlyArray<LegendEntry> => {
  const byValue = new Map<string, Array<number>>()
  for (const row of sortRows(rows)) {
    const value = canonical(row.data)
    const ids = byValue.get(value)
    if (ids === undefined) byValue.set(value, [row.id])
    else ids.push(row.id)
  }
  return [...byValue.entries()].map(([value, rowIds], key) => {
    const colour = PALETTE[key % PALETTE.length]!
    return { key, letter: letterOf(key), colour, ink: inkOn(colour), pattern: PATTERNS[Math.floor(key / PALETTE.length) % PATTERNS.length]!, value, rowIds }
  })
}

const sortRows = (rows: ReadonlyArray<DiagramRow>): ReadonlyArray<DiagramRow> =>
  [...rows].sort((a, b) =>
    a.registreringFra !== b.registreringFra
      ? a.registreringFra < b.registreringFra ? -1 : 1
      : (a.virkningFra ?? "") !== (b.virkningFra ?? "")
        ? (a.virkningFra ?? "") < (b.virkningFra ?? "") ? -1 : 1
        : a.id - b.id
  )

const distinctSorted = (values: ReadonlyArray<number>): ReadonlyArray<number> => [...new Set(values)].sort((a, b) => a - b)

/**
 * Where a lone instant sits when the instants span nothing: at the start of the plot when everything runs
 * on from it (a row open upwards, or any registreringFra), at the end when everything runs up to it, else
 * in the middle.
 */
export type Anchor = "start" | "middle" | "end"

/** The finite instants a scale must show; when they span nothing, `fallbackSpan` placed by `anchor`. */
const extent = (values: ReadonlyArray<number>, fallbackSpan: number, anchor: Anchor): { lo: number; hi: number } => {
  const lo = Math.min(...values), hi = Math.max(...values)
  if (hi > lo) return { lo, hi }
  const before = anchor === "start" ? 0 : anchor === "end" ? fallbackSpan : fallbackSpan / 2
  return { lo: lo - before, hi: hi + fallbackSpan - before }
}

/** Room past the named instants, as a share of the plot: wide where an open end runs on, narrow where none does. */
export const OPEN_MARGIN = 0.22
export const CLOSED_MARGIN = 0.04

/**
 * A scale over `values` (finite instants, at least one) onto [from, to] pixels, with room past the low and
 * high ends (wide on a side where a row is open, so the open part is seen).
 */
export const makeScale = (
  kind: ScaleKind,
  values: ReadonlyArray<number>,
  from: number,
  to: number,
  fallbackSpan: number,
  anchor: Anchor = "middle",
  open: { readonly low: boolean; readonly high: boolean } = { low: true, high: true }
): Scale => {
  const inner0 = from + (to - from) * (open.low ? OPEN_MARGIN : CLOSED_MARGIN)
  const inner1 = to - (to - from) * (open.high ? OPEN_MARGIN : CLOSED_MARGIN)
  const { lo, hi } = extent(values, fallbackSpan, anchor)
  const distinct = distinctSorted(values)
  if (kind === "time" || distinct.length < 2) {
    const perMs = (inner1 - inner0) / (hi - lo)
    const edgeLo = lo - (inner0 - from) / perMs
    const edgeHi = hi + (to - inner1) / perMs
    return { knots: [[edgeLo, from], [edgeHi, to]], lo: edgeLo, hi: edgeHi }
  }
  // Even: the distinct instants equally spaced; the margins past them in proportion to the mean step.
  const step = (inner1 - inner0) / (distinct.length - 1)
  const msPerPx = (hi - lo) / (distinct.length - 1) / step
  const knots: Array<readonly [number, number]> = [[lo - (inner0 - from) * msPerPx, from]]
  distinct.forEach((v, i) => knots.push([v, inner0 + i * step]))
  knots.push([hi + (to - inner1) * msPerPx, to])
  return { knots, lo: knots[0]![0], hi: knots[knots.length - 1]![0] }
}

const interpolate = (knots: ReadonlyArray<readonly [number, number]>, value: number, from: 0 | 1): number => {
  const to = from === 0 ? 1 : 0
  const increasing = knots[knots.length - 1]![from] >= knots[0]![from]
  for (let i = 1; i < knots.length; i++) {
    const a = knots[i - 1]!, b = knots[i]!
    const last = i === knots.length - 1
    if (last || (increasing ? value <= b[from] : value >= b[from])) {
      if (b[from] === a[from]) return a[to]
      return a[to] + ((value - a[from]) / (b[from] - a[from])) * (b[to] - a[to])
    }
  }
  return knots[0]![to]
}

/** Data → pixels (linear past the outer knots). */
export const toPx = (scale: Scale, value: number): number => interpolate(scale.knots, value, 0)
/** Pixels → data. */
export const fromPx = (scale: Scale, px: number): number => interpolate(scale.knots, px, 1)

/** A tick's label: the date at midnight, else date and time (to the millisecond when it has one). */
export const formatTick = (value: number): string => {
  const text = fromEpochMillis(value)
  if (text.slice(11, 23) === "00:00:00.000") return text.slice(0, 10)
  return `${text.slice(0, 10)} ${text.slice(11, 19)}${text.slice(20, 23) === "000" ? "" : text.slice(19, 23)}`
}

/**
 * Ticks at the rows' own instants (as the documentation's tables name them); a label is left out when it
 * would overlap the last one shown (side by side along x, stacked along y).
 */
export const ticksOf = (scale: Scale, values: ReadonlyArray<number>, axis: "x" | "y"): ReadonlyArray<Tick> => {
  let last: { px: number; label: string } | undefined
  return distinctSorted(values).map((v) => {
    const px = toPx(scale, v)
    const label = formatTick(v)
    const room = axis === "y" ? LABEL_LINE_PX : ((last?.label.length ?? 0) / 2 + label.length / 2) * LABEL_CHAR_PX + 8
    const crowded = last !== undefined && Math.abs(px - last.px) < room
    if (!crowded) last = { px, label }
    return { at: fromEpochMillis(v), px: Math.round(px * 100) / 100, label: crowded ? "" : label }
  })
}

export interface DiagramOptions {
  readonly width: number
  readonly height: number
  /** Room for the axes' labels: left (virkningstid labels) and bottom (registreringstid labels). */
  readonly margin?: { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number }
  readonly scale?: ScaleKind
  /** Further virkningstid instants to show on the axis (activations). */
  readonly extraVirkning?: ReadonlyArray<string>
  /**
   * The chosen instant pair (the crosshair): an instant beyond what the plot shows widens that axis to it;
   * one within leaves the picture as it is, so a click never moves it.
   */
  readonly focus?: { readonly registreringstid?: string | undefined; readonly virkningstid?: string | undefined }
}

export const DEFAULT_MARGIN = { left: 96, right: 24, top: 20, bottom: 56 }
const NARROW_MARGIN = { left: 78, right: 12, top: 16, bottom: 48 }

/** The diagram's size for a container `width` wide: a phone gets narrower margins; the height follows the width within bounds. */
export const layoutFor = (width: number): { readonly width: number; readonly height: number; readonly margin: typeof DEFAULT_MARGIN } => ({
  width,
  height: Math.round(Math.min(520, Math.max(260, width * 0.55))),
  margin: width < 560 ? NARROW_MARGIN : DEFAULT_MARGIN
})

/** A focus instant as milliseconds; absent or unreadable: none. */
const focusMs = (text: string | undefined): number | undefined => {
  if (text === undefined || text === "") return undefined
  const parsed = parseInstant(text)
  return typeof parsed === "string" ? toEpochMillis(parsed) : undefined
}

/** Screen positions to a hundredth of a pixel: what the SVG's attributes hold, and stable to compare. */
const cent = (px: number): number => Math.round(px * 100) / 100

/** The whole diagram of an object's rows (at least one row). */
export const diagramOf = (rows: ReadonlyArray<DiagramRow>, options: DiagramOptions): Diagram => {
  const margin = options.margin ?? DEFAULT_MARGIN
  const box: Box = { left: margin.left, top: margin.top, width: Math.max(1, options.width - margin.left - margin.right), height: Math.max(1, options.height - margin.top - margin.bottom) }
  const kind = options.scale ?? "time"
  const openTop = rows.some((r) => r.virkningTil === null), openBottom = rows.some((r) => r.virkningFra === null)
  const openRight = rows.some((r) => r.registreringTil === null)
  const scalesOver = (xs: ReadonlyArray<number>, ysFinite: ReadonlyArray<number>) => {
    const xSpan = Math.max(...xs) - Math.min(...xs)
    // An axis with one instant borrows the other's span (or a day), so the picture keeps its proportions.
    const ys = ysFinite.length > 0 ? ysFinite : xs
    const ySpan = Math.max(...ys) - Math.min(...ys)
    const x = makeScale(kind, xs, box.left, box.left + box.width, ySpan > 0 ? ySpan : DAY, "start", { low: false, high: openRight })
    const y = makeScale(kind, ys, box.top + box.height, box.top, xSpan > 0 ? xSpan : DAY, openTop === openBottom ? "middle" : openTop ? "start" : "end", {
      low: openBottom,
      high: openTop
    })
    return { x, y, xs, ys: ysFinite.length > 0 ? ys : [] }
  }
  const rowXs = rows.flatMap((r) => [ms(r.registreringFra), ...(r.registreringTil === null ? [] : [ms(r.registreringTil)])])
  const rowYs = [...rows.flatMap((r) => [r.virkningFra, r.virkningTil]), ...(options.extraVirkning ?? [])].filter((v): v is string => v !== null).map(ms)
  const first = scalesOver(rowXs, rowYs)
  const fx = focusMs(options.focus?.registreringstid), fy = focusMs(options.focus?.virkningstid)
  const outside = (scale: Scale, v: number | undefined) => v !== undefined && (v < scale.lo || v > scale.hi)
  const { x, y, xs, ys } =
    outside(first.x, fx) || outside(first.y, fy)
      ? scalesOver(outside(first.x, fx) ? [...rowXs, fx!] : rowXs, outside(first.y, fy) ? [...rowYs, fy!] : rowYs)
      : first
  const legend = legendOf(rows)
  const keyOf = new Map(legend.flatMap((e) => e.rowIds.map((id) => [id, e.key] as const)))
  const rects = sortRows(rows).map((r): Rect => {
    const x0 = ms(r.registreringFra)
    const x1 = r.registreringTil === null ? null : ms(r.registreringTil)
    const y0 = r.virkningFra === null ? null : ms(r.virkningFra)
    const y1 = r.virkningTil === null ? null : ms(r.virkningTil)
    const left = toPx(x, x0)
    const right = x1 === null ? box.left + box.width : toPx(x, x1)
    const bottom = y0 === null ? box.top + box.height : toPx(y, y0)
    const top = y1 === null ? box.top : toPx(y, y1)
    const empty = x1 !== null && x1 <= x0
    return {
      rowId: r.id,
      key: keyOf.get(r.id)!,
      data: { x0, x1, y0, y1 },
      screen: { x: cent(left), y: cent(top), width: empty ? MIN_EMPTY_WIDTH : cent(right) - cent(left), height: cent(bottom) - cent(top) },
      openRight: x1 === null,
      openTop: y1 === null,
      openBottom: y0 === null,
      empty
    }
  })
  return { box, x, y, xTicks: ticksOf(x, xs, "x"), yTicks: ticksOf(y, ys, "y"), rects, legend }
}

/** Rows in force at (registreringstid, virkningstid), by the half-open rule: what `GET /v1/objects/…` answers, for rows already loaded. */
export const rowsAt = <R extends DiagramRow>(rows: ReadonlyArray<R>, registreringstid: string, virkningstid: string): ReadonlyArray<R> =>
  rows.filter(
    (r) =>
      r.registreringFra <= registreringstid &&
      (r.registreringTil === null || registreringstid < r.registreringTil) &&
      (r.virkningFra === null || r.virkningFra <= virkningstid) &&
      (r.virkningTil === null || virkningstid < r.virkningTil)
  )

/** An instant as short as it can be written: `2017-01-05`, `2017-01-05T10:20:00Z`, or in full. */
export const shortInstant = (instant: Instant): string =>
  instant.endsWith("T00:00:00.000000Z") ? instant.slice(0, 10) : instant.endsWith(".000000Z") ? `${instant.slice(0, 19)}Z` : instant

/** The instant pair under a screen point, each rounded to the second and written short (instants the API and a URL read well). */
export const instantsAt = (diagram: Diagram, px: number, py: number): { readonly registreringstid: string; readonly virkningstid: string } => {
  const round = (v: number) => shortInstant(fromEpochMillis(Math.round(v / 1000) * 1000))
  return { registreringstid: round(fromPx(diagram.x, px)), virkningstid: round(fromPx(diagram.y, py)) }
}
