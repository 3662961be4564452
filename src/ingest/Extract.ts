/**
 * A full load from a dump of a non-bitemporal provider's current state
 * (NDJSON, CSV or a JSON array / collection envelope): each record becomes the
 * object's state at one registration time, through the same rules as a fetch
 * (ProviderState) — an unchanged object writes nothing, so loading the same
 * dump twice, or a dump that mostly agrees, costs little. With `full`, the
 * dump is the whole population: objects the shadow holds that it lacks are
 * retracted. NDJSON and CSV stream in constant memory (`full` keeps the set of
 * ids seen); a JSON document is read whole, so it is size-limited.
 */
import { Effect, Option, Stream } from "effect"
import { readFile } from "node:fs/promises"
import { idOf } from "../domain/intark/ChangeHint.js"
import { getPath, parseJson } from "../domain/core/Json.js"
import type { Instant } from "../domain/core/Instant.js"
import type { Refusal } from "../domain/core/Operation.js"
import type { FieldFilter } from "../domain/core/Fields.js"
import { deletionOperations, type ResourceRule, stateOperations } from "../domain/intark/ProviderState.js"
import { presentState } from "../store/Present.js"
import { Store, type Submission } from "../store/Store.js"
import { csvRecords } from "./CsvRecords.js"
import { addResults, emptySummary, type IngestSummary } from "./Ingest.js"
import { splitLines } from "./Lines.js"

export type ExtractFormat = "ndjson" | "csv" | "json"

export interface ExtractOptions {
  readonly objectType: string
  /** Dotted path of the object id in a record. */
  readonly idField: string
  readonly registreringstid: Instant
  readonly format: ExtractFormat
  readonly validFrom?: string
  readonly validTo?: string
  /** Minimisation: the fields of each record that are stored. */
  readonly fields?: FieldFilter
  readonly timeZone: string
  /** The dump is the whole population: retract what it lacks. */
  readonly full: boolean
  readonly source: string
  readonly batchSize: number
  readonly maxRecordBytes: number
  /** Largest JSON document read whole. */
  readonly maxJsonBytes?: number
  readonly progress?: { bytes: number }
  readonly onBatch?: (summary: ExtractSummary) => void
}

export interface ExtractSummary extends IngestSummary {
  /** Records read from the dump. */
  records: number
  /** Objects retracted because a full dump lacked them. */
  retracted: number
}

type Parsed = { readonly line: number; readonly record: unknown } | { readonly line: number; readonly bad: string }

/** The dump's records, in order, as parsed values or what was wrong with them. */
const records = (chunks: AsyncIterable<Uint8Array>, file: string | undefined, options: ExtractOptions): AsyncIterable<Parsed> => {
  switch (options.format) {
    case "csv":
      return (async function* () {
        for await (const r of csvRecords(chunks, { maxRecordBytes: options.maxRecordBytes, ...(options.progress ? { progress: options.progress } : {}) })) {
          yield r._tag === "Record" ? { line: r.line, record: r.values } : { line: r.line, bad: r.reason }
        }
      })()
    case "ndjson":
      return (async function* () {
        for await (const group of splitLines(chunks, { maxLineBytes: options.maxRecordBytes, groupSize: 500, ...(options.progress ? { progress: options.progress } : {}) })) {
          for (const line of group) {
            if (line._tag === "TooLong") {
              yield { line: line.line, bad: `line is ${line.bytes} bytes, over the limit` }
              continue
            }
            const json = parseJson(line.text)
            yield json.malformed === undefined ? { line: line.line, record: json.value } : { line: line.line, bad: json.malformed }
          }
        }
      })()
    case "json":
      return (async function* () {
        if (file === undefined) throw new Error("a JSON document is read from a file; use NDJSON or CSV for stdin")
        const text = await readFile(file, "utf8")
        if (options.progress) options.progress.bytes = Buffer.byteLength(text)
        const limit = options.maxJsonBytes ?? 512 * 1024 * 1024
        if (text.length > limit) throw new Error(`a JSON document over ${limit} bytes is not read whole: convert it to NDJSON`)
        const doc = JSON.parse(text) as unknown
        const items = Array.isArray(doc) ? doc : Array.isArray((doc as { items?: unknown })?.items) ? (doc as { items: Array<unknown> }).items : undefined
        if (items === undefined) throw new Error("expected a JSON array of records, or an object with an 'items' array")
        let n = 0
        for (const record of items) yield { line: ++n, record }
      })()
  }
}


