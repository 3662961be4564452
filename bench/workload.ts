/**
 * The core benchmarks' workload (bench/core.ts on SQLite, bench/pg.ts on PostgreSQL): N assert
 * operations as NDJSON, the engine's import of such a file, and the point queries asked afterwards.
 *
 * Half the operations create an object; the other half re-register one of those objects later
 * with new data from a later validity day, which closes a row and inserts two (the part before
 * keeps the old data). Rows ≈ 1.5 × N.
 */
import { Effect } from "effect"
import { once } from "node:events"
import { createReadStream, createWriteStream } from "node:fs"
import { performance } from "node:perf_hooks"
import { fromEpochMillis, type Instant } from "../src/domain/core/Instant.js"
import { ingestNdjson } from "../src/ingest/Ingest.js"
import { Store, type StoreShape } from "../src/store/Store.js"

export const BASE = Date.UTC(2015, 0, 1)
export const DAY = 86_400_000

export const objectId = (i: number) => `obj-${String(i).padStart(8, "0")}`

/** The workload of N operations on ⌈N/2⌉ objects. */
export const workload = (n: number) => {
  const objects = Math.ceil(n / 2)
  const operationLine = (k: number): string => {
    const i = k % objects
    const second = k >= objects
    const reg = fromEpochMillis(BASE + (second ? 400 : 1) * DAY + i * 1000)
    const fra = fromEpochMillis(BASE + (second ? 200 : 0) * DAY)
    return JSON.stringify({
      op: "assert",
      objectType: "adresse",
      objectId: objectId(i),
      registreringstid: reg,
      virkningFra: fra,
      virkningTil: null,
      data: { vejnavn: second ? `Nyvej ${i}` : `Gammelvej ${i}`, husnr: String(i % 300), postnr: 1000 + (i % 8000), status: "gældende" },
      eventId: `ev-${k}`
    })
  }
  /** The first `lines` operations as an NDJSON file. */
  const writeFile = (path: string, lines: number) => writeLines(path, lines, operationLine)
  /** Query q: an object and instants (registreringstid r, virkningstid v) spread over the history. */
  const pick = (q: number) => {
    const i = (q * 7919) % objects
    const r = fromEpochMillis(BASE + ((q % 3) * 300 + 1) * DAY + i * 1000) as Instant
    const v = fromEpochMillis(BASE + (q % 400) * DAY) as Instant
    return { objectId: objectId(i), r, v }
  }
  return { objects, operationLine, writeFile, pick }
}

/**
 * Issue 17's whole-process workload: `n` asserts on ⌈n/10⌉ objects, each registered ten times (once
 * per round), every round later in registration and in validity than the one before (the validity
 * start moves 20 days a round), with new data: each re-registration closes a row and inserts two.
 */
export const reregistrations = (n: number) => {
  const objects = Math.ceil(n / 10)
  const operationLine = (k: number): string => {
    const i = k % objects
    const round = Math.floor(k / objects)
    return JSON.stringify({
      op: "assert",
      objectType: "adresse",
      objectId: objectId(i),
      registreringstid: fromEpochMillis(BASE + (round * 40 + 1) * DAY + i * 1000),
      virkningFra: fromEpochMillis(BASE + round * 20 * DAY),
      virkningTil: null,
      data: { vejnavn: `Vej ${i} runde ${round}`, husnr: String(i % 300), postnr: 1000 + (i % 8000), status: "gældende" },
      eventId: `rr-${k}`
    })
  }
  return { objects, writeFile: (path: string) => writeLines(path, n, operationLine) }
}

/** Lines 0 … lines-1 of `line` as an NDJSON file, written in chunks. */
const writeLines = async (path: string, lines: number, line: (k: number) => string) => {
  const out = createWriteStream(path)
  let chunk: Array<string> = []
  for (let k = 0; k < lines; k++) {
    chunk.push(line(k))
    if (chunk.length === 5000) {
      if (!out.write(chunk.join("\n") + "\n")) await once(out, "drain")
      chunk = []
    }
  }
  out.end(chunk.length > 0 ? chunk.join("\n") + "\n" : "")
  await once(out, "finish")
}

/** The engine importing an NDJSON file of `lines` operations, as `skygge import` does (2,000 per batch); its seconds. */
export const engineImport = async (store: StoreShape, file: string, lines: number): Promise<number> => {
  const start = performance.now()
  const summary = await Effect.runPromise(
    ingestNdjson(createReadStream(file), { source: "bench", batchSize: 2000, maxLineBytes: 1 << 20, timeZone: "UTC" }).pipe(Effect.provideService(Store, store))
  )
  const seconds = (performance.now() - start) / 1000
  if (summary.applied !== lines) throw new Error(`expected ${lines} applied, got ${JSON.stringify({ ...summary, refusals: summary.refusals.slice(0, 3) })}`)
  return seconds
}
