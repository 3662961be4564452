/**
 * The changes between two instants come from two streams, each read in its own index order so
 * paging a huge window never sorts it: rows registered in the window (and not also closed in it)
 * by (registrering_fra, id), and rows closed in it by (registrering_til, id). Every backend merges
 * them here, into one order by (instant of the change, id).
 */
import type { Bound, Instant } from "../domain/core/Instant.js"
import type { ChangeRow, Row } from "./Store.js"

/** How a backend's record is read: its instants, its id, and the row it shows. */
export interface ChangeSource<R> {
  readonly registreringFra: (r: R) => string
  readonly registreringTil: (r: R) => Bound | string | null
  readonly id: (r: R) => number
  readonly row: (r: R) => Row
}

export const mergeChanges = <R>(registered: ReadonlyArray<R>, closed: ReadonlyArray<R>, limit: number, read: ChangeSource<R>): Array<ChangeRow> => {
  const out: Array<ChangeRow> = []
  let i = 0, j = 0
  while (out.length < limit && (i < registered.length || j < closed.length)) {
    const a = registered[i], b = closed[j]
    const takeRegistered =
      b === undefined ||
      (a !== undefined && (read.registreringFra(a) < read.registreringTil(b)! || (read.registreringFra(a) === read.registreringTil(b) && read.id(a) < read.id(b))))
    if (takeRegistered) {
      // Closed after the window: as it stood at `until`, still open.
      out.push({ ...read.row(a!), registreringTil: null, change: "registered", changeAt: read.registreringFra(a!) as Instant })
      i++
    } else {
      out.push({ ...read.row(b!), change: "closed", changeAt: read.registreringTil(b!) as Instant })
      j++
    }
  }
  return out
}
