/**
 * What the write-set lines (a′) of bench:core and bench:pg share: the kinds of statement a batch is timed by,
 * a result summed over batches, a stopwatch that charges each lap to one kind, and how the seconds are printed.
 */
import { fmt } from "./support.js"

const PARTS = ["closes", "rows", "outbox", "heads", "events", "commit"] as const
export type FloorPart = (typeof PARTS)[number]

export interface FloorResult {
  /** The seconds the write transactions took (the reads of the plan between them not counted). */
  seconds: number
  /** Each kind of statement's share of them. */
  parts: Record<FloorPart, number>
  operations: number
}

export const emptyFloorResult = (): FloorResult => ({ seconds: 0, parts: Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<FloorPart, number>, operations: 0 })

/** Start timing one batch into `result`: `lap(part)` charges the time since the last lap (or the start) to `part`; `done(operations)` ends it. */
export const batchStopwatch = (result: FloorResult) => {
  const start = performance.now()
  let mark = start
  return {
    /** Begin a lap here: the time since the last one is charged to no part (it still counts in the batch's seconds). */
    restart: () => {
      mark = performance.now()
    },
    lap: (part: FloorPart) => {
      const t = performance.now()
      result.parts[part] += (t - mark) / 1000
      mark = t
    },
    done: (operations: number) => {
      result.seconds += (performance.now() - start) / 1000
      result.operations += operations
    }
  }
}

/** `closes 1.2, rows 3.4, … (of 9.9)` */
export const floorSeconds = (f: FloorResult) => `${Object.entries(f.parts).map(([part, s]) => `${part} ${fmt(s, 1)}`).join(", ")} (of ${fmt(f.seconds, 1)})`
