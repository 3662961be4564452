/**
 * Rows as CSV (RFC 4180: comma, CRLF, fields quoted when they hold a comma,
 * quote or line break), for downstreams that still want deltafiles. Open ends
 * are empty fields; `data` is one field of canonical JSON, so no attribute
 * schema has to be guessed and nothing is lost.
 */
import { canonicalJson } from "./Operation.js"

export interface CsvRow {
  readonly objectType: string
  readonly objectId: string
  readonly registreringFra: string
  readonly registreringTil: string | null
  readonly virkningFra: string | null
  readonly virkningTil: string | null
  readonly data: unknown
  readonly eventId: string
  readonly storedAt: string
  readonly change?: string
  readonly changeAt?: string
}

const ROW_COLUMNS = ["objectType", "objectId", "registreringFra", "registreringTil", "virkningFra", "virkningTil", "data", "eventId", "storedAt"] as const

export const csvField = (value: string | null | undefined): string => {
  if (value === null || value === undefined) return ""
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replaceAll('"', '""')}"` : value
}

/** The header line; `changes` adds the change and its instant in front. */
export const csvHeader = (changes: boolean): string => [...(changes ? ["change", "changeAt"] : []), ...ROW_COLUMNS].join(",") + "\r\n"

export const csvLine = (row: CsvRow, changes: boolean): string =>
  [
    ...(changes ? [row.change ?? "", row.changeAt ?? ""] : []),
    row.objectType,
    row.objectId,
    row.registreringFra,
    row.registreringTil,
    row.virkningFra,
    row.virkningTil,
    canonicalJson(row.data),
    row.eventId,
    row.storedAt
  ]
    .map(csvField)
    .join(",") + "\r\n"
