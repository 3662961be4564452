/**
 * The one generic way in: NDJSON operations (from a file or an HTTP body)
 * decoded line by line, refused lines recorded with their reason, the rest
 * applied in batches of one transaction each. A bad line never costs a good one.
 *
 * One request (or one import run) records at most MAX_RECORDED_REFUSALS of its
 * refused inputs one by one; past that they are counted, and one record says how
 * many more there were — a megabyte of junk cannot flood the refused table.
 */
import { type ConfigError, Effect, Stream } from "effect"
import { ApiConfig } from "../config/Config.js"
import { parseJson, stringifyJson } from "../domain/core/Json.js"
import { decodeOperation, isRefusal } from "../domain/core/Operation.js"
import { Store, type StoreShape, type Submission, type SubmissionResult } from "../store/Store.js"
import { type Line, type LineProgress, splitLines } from "./Lines.js"

/** Refused inputs recorded one by one (with their raw input) per request or import run. */
export const MAX_RECORDED_REFUSALS = 1000

export interface IngestSummary {
  lines: number
  applied: number
  unchanged: number
  duplicate: number
  refused: number
  /** Refused inputs past MAX_RECORDED_REFUSALS: counted here and in one summary record, not recorded one by one. */
  notRecorded?: number
  /** The first refusals (up to `maxListedRefusals`), by line. */
  refusals: Array<{ line?: number; eventId?: string; field?: string; reason: string }>
}

export interface IngestOptions {
  readonly source: string
  readonly batchSize: number
  readonly maxLineBytes: number
  readonly timeZone: string
  /** How deeply `data` may nest; default `api.maxDepth` from the configuration. */
  readonly maxDepth?: number
  readonly maxListedRefusals?: number
  readonly progress?: LineProgress
  /** See splitLines: the source was cut short. */
  readonly truncated?: () => boolean
  /** Called after each committed batch. */
  readonly onBatch?: (summary: IngestSummary) => void
}

export const emptySummary = (): IngestSummary => ({ lines: 0, applied: 0, unchanged: 0, duplicate: 0, refused: 0, refusals: [] })

/** Decode one NDJSON line into a submission (an operation, or a refusal saying why not). */
export const decodeLine = (line: Line, timeZone: string, maxDepth?: number): Submission => {
  if (line._tag === "TooLong") {
    return { line: line.line, raw: line.head, input: { reason: `line ${line.line} is ${line.bytes} bytes, over the limit (api.maxLineBytes)` } }
  }
  const json = parseJson(line.text)
  if (json.malformed !== undefined) return { line: line.line, raw: line.text, input: { reason: json.malformed } }
  return { line: line.line, raw: line.text, input: decodeOperation(json.value, timeZone, maxDepth) }
}

export const addResults = (summary: IngestSummary, results: ReadonlyArray<SubmissionResult>, maxListed: number): void => {
  for (const r of results) {
    summary.lines++
    summary[r.outcome]++
    if (r.outcome === "refused" && summary.refusals.length < maxListed) {
      const entry: IngestSummary["refusals"][number] = { reason: r.reason ?? "refused" }
      if (r.line !== undefined) entry.line = r.line
      if (r.eventId !== undefined) entry.eventId = r.eventId
      if (r.field !== undefined) entry.field = r.field
      summary.refusals.push(entry)
    }
  }
}

/**
 * A turn of the event loop. A store's batch is synchronous work (on SQLite the commit too), and a body
 * already read, a JSON array above all, would otherwise be applied batch after batch in microtasks with
 * no other request, timer or socket served until its end: a load balancer's /health waited the whole
 * body out (seconds for tens of MiB), a kept-alive connection timed out under it, heartbeats stalled.
 */
const eventLoopTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const turn = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(turn))
})

/**
 * Hands batches to the store, recording refusals one by one only up to
 * MAX_RECORDED_REFUSALS; the rest are counted and summed up in one record by `finish`.
 */
