/**
 * The operations view: is the feed healthy? Each source path's cursor and its age (red and marked STUCK when
 * older than a threshold kept in the URL), work items by state, outbox backlog per publisher, recent refused
 * inputs, anomalies, resync reports, the activations timeline and the engines on the store (members, who holds
 * each singleton, a singleton nobody holds in red) — all read from the API and `/metrics`,
 * refreshed every few seconds while the view is open.
 */
import { fromEpochMillis, toEpochMillis } from "../../domain/core/Instant.js"
import { parseMetrics, type Sample, samplesOf, valueOf } from "../Prometheus.js"
import type { UiState } from "../UiState.js"
import { get, getJson, query, showError } from "./api.js"
import { go, hrefOf } from "./app.js"
import { dataTable, field, fill, h, queryForm, s, section, showAge, showInstant, td } from "./dom.js"
import type { ClusterView } from "../../domain/cluster/ClusterView.js"
import type { Activation, Anomaly, RefusedRecord, ResyncReport } from "./types.js"

const REFRESH_MS = 3000
const RECENT = 20

interface Cursor {
  readonly source: string
  readonly cursor: string
  readonly updatedAt: string
  readonly ageSeconds: number
}

/**
 * The last `RECENT` of an id-ordered listing: ids only grow, so starting after (total − RECENT) lands near the
 * end; what follows is read page by page to the end.
 */
const recent = async <A extends { id: number }>(path: string, key: string, total: number | undefined): Promise<Array<A>> => {
  let after = Math.max(0, (total ?? 0) - RECENT)
  const out: Array<A> = []
  for (let page = 0; page < 20; page++) {
    const body = await getJson<Record<string, unknown>>(`${path}${query({ after, limit: 1000 })}`)
    const items = body[key] as Array<A>
    out.push(...items)
    if (body.next === null || items.length === 0) break
    after = Number(body.next)
  }
  return out.slice(-RECENT).reverse()
}

const cursorsTable = (cursors: ReadonlyArray<Cursor>, stuckAfter: number, pushPending: number) =>
  h(
    "div",
    {},
    dataTable(
      `Source paths: cursor and age (stuck when older than ${stuckAfter} s)`,
      ["path", "cursor", "committed or confirmed", "age", "state"],
      cursors.map((c) => {
        const stuck = c.ageSeconds > stuckAfter
        return h(
          "tr",
          { class: stuck ? "stuck" : "fresh", "data-source": c.source, "data-age": c.ageSeconds.toFixed(1) },
          td(c.source),
          td(c.cursor, "mono"),
          td(showInstant(c.updatedAt), "mono"),
          td(showAge(c.ageSeconds)),
          h("td", {}, stuck ? h("strong", { class: "badge stuck-badge" }, "⚠ STUCK") : h("span", { class: "badge ok-badge" }, "✓ moving"))
        )
      }),
      "cursors",
      "No polling source path has a cursor yet."
    ),
    h("p", { class: "hint" }, `PUSH events recorded and not yet applied: ${pushPending}`)
  )

/** The engines on the store (GET /v1/cluster): members live or gone, and each singleton's holder. */
const clusterTables = (view: ClusterView) => {
  const nameOf = (id: string | null) => (id === null ? "" : view.members.find((m) => m.id === id)?.name ?? id)
  return h(
    "div",
    { class: "two" },
    dataTable(
      "Engines on this store: last heartbeat, live or gone",
      ["member", "host", "heartbeat age", "state", "holds"],
      view.members.map((m) =>
        h(
          "tr",
          { class: m.live ? "fresh" : "stuck", "data-member": m.name },
          td(m.id === view.member ? `${m.name} (this one)` : m.name),
          td(`${m.host}:${m.pid}`),
          td(showAge(m.heartbeatAgeSeconds)),
          td(m.live ? "live" : "gone"),
          td(String(m.holds.length), "num")
        )
      ),
      "members",
      "No engine has joined this store as a member."
    ),
    dataTable(
      "Singletons: who runs each (once per cluster)",
      ["singleton", "held by"],
      view.singletons.map((x) =>
        h("tr", { class: x.holder === null ? "stuck" : "fresh", "data-singleton": x.name }, td(x.name, "mono"), h("td", {}, x.holder === null ? h("strong", { class: "badge stuck-badge" }, "⚠ nobody") : nameOf(x.holder)))
      ),
      "singletons",
      "No singleton has been competed for yet."
    )
  )
}

