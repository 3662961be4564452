/** Human-readable output for the CLI: aligned tables, `-` for an open end. */
import type { ChangeRow, RefusedRecord, Row } from "../store/Store.js"

const INSTANT_WIDTH = 27
const show = (v: string | null) => (v === null ? "-" : v)
const clip = (s: string, width: number) => (s.length > width ? `${s.slice(0, width - 1)}…` : s)
const cell = (s: string, width: number) => clip(s, width).padEnd(width)

export interface RowTable {
  header: () => string
  line: (row: Row | ChangeRow) => string
}

/** A table for streamed rows: fixed widths, so it can print before seeing every row. */
export const rowTable = (options: { objectColumn: boolean; changeColumn: boolean }): RowTable => {
  const cols: Array<[string, number, (r: Row | ChangeRow) => string]> = []
  if (options.changeColumn) cols.push(["change", 10, (r) => ("change" in r ? r.change : "")])
  if (options.objectColumn) cols.push(["objectType/objectId", 28, (r) => `${r.objectType}/${r.objectId}`])
  cols.push(
    ["registreringFra", INSTANT_WIDTH, (r) => r.registreringFra],
    ["registreringTil", INSTANT_WIDTH, (r) => show(r.registreringTil)],
    ["virkningFra", INSTANT_WIDTH, (r) => show(r.virkningFra)],
    ["virkningTil", INSTANT_WIDTH, (r) => show(r.virkningTil)],
    ["data", 60, (r) => JSON.stringify(r.data)]
  )
  return {
    header: () => cols.map(([name, w]) => cell(name, w)).join("  ").trimEnd(),
    line: (row) => cols.map(([, w, get]) => cell(get(row), w)).join("  ").trimEnd()
  }
}

/** One row, vertically: field, value. */
export const rowRecord = (row: Row): string =>
  [
    ["objectType", row.objectType],
    ["objectId", row.objectId],
    ["registreringFra", row.registreringFra],
    ["registreringTil", show(row.registreringTil)],
    ["virkningFra", show(row.virkningFra)],
    ["virkningTil", show(row.virkningTil)],
    ["data", JSON.stringify(row.data)],
    ["eventId", row.eventId],
    ["storedAt", row.storedAt]
  ]
    .map(([k, v]) => `${k!.padEnd(16)} ${v}`)
    .join("\n")

export const refusedLine = (r: RefusedRecord): string =>
  [
    String(r.id).padStart(6),
    r.receivedAt,
    cell(`${r.source}${r.line === null ? "" : `:${r.line}`}`, 30),
    r.field === null ? "" : `[${r.field}] `,
    r.reason
  ].join("  ")

export const formatCount = (n: number) => n.toLocaleString("en-US")
