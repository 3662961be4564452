/**
 * What a committed change of an object is called downstream: `created` when
 * the object had no current row before it, `deleted` when it has none after
 * it, else `updated`. Both write paths — operations (domain/Plan) and mirrored
 * rows (domain/core/Mirror) — name their changes by this one rule.
 */
import type { Bound, Instant } from "./Instant.js"
import type { MirrorPlan } from "./Mirror.js"

export type ChangeKind = "created" | "updated" | "deleted"

export const changeKind = (currentBefore: number, currentAfter: number): ChangeKind =>
  currentBefore === 0 ? "created" : currentAfter === 0 ? "deleted" : "updated"

/** An operation's change: every row it closes was current, every row it inserts is. */
export const operationChangeKind = (
  currentBefore: number,
  plan: { readonly close: ReadonlyArray<unknown>; readonly insert: ReadonlyArray<unknown> }
): ChangeKind => changeKind(currentBefore, currentBefore - plan.close.length + plan.insert.length)

/**
 * The same, for a plan made from only the current rows overlapping the operation's portion (which
 * it closes, if it changes anything). A change that closes a row and inserts one is an update
 * whatever else is current; otherwise the kind depends on how many rows are current in all, which
 * `countCurrent` is asked for only then.
 */
export const overlapChangeKind = (
  plan: { readonly close: ReadonlyArray<unknown>; readonly insert: ReadonlyArray<unknown> },
  countCurrent: () => number
): ChangeKind => (plan.close.length > 0 && plan.insert.length > 0 ? "updated" : operationChangeKind(countCurrent(), plan))

/** What a mirror plan that writes something announces, and where the object's head moves. */
export interface MirroredChange {
  readonly kind: ChangeKind
  /** The latest registration instant the plan writes (a close's or an inserted row's): the head moves there at least. */
  readonly registreringstid: Instant
  /** The portion announced: the first current row inserted, else the first row inserted, else none. */
  readonly virkningFra: Bound
  readonly virkningTil: Bound
}

/**
 * The change a mirror plan makes of an object holding `currentBefore` current
 * rows; undefined when it neither closes nor inserts a row. An inserted row that
 * upstream already closed is a change too: a new fact of the register's history.
 */
export const mirroredChange = (plan: Pick<MirrorPlan, "close" | "insert">, currentBefore: number): MirroredChange | undefined => {
  let latest: Instant | undefined
  const later = (t: Bound) => {
    if (t !== null && (latest === undefined || t > latest)) latest = t
  }
  for (const c of plan.close) later(c.at)
  let currentInserted = 0
  for (const r of plan.insert) {
    later(r.registreringFra)
    later(r.registreringTil)
    if (r.registreringTil === null) currentInserted++
  }
  if (latest === undefined) return undefined
  const announced = plan.insert.find((r) => r.registreringTil === null) ?? plan.insert[0]
  return {
    kind: changeKind(currentBefore, currentBefore - plan.close.length + currentInserted),
    registreringstid: latest,
    virkningFra: announced?.virkningFra ?? null,
    virkningTil: announced?.virkningTil ?? null
  }
}
