/**
 * The changes view: rows registered or closed between two instants (`GET /v1/changes`, the deltafile),
 * filtered by type, read as the stream comes and shown up to a limit, downloadable whole as NDJSON or CSV.
 */
import type { UiState } from "../UiState.js"
import { get, query, showError } from "./api.js"
import { go, hrefOf } from "./app.js"
import { compactJson, dataTable, field, fill, h, queryForm, saveBlob, showInstant, td } from "./dom.js"
import type { ChangeRow } from "./types.js"

const SHOWN = 500

/** The first `max` NDJSON lines of a response, then the stream is cancelled. */
const firstLines = async (res: Response, max: number): Promise<{ items: Array<ChangeRow>; more: boolean }> => {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  const items: Array<ChangeRow> = []
  let buffer = ""
  for (;;) {
    const { done, value } = await reader.read()
    if (value !== undefined) buffer += value
    let nl: number
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (line.trim() === "") continue
      if (items.length === max) {
        await reader.cancel()
        return { items, more: true }
      }
      items.push(JSON.parse(line) as ChangeRow)
    }
    if (done) return { items, more: false }
  }
}

export const renderChanges = async (main: HTMLElement, state: UiState) => {
  const since = field("since", "since", state.since, { placeholder: "e.g. 2017-01-01", required: true })
  const until = field("until", "until", state.until, { placeholder: "now" })
  const type = field("Object type (all when empty)", "objectType", state.objectType, { placeholder: "all types" })
  const form = queryForm("Change window", [since.el, until.el, type.el], () =>
    go({ since: since.input.value.trim(), until: until.input.value.trim(), objectType: type.input.value.trim() })
  )
  const body = h("div")
  fill(main, h("h1", {}, "Changes"), form, body)
  if (state.since === "") return fill(body, h("p", { class: "hint" }, "Give a window [since, until) for the rows registered or closed in it, as a deltafile would list them."))
  const q = { since: state.since, until: state.until, objectType: state.objectType }
  fill(body, h("p", { class: "hint", role: "status" }, "Loading…"))
  try {
    const { items, more } = await firstLines(await get(`/v1/changes${query(q)}`, "application/x-ndjson"), SHOWN)
    const download = (format: "ndjson" | "csv") => async () => {
      try {
        const res = await get(`/v1/changes${query({ ...q, format })}`, format === "csv" ? "text/csv" : "application/x-ndjson")
        saveBlob(await res.blob(), `changes-${state.since}-${state.until || "now"}.${format}`)
      } catch (err) {
        showError(body, err)
      }
    }
    const nd = h("button", { type: "button", id: "download-ndjson" }, "Download NDJSON")
    const csv = h("button", { type: "button", id: "download-changes-csv" }, "Download CSV")
    nd.addEventListener("click", download("ndjson"))
    csv.addEventListener("click", download("csv"))
    fill(
      body,
      h("p", { class: "summary" }, items.length === 0 ? "No changes in this window." : `${items.length}${more ? `+ changes (the first ${SHOWN} shown; download for all)` : " changes"}`),
      h("div", { class: "pager" }, nd, csv),
      dataTable(
        `Rows registered or closed in [${state.since}, ${state.until || "now"})${state.objectType === "" ? "" : ` of ${state.objectType}`}, each as it stood at the window's end`,
        ["changeAt", "change", "object", "data", "virkning", "registrering"],
        items.map((c) =>
          h(
            "tr",
            { class: c.change },
            td(showInstant(c.changeAt), "mono"),
            td(c.change),
            h("td", {}, h("a", { href: hrefOf({ view: "object", objectType: c.objectType, objectId: c.objectId, registreringstid: c.changeAt, virkningstid: "" }) }, `${c.objectType}/${c.objectId}`)),
            td(compactJson(c.data), "mono"),
            td(`[${showInstant(c.virkningFra)}, ${showInstant(c.virkningTil)})`, "mono"),
            td(`[${showInstant(c.registreringFra)}, ${showInstant(c.registreringTil)})`, "mono")
          )
        ),
        "changes",
        "No changes in this window."
      )
    )
  } catch (e) {
    showError(body, e)
  }
}
