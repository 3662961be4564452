/**
 * An object's history read as a sequence of registrations, pure: at each distinct `registreringFra`, which
 * rows the register closed and which it added, and for each added row what changed in `data` against the
 * rows it replaced over the same virkning (a field-by-field diff). This is the table under the diagram:
 * "on 2017-01-04 the name became Åbakke from 2017-02-01; before that it stayed Aabakke".
 */
import { canonical, type DiagramRow } from "./Diagram.js"

export interface FieldChange {
  /** Dotted path into `data` (empty: the value as a whole, when it is not an object). */
  readonly path: string
  /** Canonical JSON, or undefined when the field was absent. */
  readonly before: string | undefined
  readonly after: string | undefined
}

export interface AddedRow<R> {
  readonly row: R
  /** The rows current just before that overlap this row's virkning (what it replaces there). */
  readonly replaces: ReadonlyArray<R>
  /** Field changes against each replaced row with other data; empty when the data is the same (a re-registration of an unchanged part). */
  readonly changes: ReadonlyArray<{ readonly from: R; readonly fields: ReadonlyArray<FieldChange> }>
}

export interface Registration<R> {
  readonly registreringFra: string
  readonly closed: ReadonlyArray<R>
  readonly added: ReadonlyArray<AddedRow<R>>
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** What differs between two data values, leaf by leaf through nested objects (arrays compared whole). */
export const diffData = (before: unknown, after: unknown, prefix = ""): ReadonlyArray<FieldChange> => {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((k) => {
      const path = prefix === "" ? k : `${prefix}.${k}`
      if (!(k in before)) return [{ path, before: undefined, after: canonical(after[k]) }]
      if (!(k in after)) return [{ path, before: canonical(before[k]), after: undefined }]
      return diffData(before[k], after[k], path)
    })
  }
  const b = canonical(before), a = canonical(after)
  return b === a ? [] : [{ path: prefix, before: b, after: a }]
}

const overlaps = (a: DiagramRow, b: DiagramRow): boolean =>
  (a.virkningFra === null || b.virkningTil === null || a.virkningFra < b.virkningTil) &&
  (b.virkningFra === null || a.virkningTil === null || b.virkningFra < a.virkningTil)

const currentAt = <R extends DiagramRow>(rows: ReadonlyArray<R>, at: string, strictlyBefore: boolean): ReadonlyArray<R> =>
  rows.filter((r) => (strictlyBefore ? r.registreringFra < at : r.registreringFra <= at) && (r.registreringTil === null || (strictlyBefore ? r.registreringTil >= at : r.registreringTil > at)))

/** The registrations of a history (every instant a row was added or closed), oldest first. */
export const registrationsOf = <R extends DiagramRow>(rows: ReadonlyArray<R>): ReadonlyArray<Registration<R>> => {
  // A retract of everything adds no row: its instant is only a registreringTil.
  const instants = [...new Set(rows.flatMap((r) => (r.registreringTil === null ? [r.registreringFra] : [r.registreringFra, r.registreringTil])))].sort()
  return instants.map((at) => {
    // Just before `at`: rows registered earlier and not closed before `at`.
    const before = currentAt(rows, at, true)
    const closed = before.filter((r) => r.registreringTil === at)
    const added = rows
      .filter((r) => r.registreringFra === at)
      .sort((a, b) => ((a.virkningFra ?? "") < (b.virkningFra ?? "") ? -1 : (a.virkningFra ?? "") > (b.virkningFra ?? "") ? 1 : a.id - b.id))
      .map((row) => {
        const replaces = closed.filter((c) => overlaps(c, row))
        const changes = replaces.map((from) => ({ from, fields: diffData(from.data, row.data) })).filter((c) => c.fields.length > 0)
        return { row, replaces, changes }
      })
    return { registreringFra: at, closed, added }
  })
}