const byLabel = (samples: ReadonlyArray<Sample>, name: string, cls: string, caption: string, labelNames: ReadonlyArray<string>, empty: string) =>
  dataTable(
    caption,
    [...labelNames, "count"],
    samplesOf(samples, name).map((x) => h("tr", {}, labelNames.map((l) => td(x.labels[l] ?? "")), td(String(x.value), "num"))),
    cls,
    empty
  )

/** The activations from a month back to a quarter ahead on one line: now in the middle, dots by status. */
const timeline = (items: ReadonlyArray<Activation>, nowMs: number, width: number) => {
  const from = nowMs - 30 * 86_400_000, to = nowMs + 90 * 86_400_000
  const height = 64, left = 8, right = width - 8
  const x = (ms: number) => left + ((ms - from) / (to - from)) * (right - left)
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "timeline", role: "img", "aria-label": `${items.length} activations from 30 days ago to 90 days ahead` })
  svg.append(s("line", { x1: left, y1: 32, x2: right, y2: 32, class: "axis" }))
  svg.append(s("line", { x1: x(nowMs), y1: 10, x2: x(nowMs), y2: 54, class: "now" }), s("text", { x: x(nowMs), y: 62, "text-anchor": "middle", class: "tick" }, "now"))
  svg.append(s("text", { x: left, y: 62, class: "tick" }, showInstant(fromEpochMillis(from)).slice(0, 10)), s("text", { x: right, y: 62, "text-anchor": "end", class: "tick" }, showInstant(fromEpochMillis(to)).slice(0, 10)))
  for (const a of items) {
    const ms = toEpochMillis(a.at as never)
    if (ms < from || ms > to) continue
    svg.append(s("circle", { cx: x(ms), cy: 32, r: 5, class: `activation ${a.status}` }, s("title", {}, `${a.objectType}/${a.objectId} ${a.kind} at ${showInstant(a.at)}: ${a.status}`)))
  }
  return svg
}

