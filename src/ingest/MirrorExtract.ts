/**
 * A register's file extract through the mirror path: bitemporal rows as the
 * register has them (Datafordeler file downloads — weekly totals and daily
 * deltas, zipped JSON of entity lists — or NDJSON / JSON arrays of rows),
 * streamed in constant memory. Rows of one object may be anywhere in the file,
 * so each batch mirrors the rows it holds (the planner matches rows by
 * identity; nothing depends on seeing an object whole) and overlap checks are
 * left to the API paths, which see whole histories. Undecodable rows are
 * recorded as refused with their reason; the rest of the file applies.
 */
import { Effect, Stream } from "effect"
import { createReadStream, statSync } from "node:fs"
import { basename } from "node:path"
import { decodeMirrorRow, type MirrorRow, type RowShape, rowWrittenAt } from "../domain/core/Mirror.js"
import { minimise } from "../domain/core/Fields.js"
import { parseJson } from "../domain/core/Json.js"
import type { Instant } from "../domain/core/Instant.js"
import { MirrorStore, type MirrorItem } from "../store/Mirror.js"
import { Store, type Submission } from "../store/Store.js"
import { jsonElements } from "./JsonElements.js"
import { splitLines } from "./Lines.js"
import { isZipFile, zipEntries, zipEntryStream } from "./Zip.js"

export interface MirrorExtractOptions {
  /** Object type, or the prefix of one per entity list (`dar` + `AdresseList` → `dar.adresse`). */
  readonly objectType: string
  readonly shape: RowShape
  readonly timeZone: string
  /** Only these entity lists (by name, e.g. `AdresseList`); default all. */
  readonly entities?: ReadonlyArray<string>
  /** The object type of an entity list's rows, instead of `objectType` + list name (a source's configured entities). */
  readonly typeOfList?: (list: string | null) => string
  /** The shape of an object type's rows, instead of `shape` (per entity: its id and identity fields, its minimisation). */
  readonly shapeOf?: (objectType: string) => RowShape | undefined
  readonly source: string
  readonly batchSize: number
  readonly maxRecordBytes: number
  readonly progress?: { bytes: number }
  readonly onBatch?: (summary: MirrorExtractSummary) => void
}

export interface MirrorExtractSummary {
  rows: number
  inserted: number
  closed: number
  unchanged: number
  anomalies: number
  refused: number
  refusals: Array<{ line?: number; reason: string; field?: string }>
  /** The newest write among the rows (their update stamps, else registration instants): how current the file is. */
  newestWrite: Instant | null
}

/** `AdresseList` → `adresse`; a root array or NDJSON has no list name. */
export const entityType = (prefix: string, list: string | null): string =>
  list === null ? prefix : `${prefix}.${list.replace(/List$/, "").replace(/^./, (c) => c.toLowerCase())}`

type RawRow = { readonly list: string | null; readonly line: number; readonly value: unknown } | { readonly list: string | null; readonly line: number; readonly bad: string }

const fromJson = (chunks: AsyncIterable<Uint8Array>, options: MirrorExtractOptions, what: string) =>
  (async function* (): AsyncGenerator<RawRow> {
    for await (const e of jsonElements(chunks, { maxElementBytes: options.maxRecordBytes, ...(options.progress ? { progress: options.progress } : {}) })) {
      // Nothing more of it can be read: the file fails, not one row.
      if (e._tag === "Bad" && e.fatal === true) throw new Error(`${what}: ${e.reason}`)
      yield e._tag === "Element" ? { list: e.list, line: e.index + 1, value: e.value } : { list: e.list, line: e.index + 1, bad: e.reason }
    }
  })()

const fromNdjson = (chunks: AsyncIterable<Uint8Array>, options: MirrorExtractOptions) =>
  (async function* (): AsyncGenerator<RawRow> {
    for await (const group of splitLines(chunks, { maxLineBytes: options.maxRecordBytes, groupSize: 500, ...(options.progress ? { progress: options.progress } : {}) })) {
      for (const line of group) {
        if (line._tag === "TooLong") yield { list: null, line: line.line, bad: `line is ${line.bytes} bytes, over the limit` }
        else {
          const json = parseJson(line.text)
          yield json.malformed === undefined ? { list: null, line: line.line, value: json.value } : { list: null, line: line.line, bad: json.malformed }
        }
      }
    }
  })()

