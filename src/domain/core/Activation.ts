/**
 * Virkningstid activations as rules (DESIGN.md, "Virkningstid activations").
 * Upstream sends no event when a future virkningFra or virkningTil takes
 * effect, so the engine holds one itself:
 *
 *   a row stored at s holds one activation per boundary strictly after s
 *     (virkningFra → "started", virkningTil → "ended"; an open end holds none);
 *   closing the row cancels them — a row that held none has nothing to cancel;
 *   when one falls due it is skipped if the current row on the other side of
 *     its instant holds the same data (the object's view has no boundary
 *     there), else fired: announced downstream, late when fired more than
 *     `lateAfterMs` after its instant (the engine was down, or behind).
 *
 * Pure: a store reads what these need and executes what they decide.
 */
import { type Bound, type Instant, toEpochMillis } from "./Instant.js"

export const ACTIVATION_KINDS = ["started", "ended"] as const
export type ActivationKind = (typeof ACTIVATION_KINDS)[number]

/** A row's validity and when this engine stored it. */
export interface StoredBoundaries {
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly storedAt: string
}

export interface HeldActivation {
  readonly kind: ActivationKind
  readonly at: Instant
}

const NONE: ReadonlyArray<HeldActivation> = []

const after = (boundary: Bound, storedAt: string): boundary is Instant => boundary !== null && boundary > storedAt

/** The activations a row holds: one per boundary after its storing time (most rows hold none, and allocate nothing). */
export const heldActivations = (row: StoredBoundaries): ReadonlyArray<HeldActivation> => {
  const starts = after(row.virkningFra, row.storedAt), ends = after(row.virkningTil, row.storedAt)
  if (!starts && !ends) return NONE
  const held: Array<HeldActivation> = []
  if (starts) held.push({ kind: "started", at: row.virkningFra! })
  if (ends) held.push({ kind: "ended", at: row.virkningTil! })
  return held
}

/** Does closing this row cancel anything? Only a row that held an activation can have one pending. */
export const closingCancels = (row: StoredBoundaries): boolean => after(row.virkningFra, row.storedAt) || after(row.virkningTil, row.storedAt)

/**
 * Where the current row across a due activation's instant is: the one ending
 * there for a start, the one starting there for an end (current rows are
 * disjoint, so there is at most one).
 */
export const neighbourAcross = (kind: ActivationKind): "endsAt" | "startsAt" => (kind === "started" ? "endsAt" : "startsAt")

/** What a due activation becomes, and the announcement a fired one makes. */
export type ActivationSettlement =
  | { readonly _tag: "Skipped" }
  | { readonly _tag: "Fired"; readonly late: boolean; readonly announce: "validity-started" | "validity-ended" }

const SKIPPED: ActivationSettlement = { _tag: "Skipped" }

/** Fired more than `lateAfterMs` after its instant (at millisecond precision, as clocks read). */
export const isLate = (at: Instant, now: Instant, lateAfterMs: number): boolean => toEpochMillis(now) - toEpochMillis(at) > lateAfterMs

/**
 * Settle a due activation of a row holding `data`, given the current row
 * across its instant (`neighbour`, if any; see `neighbourAcross`).
 */
export const settleActivation = (
  due: { readonly kind: ActivationKind; readonly at: Instant; readonly data: string },
  neighbour: { readonly data: string } | undefined,
  now: Instant,
  lateAfterMs: number
): ActivationSettlement =>
  neighbour !== undefined && neighbour.data === due.data
    ? SKIPPED
    : { _tag: "Fired", late: isLate(due.at, now, lateAfterMs), announce: due.kind === "started" ? "validity-started" : "validity-ended" }