const refusalBudget = (store: StoreShape, source: string, summary: IngestSummary, maxListed: number) => {
  let recorded = 0
  return {
    submit: (batch: ReadonlyArray<Submission>) =>
      Effect.gen(function* () {
        const kept: Array<Submission> = []
        const dropped = new Map<number, SubmissionResult>()
        batch.forEach((item, i) => {
          if (!isRefusal(item.input) || recorded < MAX_RECORDED_REFUSALS) {
            if (isRefusal(item.input)) recorded++
            kept.push(item)
            return
          }
          const r = item.input
          dropped.set(i, {
            outcome: "refused",
            reason: r.reason,
            ...(item.line === undefined ? {} : { line: item.line }),
            ...(r.eventId === undefined ? {} : { eventId: r.eventId }),
            ...(r.field === undefined ? {} : { field: r.field })
          })
        })
        const stored = yield* store.ingest(source, kept)
        // Refusals the store decided (stale registrations, reused event ids) were recorded too.
        recorded += stored.filter((r) => r.outcome === "refused").length - kept.filter((k) => isRefusal(k.input)).length
        const results: Array<SubmissionResult> = []
        let k = 0
        for (let i = 0; i < batch.length; i++) results.push(dropped.get(i) ?? stored[k++]!)
        addResults(summary, results, maxListed)
        if (dropped.size > 0) summary.notRecorded = (summary.notRecorded ?? 0) + dropped.size
        yield* eventLoopTurn
      }),
    finish: Effect.suspend(() => {
      const n = summary.notRecorded ?? 0
      if (n === 0) return Effect.void
      const reason = `${n} more refused inputs of this request or import were counted but not recorded one by one (at most ${MAX_RECORDED_REFUSALS} are)`
      return Effect.asVoid(store.ingest(source, [{ input: { reason }, raw: "" }]))
    })
  }
}

/** `api.maxDepth` unless the caller says. */
const maxDepthOf = (options: { readonly maxDepth?: number }): Effect.Effect<number, ConfigError.ConfigError> =>
  options.maxDepth === undefined ? Effect.map(ApiConfig, (api) => api.maxDepth) : Effect.succeed(options.maxDepth)

/** Ingest an NDJSON byte stream. Each batch commits on its own; interruption stops between batches. */
export const ingestNdjson = (chunks: AsyncIterable<Uint8Array>, options: IngestOptions) =>
  Effect.gen(function* () {
    const store = yield* Store
    const maxDepth = yield* maxDepthOf(options)
    const summary = emptySummary()
    const budget = refusalBudget(store, options.source, summary, options.maxListedRefusals ?? 100)
    const groups = splitLines(chunks, {
      maxLineBytes: options.maxLineBytes,
      groupSize: options.batchSize,
      ...(options.progress ? { progress: options.progress } : {}),
      ...(options.truncated ? { truncated: options.truncated } : {})
    })
    yield* Stream.fromAsyncIterable(groups, (e) => e).pipe(
      Stream.runForEach((group) =>
        Effect.zipRight(
          budget.submit(group.map((line) => decodeLine(line, options.timeZone, maxDepth))),
          Effect.sync(() => options.onBatch?.(summary))
        )
      ),
      // A finalizer cannot fail: the store failing here too dies loudly (the batch's own failure, if any, is what the caller sees).
      Effect.ensuring(Effect.orDie(budget.finish))
    )
    return summary
  })

/**
 * Ingest already-parsed values (a JSON body holding one operation or an array of
 * them). One operation is held to `maxLineBytes` as an NDJSON line is.
 */
export const ingestValues = (values: ReadonlyArray<unknown>, options: IngestOptions) =>
  Effect.gen(function* () {
    const store = yield* Store
    const maxDepth = yield* maxDepthOf(options)
    const summary = emptySummary()
    const budget = refusalBudget(store, options.source, summary, options.maxListedRefusals ?? 100)
    const many = values.length > 1 // a body of one object has no index to name
    for (let i = 0; i < values.length; i += options.batchSize) {
      const batch: Array<Submission> = values.slice(i, i + options.batchSize).map((value, k) => {
        const index = i + k
        const raw = stringifyJson(value) ?? ""
        const bytes = Buffer.byteLength(raw)
        if (bytes > options.maxLineBytes) {
          const where = many ? `operation at index ${index}` : "the operation"
          return { line: index + 1, raw: raw.slice(0, 200), input: { reason: `${where} is ${bytes} bytes as JSON, over the limit of ${options.maxLineBytes} (api.maxLineBytes)` } }
        }
        return { line: index + 1, raw, input: decodeOperation(value, options.timeZone, maxDepth) }
      })
      yield* budget.submit(batch)
    }
    yield* budget.finish
    return summary
  })