/** The rows of a file: a zip's JSON/NDJSON entries in order (a zip by its content, whatever its name), or the file itself. */
export const extractRows = (file: string, options: MirrorExtractOptions): { readonly rows: AsyncIterable<RawRow>; readonly totalBytes: number } => {
  const isNdjson = (name: string) => /\.(ndjson|jsonl)$/i.test(name)
  if (isZipFile(file) || /\.zip$/i.test(file)) {
    const entries = zipEntries(file).filter((e) => /\.(json|ndjson|jsonl)$/i.test(e.name))
    if (entries.length === 0) throw new Error(`${file} holds no .json or .ndjson entry`)
    return {
      totalBytes: entries.reduce((n, e) => n + e.size, 0),
      rows: (async function* () {
        for (const entry of entries) {
          const chunks = zipEntryStream(file, entry)
          yield* isNdjson(entry.name) ? fromNdjson(chunks, options) : fromJson(chunks, options, `${basename(file)}: ${entry.name}`)
        }
      })()
    }
  }
  const chunks = createReadStream(file, { highWaterMark: 1 << 20 })
  return { totalBytes: statSync(file).size, rows: isNdjson(file) ? fromNdjson(chunks, options) : fromJson(chunks, options, basename(file)) }
}

export const ingestMirrorExtract = (file: string, options: MirrorExtractOptions) =>
  Effect.gen(function* () {
    const mirrorStore = yield* MirrorStore
    const store = yield* Store
    const summary: MirrorExtractSummary = { rows: 0, inserted: 0, closed: 0, unchanged: 0, anomalies: 0, refused: 0, refusals: [], newestWrite: null }
    const { rows } = yield* Effect.try({ try: () => extractRows(file, options), catch: (e) => (e instanceof Error ? e : new Error(String(e))) })
    const eventId = `extract:${basename(file)}`
    const wanted = options.entities === undefined ? undefined : new Set(options.entities)

    const applyBatch = (batch: ReadonlyArray<RawRow>) =>
      Effect.gen(function* () {
        const items = new Map<string, { objectType: string; objectId: string; rows: Array<MirrorRow>; shape: RowShape }>()
        const refused: Array<Submission> = []
        for (const raw of batch) {
          summary.rows++
          const where = raw.list === null ? `row ${raw.line}` : `${raw.list}[${raw.line}]`
          if ("bad" in raw) {
            refused.push({ line: raw.line, input: { reason: `${where}: ${raw.bad}` } })
            continue
          }
          const objectType = options.typeOfList?.(raw.list) ?? entityType(options.objectType, raw.list)
          const shape = options.shapeOf?.(objectType) ?? options.shape
          const row = decodeMirrorRow(raw.value, shape, options.timeZone)
          if ("reason" in row) {
            // The raw row as it would have been stored: minimised (a refusal keeps no dropped field either).
            refused.push({ line: raw.line, raw: JSON.stringify(minimise(raw.value, shape.fields, [shape.id, ...shape.identity, shape.registreringFra, shape.registreringTil, shape.virkningFra, shape.virkningTil])).slice(0, 4000), input: { reason: `${where}: ${row.reason}`, ...(row.field !== undefined ? { field: row.field } : {}) } })
            continue
          }
          const written = rowWrittenAt(raw.value, row, shape, options.timeZone)
          if (summary.newestWrite === null || written > summary.newestWrite) summary.newestWrite = written
          const key = `${objectType}\u0000${row.objectId}`
          const item = items.get(key) ?? { objectType, objectId: row.objectId, rows: [], shape }
          item.rows.push(row)
          items.set(key, item)
        }
        if (refused.length > 0) {
          const results = yield* store.ingest(options.source, refused)
          summary.refused += results.length
          for (const r of results) if (summary.refusals.length < 100) summary.refusals.push({ reason: r.reason ?? "refused", ...(r.line !== undefined ? { line: r.line } : {}), ...(r.field !== undefined ? { field: r.field } : {}) })
        }
        const mirrorItems: Array<MirrorItem> = [...items.values()].map(({ shape, ...i }) => ({ ...i, complete: false, identity: shape.identity, checkOverlaps: false, normalise: shape.normalise }))
        for (const r of yield* mirrorStore.mirror(options.source, eventId, mirrorItems)) {
          summary.inserted += r.inserted
          summary.closed += r.closed
          summary.unchanged += r.unchanged
          summary.anomalies += r.anomalies
        }
        options.onBatch?.(summary)
      })

    yield* Stream.fromAsyncIterable(rows, (e) => (e instanceof Error ? e : new Error(String(e)))).pipe(
      Stream.filter((r) => wanted === undefined || (r.list !== null && wanted.has(r.list))),
      Stream.grouped(options.batchSize),
      Stream.runForEach((batch) => applyBatch([...batch]))
    )
    return summary
  })
