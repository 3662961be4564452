/**
 * The object view: the bitemporal diagram of one object's rows (geometry from ../Diagram.ts), the row in
 * force at a chosen instant pair (asked of `GET /v1/objects/…`, the API's own answer) with a crosshair,
 * and under it the registrations with what each changed, the rows, activations and anomalies.
 */
import { parseInstant, toEpochMillis } from "../../domain/core/Instant.js"
import { type Diagram, diagramOf, instantsAt, layoutFor, type LegendEntry, type Rect, toPx } from "../Diagram.js"
import { registrationsOf } from "../Registrations.js"
import type { UiState } from "../UiState.js"
import { ApiError, enc, get, getJson, query, showError } from "./api.js"
import { go } from "./app.js"
import { compactJson, dataTable, field, fill, h, queryForm, s, scrolling, section, showInstant, td } from "./dom.js"
import type { Activation, Anomaly, Row } from "./types.js"

/** Pages of a listing filtered by type on the server, by object here (the API has no per-object filter). */
const MAX_SCAN_PAGES = 5

const activationsOf = async (objectType: string, objectId: string): Promise<Array<Activation>> => {
  const found: Array<Activation> = []
  let after: string | null | undefined
  for (let page = 0; page < MAX_SCAN_PAGES && after !== null; page++) {
    const body = await getJson<{ activations: Array<Activation>; next: string | null }>(`/v1/activations${query({ objectType, status: "all", limit: 1000, after: after ?? undefined })}`)
    found.push(...body.activations.filter((a) => a.objectId === objectId))
    after = body.next
  }
  return found
}

const anomaliesOf = async (objectType: string, objectId: string): Promise<Array<Anomaly>> => {
  const found: Array<Anomaly> = []
  let after: number | null | undefined
  for (let page = 0; page < MAX_SCAN_PAGES && after !== null; page++) {
    const body = await getJson<{ anomalies: Array<Anomaly>; next: number | null }>(`/v1/anomalies${query({ objectType, limit: 1000, after: after ?? undefined })}`)
    found.push(...body.anomalies.filter((a) => a.objectId === objectId))
    after = body.next
  }
  return found
}

const describeRow = (r: Row) =>
  `row ${r.id}: ${compactJson(r.data)}; registrering ${showInstant(r.registreringFra)} to ${showInstant(r.registreringTil)}; virkning ${showInstant(r.virkningFra)} to ${showInstant(r.virkningTil)}`

const swatch = (e: LegendEntry, size = 18) =>
  s(
    "svg",
    { width: size, height: size, viewBox: `0 0 ${size} ${size}`, "aria-hidden": "true", class: "swatch" },
    s("rect", { x: 0.5, y: 0.5, width: size - 1, height: size - 1, fill: e.colour, stroke: "#000" }),
    e.pattern === "solid" ? null : s("rect", { x: 0.5, y: 0.5, width: size - 1, height: size - 1, fill: `url(#pat-${e.pattern})` }),
    s("text", { x: size / 2, y: size / 2 + 4, "text-anchor": "middle", fill: e.ink, class: "swatch-letter" }, e.letter)
  )

const patternDefs = () =>
  s(
    "defs",
    {},
    s("pattern", { id: "pat-hatch", width: 8, height: 8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, s("line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#000", "stroke-width": 2, "stroke-opacity": 0.5 })),
    s("pattern", { id: "pat-dots", width: 8, height: 8, patternUnits: "userSpaceOnUse" }, s("circle", { cx: 4, cy: 4, r: 1.6, fill: "#000", "fill-opacity": 0.55 })),
    s(
      "pattern",
      { id: "pat-cross", width: 8, height: 8, patternUnits: "userSpaceOnUse" },
      s("path", { d: "M0 0L8 8M8 0L0 8", stroke: "#000", "stroke-width": 1.2, "stroke-opacity": 0.5 })
    ),
    s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 5, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M0 0L10 5L0 10z", fill: "#000" }))
  )