const load = async (state: UiState, width: number) => {
  const metricsText = await (await get("/metrics", "text/plain")).text()
  const samples = parseMetrics(metricsText)
  const nowMs = Date.now()
  const [sources, refused, anomalies, reports, pending, around, cluster] = await Promise.all([
    getJson<{ cursors: Array<Cursor>; pushInboxPending: number }>("/v1/sources"),
    recent<RefusedRecord>("/v1/refused", "refused", valueOf(samples, "skygge_refused")),
    recent<Anomaly>("/v1/anomalies", "anomalies", valueOf(samples, "skygge_anomalies")),
    getJson<{ reports: Array<ResyncReport> }>(`/v1/resync-reports${query({ limit: 10 })}`),
    getJson<{ activations: Array<Activation> }>(`/v1/activations${query({ limit: 20 })}`),
    getJson<{ activations: Array<Activation> }>(`/v1/activations${query({ status: "all", from: fromEpochMillis(nowMs - 30 * 86_400_000), to: fromEpochMillis(nowMs + 90 * 86_400_000), limit: 1000 })}`),
    getJson<ClusterView>("/v1/cluster")
  ])
  const count = (name: string) => String(valueOf(samples, name) ?? "–")
  return h(
    "div",
    { class: "ops" },
    h(
      "section",
      { class: "tiles", "aria-label": "Totals" },
      [
        ["rows", count("skygge_rows")],
        ["current rows", count("skygge_current_rows")],
        ["objects", count("skygge_objects")],
        ["pending activations", count("skygge_activations_pending")],
        ["refused", count("skygge_refused")],
        ["anomalies", count("skygge_anomalies")]
      ].map(([label, value]) => h("div", { class: "tile" }, h("span", { class: "tile-value" }, value!), h("span", { class: "tile-label" }, label!)))
    ),
    section("Sources", cursorsTable(sources.cursors, state.stuckAfter, sources.pushInboxPending)),
    section("Engines", clusterTables(cluster)),
    h(
      "section",
      { class: "two" },
      h("div", {}, h("h2", {}, "Work items"), byLabel(samples, "skygge_source_work_items", "work-items", "Objects waiting to be fetched, by source and state", ["source", "state"], "No work items.")),
      h(
        "div",
        {},
        h("h2", {}, "Outbox"),
        dataTable(
          "Backlog and failed attempts per publisher",
          ["publisher", "backlog", "failed attempts"],
          samplesOf(samples, "skygge_outbox_backlog").map((x) =>
            h(
              "tr",
              { class: x.value > 0 ? "backlog" : undefined },
              td(x.labels.publisher ?? ""),
              td(String(x.value), "num"),
              td(String(samplesOf(samples, "skygge_outbox_failed_attempts").find((f) => f.labels.publisher === x.labels.publisher)?.value ?? 0), "num")
            )
          ),
          "outbox",
          "No publishers configured."
        )
      )
    ),
    section(
      "Activations",
      timeline(around.activations, nowMs, width),
      dataTable(
        "Next pending activations",
        ["at", "object", "kind"],
        pending.activations.map((a) =>
          h("tr", {}, td(showInstant(a.at), "mono"), h("td", {}, h("a", { href: hrefOf({ view: "object", objectType: a.objectType, objectId: a.objectId, virkningstid: a.at, registreringstid: "" }) }, `${a.objectType}/${a.objectId}`)), td(a.kind))
        ),
        "pending",
        "No pending activations."
      )
    ),
    section(
      "Refused inputs",
      dataTable(
        `The ${RECENT} most recent, newest first`,
        ["received", "source", "where", "reason"],
        refused.map((r) =>
          h(
            "tr",
            {},
            td(showInstant(r.receivedAt), "mono"),
            td(r.source),
            td([r.line === null ? "" : `line ${r.line}`, r.eventId ?? "", r.objectType === null ? "" : `${r.objectType}/${r.objectId ?? ""}`, r.field ?? ""].filter((x) => x !== "").join(" · ")),
            td(r.reason)
          )
        ),
        "refused",
        "No refused inputs."
      )
    ),
    section(
      "Anomalies",
      dataTable(
        `The ${RECENT} most recent, newest first`,
        ["detected", "source", "object", "kind", "detail"],
        anomalies.map((a) =>
          h(
            "tr",
            {},
            td(showInstant(a.detectedAt), "mono"),
            td(a.source),
            h("td", {}, h("a", { href: hrefOf({ view: "object", objectType: a.objectType, objectId: a.objectId }) }, `${a.objectType}/${a.objectId}`)),
            td(a.kind),
            td(a.detail)
          )
        ),
        "anomalies",
        "No anomalies."
      )
    ),
    section(
      "Resync reports",
      dataTable(
        "Reconciliation runs, newest first",
        ["finished", "source", "resource", "checked", "missing", "changed", "extra", "repaired", "revived", "error"],
        reports.reports.map((r) =>
          h(
            "tr",
            { class: r.error === null ? undefined : "failed" },
            td(showInstant(r.finishedAt) + (r.dryRun ? " (dry run)" : ""), "mono"),
            td(r.source),
            td(r.resource),
            ...[r.checked, r.missing, r.changed, r.extra, r.repaired, r.revived].map((n) => td(String(n), "num")),
            td(r.error ?? "")
          )
        ),
        "resync",
        "No resync runs yet."
      )
    )
  )
}

export const renderOperations = async (main: HTMLElement, state: UiState) => {
  const stuck = field("Stuck after (seconds)", "stuckAfter", String(state.stuckAfter), { inputmode: "numeric", size: 6 })
  const auto = h("input", { type: "checkbox", id: "f-auto", checked: true })
  const form = queryForm(
    "Thresholds",
    [stuck.el, h("label", { for: "f-auto", class: "field inline" }, auto, h("span", {}, ` refresh every ${REFRESH_MS / 1000} s`))],
    () => {
      const n = Number(stuck.input.value)
      go({ stuckAfter: n > 0 ? n : state.stuckAfter })
    },
    "Apply"
  )
  const status = h("p", { class: "hint", role: "status" }, "Loading…")
  const body = h("div")
  fill(main, h("h1", {}, "Operations"), form, status, body)
  const refresh = async () => {
    try {
      const content = await load(state, Math.max(300, Math.min(body.clientWidth || 800, 1200)))
      fill(body, content)
      fill(status, `As of ${new Date().toISOString().slice(0, 19).replace("T", " ")} UTC`)
    } catch (e) {
      showError(body, e)
    }
  }
  await refresh()
  const timer = window.setInterval(() => {
    if (!body.isConnected) return window.clearInterval(timer)
    if (auto.checked) void refresh()
  }, REFRESH_MS)
}