export const ingestExtract = (chunks: AsyncIterable<Uint8Array>, file: string | undefined, options: ExtractOptions) =>
  Effect.gen(function* () {
    const store = yield* Store
    const summary: ExtractSummary = { ...emptySummary(), records: 0, retracted: 0 }
    const rule: ResourceRule = {
      objectType: options.objectType,
      timeZone: options.timeZone,
      ...(options.validFrom !== undefined ? { validFrom: options.validFrom } : {}),
      ...(options.validTo !== undefined ? { validTo: options.validTo } : {}),
      ...(options.fields !== undefined ? { fields: options.fields } : {})
    }
    const r = options.registreringstid
    const seen = options.full ? new Set<string>() : undefined
    // Stable event ids: the same dump at the same registration time is a duplicate, not a second change.
    const eventId = (id: string) => `extract:${options.objectType}:${id}:${r}`
    const refuse = (line: number, reason: string, field?: string): Submission => ({
      line,
      input: { reason, ...(field !== undefined ? { field } : {}), objectType: options.objectType } satisfies Refusal
    })

    const toSubmissions = (parsed: Parsed): ReadonlyArray<Submission> => {
      summary.records++
      if ("bad" in parsed) return [refuse(parsed.line, `record ${parsed.line}: ${parsed.bad}`)]
      const id = idOf(getPath(parsed.record, options.idField))
      if (id === undefined) return [refuse(parsed.line, `record ${parsed.line} has no id at '${options.idField}'`, options.idField)]
      seen?.add(id)
      const ops = stateOperations(rule, id, parsed.record, r, eventId(id))
      if ("reason" in ops) return [{ line: parsed.line, input: { ...ops, objectType: options.objectType, objectId: id } }]
      return ops.map((op) => ({ line: parsed.line, input: op }))
    }

    yield* Stream.fromAsyncIterable(records(chunks, file, options), (e) => (e instanceof Error ? e : new Error(String(e)))).pipe(
      Stream.mapConcat(toSubmissions),
      Stream.grouped(options.batchSize),
      Stream.mapEffect((batch) => store.ingest(options.source, [...batch])),
      Stream.runForEach((results) =>
        Effect.sync(() => {
          // `lines` counts operations (a record with validity fields makes up to three); `records` counts records.
          addResults(summary, results, 100)
          options.onBatch?.(summary)
        })
      )
    )

    if (seen !== undefined) {
      // Whatever the shadow holds at r that the dump lacks is gone.
      const hasValidity = options.validFrom !== undefined || options.validTo !== undefined
      let batch: Array<Submission> = []
      const flush = Effect.suspend(() => {
        const b = batch
        batch = []
        return b.length === 0 ? Effect.void : Effect.map(store.ingest(options.source, b), (results) => addResults(summary, results, 100))
      })
      for (let after = ""; ; ) {
        const ids = yield* store.objectIds(options.objectType, after, 1000)
        for (const id of ids) {
          if (seen.has(id)) continue
          if (Option.isNone(yield* presentState(options.objectType, id, hasValidity, r))) continue
          summary.retracted++
          for (const op of deletionOperations(rule, id, r, `${eventId(id)}:gone`)) batch.push({ input: op })
          if (batch.length >= options.batchSize) yield* flush
        }
        if (ids.length < 1000) break
        after = ids[ids.length - 1]!
      }
      yield* flush
    }
    return summary
  })
