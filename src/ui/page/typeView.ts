/**
 * The type view: every object of a type in force at an instant pair (`GET /v1/objects/{type}`), keyset-paged
 * by objectId (Next follows the API's `next`; Previous goes back through the pages seen), an exact id
 * looked up as of the same pair, and the whole snapshot as CSV.
 */
import type { UiState } from "../UiState.js"
import { ApiError, enc, get, getJson, query, showError } from "./api.js"
import { go, hrefOf } from "./app.js"
import { compactJson, dataTable, field, fill, h, queryForm, saveBlob, showInstant, td } from "./dom.js"
import type { Row } from "./types.js"

export const PAGE_SIZE = 25

/** The `after` of each page before this one, so Previous works within a visit (the URL holds the current page's). */
const seen: Array<string> = []

const rowsTable = (rows: ReadonlyArray<Row>, state: UiState, caption: string) =>
  dataTable(
    caption,
    ["objectId", "data", "virkning", "registrering"],
    rows.map((r) =>
      h(
        "tr",
        { "data-object-id": r.objectId },
        h("td", {}, h("a", { href: hrefOf({ view: "object", objectType: state.objectType, objectId: r.objectId, after: "" }) }, r.objectId)),
        td(compactJson(r.data), "mono"),
        td(`[${showInstant(r.virkningFra)}, ${showInstant(r.virkningTil)})`, "mono"),
        td(`[${showInstant(r.registreringFra)}, ${showInstant(r.registreringTil)})`, "mono")
      )
    ),
    "snapshot",
    "No objects in force at this pair."
  )

export const renderType = async (main: HTMLElement, state: UiState) => {
  const type = field("Object type", "objectType", state.objectType, { placeholder: "e.g. vej", required: true })
  const r = field("registreringstid", "registreringstid", state.registreringstid, { placeholder: "now" })
  const v = field("virkningstid", "virkningstid", state.virkningstid, { placeholder: "now" })
  const form = queryForm("Type and instant pair", [type.el, r.el, v.el], () => {
    seen.length = 0
    go({ objectType: type.input.value.trim(), registreringstid: r.input.value.trim(), virkningstid: v.input.value.trim(), after: "" })
  })
  const search = field("Find id", "search", "", { placeholder: "an objectId" })
  const searchForm = h("form", { class: "query search", role: "search" }, search.el, h("button", { type: "submit" }, "Find"))
  const found = h("div", { class: "found", "aria-live": "polite" })
  const body = h("div")
  fill(main, h("h1", {}, "Type"), form, searchForm, found, body)
  if (state.objectType === "") return fill(body, h("p", { class: "hint" }, "Name a type to list its objects as of an instant pair."))
  const asOf = { registreringstid: state.registreringstid, virkningstid: state.virkningstid }
  searchForm.addEventListener("submit", async (e) => {
    e.preventDefault()
    const id = search.input.value.trim()
    if (id === "") return
    try {
      const row = await getJson<Row>(`/v1/objects/${enc(state.objectType)}/${enc(id)}${query(asOf)}`)
      fill(found, rowsTable([row], state, `${id}, as of the pair`))
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) fill(found, h("p", { class: "hint" }, `No row of ${id} in force at this pair.`))
      else showError(found, err)
    }
  })
  fill(body, h("p", { class: "hint", role: "status" }, "Loading…"))
  try {
    const page = await getJson<{ rows: Array<Row>; next: string | null }>(`/v1/objects/${enc(state.objectType)}${query({ ...asOf, limit: PAGE_SIZE, after: state.after })}`)
    const prev = h("button", { type: "button", id: "prev-page", disabled: state.after === "" }, "← Previous")
    const next = h("button", { type: "button", id: "next-page", disabled: page.next === null }, "Next →")
    prev.addEventListener("click", () => go({ after: seen.pop() ?? "" }))
    next.addEventListener("click", () => {
      seen.push(state.after)
      go({ after: page.next ?? "" })
    })
    const csv = h("button", { type: "button", id: "download-csv" }, "Download CSV (whole snapshot)")
    csv.addEventListener("click", async () => {
      try {
        const res = await get(`/v1/objects/${enc(state.objectType)}${query({ ...asOf, format: "csv" })}`, "text/csv")
        saveBlob(await res.blob(), `${state.objectType}-snapshot.csv`)
      } catch (err) {
        showError(found, err)
      }
    })
    fill(
      body,
      h("p", { class: "summary", "data-page-first": page.rows[0]?.objectId ?? "" }, page.rows.length === 0 ? "No objects in force at this pair." : `${page.rows.length} objects from ${page.rows[0]!.objectId}${state.after === "" ? "" : ` (after ${state.after})`}`),
      rowsTable(page.rows, state, `Objects of ${state.objectType} in force at registreringstid ${state.registreringstid || "now"}, virkningstid ${state.virkningstid || "now"}`),
      h("div", { class: "pager" }, prev, next, csv)
    )
  } catch (e) {
    showError(body, e)
  }
}
