/**
 * Pure planning of one operation against an object's current rows, with
 * SQL:2011 `FOR PORTION OF` semantics on a system-versioned table:
 *
 *   at registration time r, every current row overlapping the portion
 *   [vf, vt) is closed (registreringTil = r); the parts of those rows outside
 *   the portion are re-registered at r with their old data; an assert adds one
 *   row holding the new data over the portion.
 *
 * Nothing changes — and nothing is written — when an assert finds the portion
 * already covered, without gaps, by rows holding equal data, or a retract
 * finds nothing in the portion.
 */
import { type Bound, type Instant, endAfter, startBefore } from "./Instant.js"
import type { Operation } from "./Operation.js"

/** The part of a current row planning needs. `data` is canonical JSON text. */
export interface CurrentRow {
  readonly id: number
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly data: string
}

export interface NewRow {
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly data: string
}

export type Plan =
  | { readonly _tag: "Unchanged" }
  | { readonly _tag: "Change"; readonly close: ReadonlyArray<number>; readonly insert: ReadonlyArray<NewRow> }

const UNCHANGED: Plan = { _tag: "Unchanged" }

/** Do [aFra, aTil) and [bFra, bTil) share an instant? Open ends are infinite. */
export const overlaps = (aFra: Bound, aTil: Bound, bFra: Bound, bTil: Bound): boolean =>
  (aFra === null || bTil === null || aFra < bTil) && (bFra === null || aTil === null || bFra < aTil)

export const planOperation = (current: ReadonlyArray<CurrentRow>, op: Operation): Plan => {
  const { virkningFra: pf, virkningTil: pt } = op
  const hit = current.filter((row) => overlaps(row.virkningFra, row.virkningTil, pf, pt))
  if (op.op === "retract" ? hit.length === 0 : coversWithData(hit, pf, pt, op.data)) return UNCHANGED

  const insert: Array<NewRow> = []
  for (const row of hit) {
    // The part before the portion keeps its old data.
    if (startBefore(row.virkningFra, pf)) insert.push({ virkningFra: row.virkningFra, virkningTil: pf, data: row.data })
    // The part after the portion keeps its old data.
    if (endAfter(row.virkningTil, pt)) insert.push({ virkningFra: pt, virkningTil: row.virkningTil, data: row.data })
  }
  if (op.op === "assert") insert.push({ virkningFra: pf, virkningTil: pt, data: op.data })
  return { _tag: "Change", close: hit.map((row) => row.id), insert }
}

/** Do the rows cover [pf, pt) without a gap, every one holding `data`? */
const coversWithData = (rows: ReadonlyArray<CurrentRow>, pf: Bound, pt: Bound, data: string): boolean => {
  if (rows.length === 0 || rows.some((row) => row.data !== data)) return false
  const sorted = [...rows].sort((a, b) => (startBefore(a.virkningFra, b.virkningFra) ? -1 : startBefore(b.virkningFra, a.virkningFra) ? 1 : 0))
  if (startBefore(pf, sorted[0]!.virkningFra)) return false
  let reached: Bound = sorted[0]!.virkningTil
  for (const row of sorted.slice(1)) {
    if (reached === null) return true
    if (row.virkningFra === null || row.virkningFra > reached) return false
    if (endAfter(row.virkningTil, reached)) reached = row.virkningTil
  }
  return !endAfter(pt, reached)
}

/**
 * Registrations of an object never go backwards: an operation older than the
 * object's latest accepted registration is refused. An equal one is accepted
 * and applied after it (rows it closes get an empty registration interval,
 * visible to no query).
 */
export const staleReason = (latest: Instant | undefined, op: Operation): string | undefined =>
  latest !== undefined && op.registreringstid < latest
    ? `stale registration: registreringstid ${op.registreringstid} is older than the latest registration ${latest} of ${op.objectType}/${op.objectId}`
    : undefined
