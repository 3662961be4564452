/**
 * The one generic way in: NDJSON operations (from a file or an HTTP body)
 * decoded line by line, refused lines recorded with their reason, the rest
 * applied in batches of one transaction each. A bad line never costs a good one.
 */
import { Effect, Stream } from "effect"
import { decodeOperation, type Refusal } from "../domain/Operation.js"
import { Store, type Submission, type SubmissionResult } from "../store/Store.js"
import { type Line, type LineProgress, splitLines } from "./Lines.js"

export interface IngestSummary {
  lines: number
  applied: number
  unchanged: number
  duplicate: number
  refused: number
  /** The first refusals (up to `maxListedRefusals`), by line. */
  refusals: Array<{ line?: number; eventId?: string; field?: string; reason: string }>
}

export interface IngestOptions {
  readonly source: string
  readonly batchSize: number
  readonly maxLineBytes: number
  readonly timeZone: string
  readonly maxListedRefusals?: number
  readonly progress?: LineProgress
  /** See splitLines: the source was cut short. */
  readonly truncated?: () => boolean
  /** Called after each committed batch. */
  readonly onBatch?: (summary: IngestSummary) => void
}

export const emptySummary = (): IngestSummary => ({ lines: 0, applied: 0, unchanged: 0, duplicate: 0, refused: 0, refusals: [] })

/** Decode one NDJSON line into a submission (an operation, or a refusal saying why not). */
export const decodeLine = (line: Line, timeZone: string): Submission => {
  if (line._tag === "TooLong") {
    return { line: line.line, raw: line.head, input: { reason: `line ${line.line} is ${line.bytes} bytes, over the limit` } }
  }
  let json: unknown
  try {
    json = JSON.parse(line.text)
  } catch (e) {
    return { line: line.line, raw: line.text, input: { reason: `malformed JSON: ${(e as Error).message}` } }
  }
  return { line: line.line, raw: line.text, input: decodeOperation(json, timeZone) }
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

/** Ingest an NDJSON byte stream. Each batch commits on its own; interruption stops between batches. */
export const ingestNdjson = (chunks: AsyncIterable<Uint8Array>, options: IngestOptions) =>
  Effect.gen(function* () {
    const store = yield* Store
    const summary = emptySummary()
    const maxListed = options.maxListedRefusals ?? 100
    const groups = splitLines(chunks, {
      maxLineBytes: options.maxLineBytes,
      groupSize: options.batchSize,
      ...(options.progress ? { progress: options.progress } : {}),
      ...(options.truncated ? { truncated: options.truncated } : {})
    })
    yield* Stream.fromAsyncIterable(groups, (e) => e).pipe(
      Stream.mapEffect((group) => store.ingest(options.source, group.map((line) => decodeLine(line, options.timeZone)))),
      Stream.runForEach((results) =>
        Effect.sync(() => {
          addResults(summary, results, maxListed)
          options.onBatch?.(summary)
        })
      )
    )
    return summary
  })

/** Ingest already-parsed values (a JSON body holding one operation or an array of them). */
export const ingestValues = (values: ReadonlyArray<unknown>, options: Omit<IngestOptions, "maxLineBytes">) =>
  Effect.gen(function* () {
    const store = yield* Store
    const summary = emptySummary()
    for (let i = 0; i < values.length; i += options.batchSize) {
      const batch: Array<Submission> = values.slice(i, i + options.batchSize).map((value, k) => {
        const input: ReturnType<typeof decodeOperation> | Refusal = decodeOperation(value, options.timeZone)
        return { line: i + k + 1, raw: JSON.stringify(value) ?? "", input }
      })
      addResults(summary, yield* store.ingest(options.source, batch), options.maxListedRefusals ?? 100)
    }
    return summary
  })