/** The edges of a rectangle: closed ones solid, open ones dashed with an arrow running on. */
const edges = (r: Rect) => {
  const { x, y, width: w, height: hgt } = r.screen
  const line = (x1: number, y1: number, x2: number, y2: number, open: boolean) =>
    s("line", { x1, y1, x2, y2, class: open ? "edge open" : "edge" })
  const out: Array<SVGElement> = [line(x, y + hgt, x, y, false), line(x, y, x + w, y, r.openTop), line(x + w, y, x + w, y + hgt, r.openRight), line(x, y + hgt, x + w, y + hgt, r.openBottom)]
  // Arrows at the middle of each open side, pointing off the plot: the row runs on.
  if (r.openRight && hgt > 16) out.push(s("line", { x1: x + w - 22, y1: y + hgt / 2, x2: x + w - 4, y2: y + hgt / 2, class: "open-arrow", "marker-end": "url(#arrow)" }))
  if (r.openTop && w > 16) out.push(s("line", { x1: x + w / 2, y1: y + 22, x2: x + w / 2, y2: y + 4, class: "open-arrow", "marker-end": "url(#arrow)" }))
  if (r.openBottom && w > 16) out.push(s("line", { x1: x + w / 2, y1: y + hgt - 22, x2: x + w / 2, y2: y + hgt - 4, class: "open-arrow", "marker-end": "url(#arrow)" }))
  return out
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v))

const instantMs = (text: string): number | undefined => {
  if (text === "") return undefined
  const parsed = parseInstant(text)
  return typeof parsed === "string" ? toEpochMillis(parsed) : undefined
}

interface Loaded {
  readonly rows: ReadonlyArray<Row>
  readonly activations: ReadonlyArray<Activation>
}

