/**
 * `skygge import` (NDJSON assert/retract operations) and `skygge import-extract` (a dump of a
 * provider's current state, or a register's bitemporal rows with --mirror; a file or a URL).
 * The ingest paths, downloads and retention are imported when a command runs (main.ts).
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ApiConfig, ConfigSources, IngestConfig } from "../../config/Config.js"
import { type FieldFilter, fieldPathProblem } from "../../domain/core/Fields.js"
import { type RowShape, withFields } from "../../domain/core/Mirror.js"
import type { ExtractSummary } from "../../ingest/Extract.js"
import type { IngestSummary } from "../../ingest/Ingest.js"
import { describeError } from "../../StoreFromConfig.js"
import { CliError, configOption, instantOption, instantOr, jsonOption, println, withBulkStore } from "../common.js"
import { formatCount } from "../format.js"
import { progressBar } from "../progress.js"

/** The size of a file to read (undefined for stdin), or a message naming it. */
const sizeOf = (file: string) =>
  Effect.try({
    try: () => (file === "-" ? undefined : statSync(file).size),
    catch: (e) => new CliError({ message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` })
  })

const input = (file: string) => (file === "-" ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 }))

const readingFailed = (file: string) => (e: unknown) => new CliError({ message: `reading ${file}: ${describeError(e)}` })

interface Refusals {
  readonly refused: number
  readonly refusals: ReadonlyArray<{ readonly reason: string; readonly line?: number | undefined }>
  /** Refused past the per-run cap: counted, not recorded one by one. */
  readonly notRecorded?: number | undefined
}

/** After the summary line (text only): the refusals it names, one a line, and how many more; exit 2 when anything was refused. */
const reportRefusals = (summary: Refusals, json: boolean, withLine: boolean) =>
  Effect.gen(function* () {
    if (!json) {
      for (const r of summary.refusals) yield* println(withLine ? `  line ${r.line ?? "?"}: ${r.reason}` : `  ${r.reason}`)
      const notRecorded = summary.notRecorded ?? 0
      const more = summary.refused - summary.refusals.length - notRecorded
      if (more > 0) yield* println(`  … and ${formatCount(more)} more (skygge refused)`)
      // Past the per-run cap the refused table keeps a count, not each input (it cannot be flooded).
      if (notRecorded > 0) yield* println(`  … and ${formatCount(notRecorded)} more counted but not recorded one by one (skygge refused keeps the first ones of a run)`)
    }
    if (summary.refused > 0) process.exitCode = 2
  })

export const importCommand = Command.make(
  "import",
  {
    config: configOption,
    json: jsonOption,
    file: Args.text({ name: "FILE" }).pipe(Args.withDescription("NDJSON file of assert/retract operations, or - for stdin"))
  },
  ({ config, file, json }) =>
    withBulkStore(
      config,
      Effect.gen(function* () {
        const ingest = yield* IngestConfig
        const api = yield* ApiConfig
        const size = yield* sizeOf(file)
        const progress = { bytes: 0 }
        const bar = progressBar(size)
        const { ingestNdjson } = yield* Effect.promise(() => import("../../ingest/Ingest.js"))
        const summary = yield* ingestNdjson(input(file), {
          source: `import:${file === "-" ? "stdin" : file}`,
          batchSize: ingest.batchSize,
          timeZone: ingest.timeZone,
          maxLineBytes: api.maxLineBytes,
          progress,
          onBatch: (s: IngestSummary) => bar.update(progress.bytes, s)
        }).pipe(Effect.mapError(readingFailed(file)))
        bar.done()
        yield* println(
          json
            ? JSON.stringify(summary)
            : `${formatCount(summary.lines)} operations: ${formatCount(summary.applied)} applied, ${formatCount(summary.unchanged)} unchanged, ` +
                `${formatCount(summary.duplicate)} duplicate, ${formatCount(summary.refused)} refused`
        )
        yield* reportRefusals(summary, json, true)
      })
    )
).pipe(Command.withDescription("Import NDJSON assert/retract operations (streamed, one transaction per batch)"))

/** A URL is downloaded first (into a temporary folder removed afterwards); a path is used as it is. */
const localExtract = (file: string, apiKeyEnv: Option.Option<string>) =>
  Effect.gen(function* () {
    if (!/^https?:\/\//i.test(file)) return file
    const { downloadToFile, printableUrl } = yield* Effect.promise(() => import("../../ingest/Download.js"))
    let apiKey: string | undefined
    if (Option.isSome(apiKeyEnv)) {
      apiKey = process.env[apiKeyEnv.value]
      if (apiKey === undefined || apiKey.length === 0) return yield* new CliError({ message: `--api-key-env: environment variable ${apiKeyEnv.value} is not set` })
    }
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "skygge-download-"))),
      (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
    )
    const progress = { bytes: 0 }
    const ticker = setInterval(() => process.stderr.write(`downloading ${printableUrl(file)}: ${formatCount(Math.round(progress.bytes / 1048576))} MiB\n`), 5000)
    const local = yield* downloadToFile(file, { dir, timeoutSeconds: 600, progress, ...(apiKey !== undefined ? { apiKey } : {}) }).pipe(
      Effect.ensuring(Effect.sync(() => clearInterval(ticker))),
      Effect.mapError((e) => new CliError({ message: e.message }))
    )
    process.stderr.write(`downloaded ${printableUrl(file)}: ${formatCount(progress.bytes)} bytes\n`)
    return local
  })

/** `import-extract --mirror`: a register's bitemporal rows through the mirror path. */
const importMirrorExtract = (
  o: { readonly file: string; readonly objectType: string; readonly idField: Option.Option<string>; readonly entity: ReadonlyArray<string>; readonly identity: ReadonlyArray<string>; readonly json: boolean },
  fieldsOf: (objectType: string) => FieldFilter | undefined,
  ingest: { readonly batchSize: number; readonly timeZone: string },
  api: { readonly maxLineBytes: number }
) =>
  Effect.gen(function* () {
    if (o.file === "-") return yield* new CliError({ message: "--mirror reads a file (zip, JSON or NDJSON), not stdin" })
    const [{ DATAFORDELER_SHAPE }, { ingestMirrorExtract }] = yield* Effect.promise(() =>
      Promise.all([import("../../domain/datafordeler/DatafordelerRows.js"), import("../../ingest/MirrorExtract.js")])
    )
    const progress = { bytes: 0 }
    const total = yield* sizeOf(o.file)
    const bar = progressBar(/\.zip$/i.test(o.file) ? undefined : total, "rows")
    const shape: RowShape = { ...DATAFORDELER_SHAPE, id: Option.getOrElse(o.idField, () => DATAFORDELER_SHAPE.id), identity: o.identity }
    const shapes = new Map<string, RowShape>()
    const summary = yield* ingestMirrorExtract(o.file, {
      objectType: o.objectType,
      shape,
      // Each entity list's type minimised as configured for it (or by --keep/--drop).
      shapeOf: (objectType) => {
        let s = shapes.get(objectType)
        if (s === undefined) shapes.set(objectType, (s = withFields(shape, fieldsOf(objectType))))
        return s
      },
      timeZone: ingest.timeZone,
      source: `extract:${o.file}`,
      batchSize: ingest.batchSize,
      maxRecordBytes: api.maxLineBytes,
      progress,
      onBatch: (s) => bar.update(progress.bytes, { lines: s.rows, applied: s.inserted + s.closed, unchanged: s.unchanged, duplicate: 0, refused: s.refused, refusals: [] }),
      ...(o.entity.length > 0 ? { entities: o.entity } : {})
    }).pipe(Effect.mapError(readingFailed(o.file)))
    bar.done()
    yield* println(
      o.json
        ? JSON.stringify(summary)
        : `${formatCount(summary.rows)} rows: ${formatCount(summary.inserted)} inserted, ${formatCount(summary.closed)} closed, ${formatCount(summary.unchanged)} unchanged, ` +
            `${formatCount(summary.anomalies)} anomalies (skygge anomalies), ${formatCount(summary.refused)} refused`
    )
    yield* reportRefusals(summary, o.json, false)
  })

export const importExtract = Command.make(
  "import-extract",
  {
    config: configOption,
    json: jsonOption,
    file: Args.text({ name: "FILE" }).pipe(
      Args.withDescription("a dump of current state: NDJSON, CSV (header line) or a JSON array; - for stdin (NDJSON or CSV); or an https:// URL to download it from")
    ),
    apiKeyEnv: Options.text("api-key-env").pipe(Options.withDescription("with a URL: the environment variable holding the download service's API key (sent as apiKey)"), Options.optional),
    objectType: Options.text("type").pipe(Options.withDescription("object type to register the records as")),
    idField: Options.text("id-field").pipe(Options.withDescription("dotted path of each record's id (a CSV column name); with --mirror default id_lokalId"), Options.optional),
    mirror: Options.boolean("mirror").pipe(Options.withDescription("the file holds bitemporal rows (a Datafordeler file download: zip, JSON entity lists or NDJSON): store them as the register has them")),
    entity: Options.text("entity").pipe(Options.withDescription("with --mirror: only this entity list (e.g. AdresseList); repeatable"), Options.repeated),
    identity: Options.text("identity").pipe(Options.withDescription("with --mirror: an extra field identifying a row besides its two start instants (MAT: status); repeatable"), Options.repeated),
    format: Options.choice("format", ["ndjson", "csv", "json"] as const).pipe(Options.withDescription("default: by the file's extension (.csv, .json, else NDJSON)"), Options.optional),
    registreringstid: instantOption("registreringstid", "registration time of the dump's state"),
    validFrom: Options.text("valid-from").pipe(Options.withDescription("dotted path of each record's validity start (else: from the registration time on)"), Options.optional),
    validTo: Options.text("valid-to").pipe(Options.withDescription("dotted path of each record's validity end (9999-12-31 is open)"), Options.optional),
    full: Options.boolean("full").pipe(Options.withDescription("the dump is the whole population: retract objects of the type it lacks")),
    keep: Options.text("keep").pipe(Options.withDescription("store only this dotted path of each record (repeatable); default: the type's configured fields"), Options.repeated),
    drop: Options.text("drop").pipe(Options.withDescription("store each record without this dotted path (repeatable); default: the type's configured fields"), Options.repeated)
  },
  (given) =>
    withBulkStore(
      given.config,
      Effect.scoped(
        Effect.gen(function* () {
          const ingest = yield* IngestConfig
          const api = yield* ApiConfig
          const o = { ...given, file: yield* localExtract(given.file, given.apiKeyEnv) }
          // Minimisation: --keep / --drop, else what the configuration says for the object type (a source's resource or entity).
          if (o.keep.length > 0 && o.drop.length > 0) return yield* new CliError({ message: "give --keep or --drop, not both" })
          const given_ = o.keep.length > 0 ? { keep: o.keep } : o.drop.length > 0 ? { drop: o.drop } : undefined
          const problem = given_ === undefined ? undefined : fieldPathProblem("keep" in given_ ? given_.keep : given_.drop)
          if (problem !== undefined) return yield* new CliError({ message: `--${o.keep.length > 0 ? "keep" : "drop"}: ${problem}` })
          const [{ fieldsByType }, { RetentionMirrorLive }, { ingestExtract }] = yield* Effect.promise(() =>
            Promise.all([import("../../retention/FieldSettings.js"), import("../../retention/RetentionMirror.js"), import("../../ingest/Extract.js")])
          )
          const configured = yield* fieldsByType(yield* ConfigSources)
          const fieldsOf = (objectType: string): FieldFilter | undefined => given_ ?? configured.get(objectType)?.fields
          // Retention on the mirror path too: rows closed before a type's cutoff are not loaded again.
          if (o.mirror) return yield* importMirrorExtract(o, fieldsOf, ingest, api).pipe(Effect.provide(RetentionMirrorLive))
          const fields = fieldsOf(o.objectType)
          if (Option.isNone(o.idField)) return yield* new CliError({ message: "--id-field is required (the path of each record's id)" })
          const size = yield* sizeOf(o.file)
          const format = Option.getOrElse(o.format, () => (/\.csv$/i.test(o.file) ? "csv" : /\.json$/i.test(o.file) ? "json" : "ndjson") as "ndjson" | "csv" | "json")
          const progress = { bytes: 0 }
          const bar = progressBar(size, "records", (s) => (s as ExtractSummary).records)
          const summary = yield* ingestExtract(input(o.file), o.file === "-" ? undefined : o.file, {
            objectType: o.objectType,
            idField: o.idField.value,
            registreringstid: yield* instantOr(o.registreringstid, "registreringstid"),
            format,
            timeZone: ingest.timeZone,
            full: o.full,
            source: `extract:${o.file === "-" ? "stdin" : o.file}`,
            batchSize: ingest.batchSize,
            maxRecordBytes: api.maxLineBytes,
            progress,
            onBatch: (s) => bar.update(progress.bytes, s),
            ...(Option.isSome(o.validFrom) ? { validFrom: o.validFrom.value } : {}),
            ...(Option.isSome(o.validTo) ? { validTo: o.validTo.value } : {}),
            ...(fields !== undefined ? { fields } : {})
          }).pipe(Effect.mapError(readingFailed(o.file)))
          bar.done()
          yield* println(
            o.json
              ? JSON.stringify(summary)
              : `${formatCount(summary.records)} records: ${formatCount(summary.applied)} operations applied, ${formatCount(summary.unchanged)} unchanged, ` +
                  `${formatCount(summary.duplicate)} duplicate, ${formatCount(summary.refused)} refused` +
                  (o.full ? `; ${formatCount(summary.retracted)} objects missing from the dump retracted` : "")
          )
          yield* reportRefusals(summary, o.json, true)
        })
      )
    )
).pipe(Command.withDescription("Load a dump of a provider's current state (NDJSON, CSV, JSON) as the objects' state at one registration time"))