/** The diagram as SVG, sized to its container; a click (or Enter on a rectangle) asks for the row in force there. */
const drawDiagram = (loaded: Loaded, state: UiState, width: number, tooltip: HTMLElement, onPick: (registreringstid: string, virkningstid: string) => void) => {
  const { height, margin } = layoutFor(width)
  const d: Diagram = diagramOf(loaded.rows, { width, height, margin, scale: state.scale,
    extraVirkning: loaded.activations.map((a) => a.at),
    focus: { registreringstid: state.registreringstid, virkningstid: state.virkningstid }
  })
  const byId = new Map(loaded.rows.map((r) => [r.id, r]))
  const { box } = d
  const svg = s("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "diagram",
    role: "group",
    "aria-label": `Bitemporal diagram of ${loaded.rows.length} rows: registreringstid across, virkningstid up. Tab to a rectangle, Enter to ask for the row in force at its centre.`,
    "data-scale": state.scale
  })
  svg.append(patternDefs())
  // Gridlines and ticks at the rows' own instants.
  const axes = s("g", { class: "axes" })
  for (const t of d.xTicks) {
    axes.append(s("line", { x1: t.px, y1: box.top, x2: t.px, y2: box.top + box.height, class: "grid" }))
    if (t.label !== "") axes.append(s("text", { x: t.px, y: box.top + box.height + 16, "text-anchor": "middle", class: "tick" }, t.label))
  }
  for (const t of d.yTicks) {
    axes.append(s("line", { x1: box.left, y1: t.px, x2: box.left + box.width, y2: t.px, class: "grid" }))
    if (t.label !== "") axes.append(s("text", { x: box.left - 6, y: t.px + 4, "text-anchor": "end", class: "tick" }, t.label))
  }
  axes.append(
    s("line", { x1: box.left, y1: box.top + box.height, x2: box.left + box.width, y2: box.top + box.height, class: "axis" }),
    s("line", { x1: box.left, y1: box.top, x2: box.left, y2: box.top + box.height, class: "axis" }),
    s("text", { x: box.left + box.width, y: box.top + box.height + 38, "text-anchor": "end", class: "axis-title" }, "registreringstid →"),
    s("text", { x: 12, y: box.top + box.height / 2, transform: `rotate(-90 12 ${box.top + box.height / 2})`, "text-anchor": "middle", class: "axis-title" }, "virkningstid →")
  )
  svg.append(axes)

  const rects = s("g", { class: "rows" })
  for (const r of d.rects) {
    const row = byId.get(r.rowId)!
    const e = d.legend[r.key]!
    const { x, y, width: w, height: hgt } = r.screen
    const open = [r.openRight ? "right" : "", r.openTop ? "top" : "", r.openBottom ? "bottom" : ""].filter((o) => o !== "").join(" ")
    const g = s("g", {
      class: `row${r.empty ? " empty" : ""}`,
      tabindex: 0,
      role: "button",
      "data-row-id": r.rowId,
      "data-key": e.letter,
      "data-open": open,
      "aria-label": `${e.letter}, ${describeRow(row)}${r.empty ? " (registered and closed at one instant: seen by no query)" : ""}`
    })
    g.append(s("rect", { x, y, width: w, height: hgt, fill: e.colour, class: "fill", "data-row-id": r.rowId }))
    if (e.pattern !== "solid") g.append(s("rect", { x, y, width: w, height: hgt, fill: `url(#pat-${e.pattern})`, class: "pattern" }))
    g.append(...edges(r))
    if (w >= 18 && hgt >= 16) g.append(s("text", { x: x + Math.min(w / 2, 22), y: y + hgt - Math.min(hgt / 2, 14) + 5, "text-anchor": "middle", fill: e.ink, class: "letter" }, e.letter))
    const show = (px: number, py: number) => {
      fill(
        tooltip,
        h("strong", {}, `${e.letter} · row ${row.id}`),
        h("div", { class: "mono" }, compactJson(row.data)),
        h("div", {}, `registrering [${showInstant(row.registreringFra)}, ${showInstant(row.registreringTil)})`),
        h("div", {}, `virkning [${showInstant(row.virkningFra)}, ${showInstant(row.virkningTil)})`),
        h("div", { class: "hint" }, `event ${row.eventId}`)
      )
      tooltip.hidden = false
      tooltip.style.left = `${Math.min(px + 14, width - 260)}px`
      tooltip.style.top = `${py + 14}px`
    }
    g.addEventListener("mousemove", (ev) => {
      const b = svg.getBoundingClientRect()
      show(ev.clientX - b.left, ev.clientY - b.top)
    })
    g.addEventListener("mouseleave", () => (tooltip.hidden = true))
    g.addEventListener("focus", () => show(x + Math.min(w, 60), y + Math.min(hgt / 2, 40)))
    g.addEventListener("blur", () => (tooltip.hidden = true))
    g.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" && ev.key !== " ") return
      ev.preventDefault()
      // The centre of the part on the plot (an open rectangle runs to the edge).
      const at = instantsAt(d, clamp(x + w / 2, box.left, box.left + box.width), clamp(y + hgt / 2, box.top, box.top + box.height))
      onPick(at.registreringstid, at.virkningstid)
    })
    rects.append(g)
  }
  svg.append(rects)

  // Activations on the virkning axis: where a boundary takes (or took) effect.
  const marks = s("g", { class: "activations" })
  for (const a of loaded.activations) {
    const py = toPx(d.y, toEpochMillis(a.at as never))
    marks.append(
      s(
        "path",
        { d: `M${box.left - 1} ${py}l-7 -5v10z`, class: `activation ${a.status}`, "data-activation-id": a.id },
        s("title", {}, `${a.kind} at ${showInstant(a.at)}: ${a.status}${a.late === true ? " (late)" : ""}`)
      )
    )
  }
  svg.append(marks)

  // The crosshair at the chosen instant pair (each defaults to now, as the API's).
  const rMs = instantMs(state.registreringstid), vMs = instantMs(state.virkningstid)
  if (rMs !== undefined || vMs !== undefined) {
    const now = Date.now()
    const cx = clamp(toPx(d.x, rMs ?? now), box.left, box.left + box.width)
    const cy = clamp(toPx(d.y, vMs ?? now), box.top, box.top + box.height)
    svg.append(
      s(
        "g",
        { class: "crosshair", "data-registreringstid": state.registreringstid, "data-virkningstid": state.virkningstid, "pointer-events": "none" },
        s("line", { x1: cx, y1: box.top, x2: cx, y2: box.top + box.height }),
        s("line", { x1: box.left, y1: cy, x2: box.left + box.width, y2: cy }),
        s("circle", { cx, cy, r: 5 })
      )
    )
  }

  svg.addEventListener("click", (ev) => {
    const b = svg.getBoundingClientRect()
    const px = ev.clientX - b.left, py = ev.clientY - b.top
    if (px < box.left || px > box.left + box.width || py < box.top || py > box.top + box.height) return
    const at = instantsAt(d, px, py)
    onPick(at.registreringstid, at.virkningstid)
  })
  return { svg, diagram: d }
}

const legendList = (legend: ReadonlyArray<LegendEntry>) =>
  h(
    "ul",
    { class: "legend", "aria-label": "Legend: one colour and letter per distinct data value" },
    legend.map((e) => h("li", { "data-key": e.letter }, swatch(e), h("span", { class: "mono" }, e.value), h("span", { class: "hint" }, ` ${e.rowIds.length === 1 ? "row" : "rows"} ${e.rowIds.join(", ")}`)))
  )

const registrationsTable = (rows: ReadonlyArray<Row>, legend: ReadonlyArray<LegendEntry>) => {
  const letter = new Map(legend.flatMap((e) => e.rowIds.map((id) => [id, e.letter] as const)))
  const regs = registrationsOf(rows)
  return scrolling(h(
    "table",
    { class: "registrations" },
    h("caption", {}, "Registrations: what each one closed and added, and how the data changed"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "registreringstid"), h("th", { scope: "col" }, "closed"), h("th", { scope: "col" }, "added (virkning) and what changed"))),
    h(
      "tbody",
      {},
      regs.map((reg) =>
        h(
          "tr",
          {},
          h("td", { class: "mono" }, showInstant(reg.registreringFra)),
          h("td", {}, reg.closed.length === 0 ? "–" : reg.closed.map((r) => `row ${r.id} (${letter.get(r.id)})`).join(", ")),
          h(
            "td",
            {},
            reg.added.length === 0
              ? "nothing (retracted)"
              : h(
                  "ul",
                  { class: "plain" },
                  reg.added.map((a) =>
                    h(
                      "li",
                      {},
                      `row ${a.row.id} (${letter.get(a.row.id)}) [${showInstant(a.row.virkningFra)}, ${showInstant(a.row.virkningTil)}): `,
                      a.replaces.length === 0
                        ? h("span", { class: "mono" }, compactJson(a.row.data))
                        : a.changes.length === 0
                          ? h("span", { class: "hint" }, `same data as row ${a.replaces.map((r) => r.id).join(", ")}`)
                          : a.changes.map((c) =>
                              h(
                                "span",
                                { class: "diff" },
                                c.fields.map((f) => h("span", { class: "change" }, h("code", {}, f.path === "" ? "data" : f.path), " ", h("del", {}, f.before ?? "(none)"), " → ", h("ins", {}, f.after ?? "(none)")))
                              )
                            )
                    )
                  )
                )
          )
        )
      )
    )
  ))
}

const rowsTable = (rows: ReadonlyArray<Row>, legend: ReadonlyArray<LegendEntry>, inForce: number | undefined) => {
  const entry = new Map(legend.flatMap((e) => e.rowIds.map((id) => [id, e] as const)))
  return scrolling(h(
    "table",
    { class: "rows-table" },
    h("caption", {}, "Rows (half-open intervals; – is an open end)"),
    h(
      "thead",
      {},
      h("tr", {}, ["id", "data", "registreringFra", "registreringTil", "virkningFra", "virkningTil", "eventId", "storedAt"].map((c) => h("th", { scope: "col" }, c)))
    ),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          { "data-row-id": r.id, class: r.id === inForce ? "in-force" : undefined },
          h("td", {}, String(r.id)),
          h("td", {}, swatch(entry.get(r.id)!, 14), " ", h("span", { class: "mono" }, compactJson(r.data))),
          h("td", { class: "mono" }, showInstant(r.registreringFra)),
          h("td", { class: "mono" }, showInstant(r.registreringTil)),
          h("td", { class: "mono" }, showInstant(r.virkningFra)),
          h("td", { class: "mono" }, showInstant(r.virkningTil)),
          h("td", { class: "mono" }, r.eventId),
          h("td", { class: "mono" }, showInstant(r.storedAt))
        )
      )
    )
  ))
}

const listTable = <A>(caption: string, empty: string, items: ReadonlyArray<A>, columns: ReadonlyArray<[string, (a: A) => string]>, cls: string) =>
  dataTable(caption, columns.map(([c]) => c), items.map((a) => h("tr", {}, columns.map(([, f]) => td(f(a))))), cls, empty)

export const renderObject = async (main: HTMLElement, state: UiState) => {
  const type = field("Object type", "objectType", state.objectType, { placeholder: "e.g. vej", required: true })
  const id = field("Object id", "objectId", state.objectId, { placeholder: "e.g. yyyy", required: true })
  const r = field("registreringstid", "registreringstid", state.registreringstid, { placeholder: "now" })
  const v = field("virkningstid", "virkningstid", state.virkningstid, { placeholder: "now" })
  const scale = h("select", { id: "f-scale", name: "scale" }, h("option", { value: "time", selected: state.scale === "time" }, "time (durations)"), h("option", { value: "even", selected: state.scale === "even" }, "even (each instant a step)"))
  const form = queryForm("Object and instant pair", [type.el, id.el, r.el, v.el, h("label", { for: "f-scale", class: "field" }, h("span", {}, "scale"), scale)], () =>
    go({ objectType: type.input.value.trim(), objectId: id.input.value.trim(), registreringstid: r.input.value.trim(), virkningstid: v.input.value.trim(), scale: scale.value === "even" ? "even" : "time" })
  )
  const body = h("div", { class: "object-body" })
  fill(main, h("h1", {}, "Object"), form, body)
  if (state.objectType === "" || state.objectId === "") {
    fill(body, h("p", { class: "hint" }, "Name an object (its type and id) to see its bitemporal history. Click the diagram, or give instants, for the row in force at any pair."))
    return
  }
  fill(body, h("p", { class: "hint", role: "status" }, "Loading…"))
  const path = `/v1/objects/${enc(state.objectType)}/${enc(state.objectId)}`
  let rows: ReadonlyArray<Row>
  try {
    rows = (await getJson<{ rows: Array<Row> }>(`${path}/history`)).rows
  } catch (e) {
    return showError(body, e)
  }
  const [activations, anomalies] = await Promise.all([activationsOf(state.objectType, state.objectId).catch(() => []), anomaliesOf(state.objectType, state.objectId).catch(() => [])])
  const loaded: Loaded = { rows, activations }

  const figure = h("div", { class: "figure" })
  const tooltip = h("div", { class: "tooltip", role: "tooltip", hidden: true })
  const answer = h("section", { class: "answer", "aria-live": "polite", "aria-label": "Row in force" })
  const pick = (registreringstid: string, virkningstid: string) => go({ registreringstid, virkningstid })
  const legend = diagramOf(rows, { width: 600, height: 300 }).legend
  const draw = () => {
    const width = Math.max(300, Math.floor(figure.clientWidth || 800))
    const { svg } = drawDiagram(loaded, state, width, tooltip, pick)
    fill(figure, svg, tooltip)
  }
  const title = h(
    "p",
    { class: "summary" },
    `${state.objectType}/${state.objectId}: ${rows.length} rows, ${legend.length} distinct values, ${rows.filter((x) => x.registreringTil === null).length} current`,
    h("span", { class: "hint" }, " · instants in UTC; intervals half-open [fra, til); – is open")
  )
  const wrap = h("div", { class: "diagram-wrap" }, figure, h("div", { class: "side" }, answer, legendList(legend)))
  const inForceAt = h("div")
  fill(
    body,
    title,
    wrap,
    section("History", registrationsTable(rows, legend), inForceAt),
    section(
      "Activations",
      listTable("Virkningstid activations of this object (marked on the virkning axis)", "No activations for this object.", activations, [
        ["at", (a) => showInstant(a.at)],
        ["kind", (a) => a.kind],
        ["status", (a) => a.status + (a.late === true ? " (late)" : "")],
        ["settled", (a) => (a.settledAt === null ? "–" : showInstant(a.settledAt))],
        ["row", (a) => String(a.rowId)]
      ], "activations-table")
    ),
    section(
      "Anomalies",
      listTable("What the upstream did that was recorded instead of obeyed", "No anomalies recorded for this object.", anomalies, [
        ["detected", (a) => showInstant(a.detectedAt)],
        ["source", (a) => a.source],
        ["kind", (a) => a.kind],
        ["detail", (a) => a.detail]
      ], "anomalies-table")
    )
  )
  draw()
  let timer: number | undefined
  const onResize = () => {
    clearTimeout(timer)
    timer = window.setTimeout(() => (figure.isConnected ? draw() : window.removeEventListener("resize", onResize)), 120)
  }
  window.addEventListener("resize", onResize)

  fill(inForceAt, rowsTable(rows, legend, undefined))
  // The row in force, as the API answers it.
  const asked = state.registreringstid !== "" || state.virkningstid !== ""
  fill(answer, h("h2", {}, "In force"), h("p", { class: "hint" }, asked ? "Asking…" : "Click a point of the diagram (or Tab to a rectangle and press Enter) for the row in force there; now and now shown."))
  let inForce: Row | undefined
  try {
    const res = await get(`${path}${query({ registreringstid: state.registreringstid, virkningstid: state.virkningstid })}`)
    inForce = (await res.json()) as Row
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) return showError(answer, e)
  }
  const e = inForce === undefined ? undefined : legend.find((l) => l.rowIds.includes(inForce!.id))
  fill(
    answer,
    h("h2", {}, "In force"),
    h("p", { class: "mono at" }, `registreringstid ${state.registreringstid || "now"}`, h("br"), `virkningstid ${state.virkningstid || "now"}`),
    inForce === undefined
      ? h("p", { class: "none", "data-row-id": "" }, "No row is in force at this pair (404 from the API).")
      : h(
          "div",
          { class: "in-force-row", "data-row-id": inForce.id },
          e === undefined ? null : swatch(e),
          h("strong", {}, ` row ${inForce.id}`),
          h("div", { class: "mono" }, compactJson(inForce.data)),
          h("div", {}, `registrering [${showInstant(inForce.registreringFra)}, ${showInstant(inForce.registreringTil)})`),
          h("div", {}, `virkning [${showInstant(inForce.virkningFra)}, ${showInstant(inForce.virkningTil)})`)
        )
  )
  fill(inForceAt, rowsTable(rows, legend, inForce?.id))
}
