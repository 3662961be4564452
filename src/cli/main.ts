/**
 * The `skygge` command line: `run` the engine, `import` NDJSON operations, and
 * ask the local store the API's questions (`get`, `history`, `snapshot`,
 * `changes`, `refused`). Answers go to stdout, logs and progress to stderr.
 *
 * Exit codes: 0 done; 1 error (message on stderr); 2 done, but some inputs were
 * refused (see the summary or `skygge refused`); 3 not found (`get`, `history`).
 */
import { Args, Command, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Clock, Console, Data, Duration, Effect, Exit, Layer, Option, Schedule, Schema } from "effect"
import { closeSync, createReadStream, mkdtempSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Metrics } from "../api/Metrics.js"
import { ServerLive } from "../api/Server.js"
import { OutboxLive } from "../outbox/OutboxLive.js"
import { ActivationSchedulerLive } from "../schedule/ActivationScheduler.js"
import { IntarkSourcesLive } from "../sources/intark/IntarkSourceLive.js"
import { DafSourcesLive, startDafSource } from "../sources/datafordeler/DafSourceLive.js"
import { DafSourceSchema } from "../sources/datafordeler/DafConfig.js"
import { sqliteStoreLayer } from "../store/sqlite/SqliteStore.js"
import { startDafSimulator } from "../sources/datafordeler/simulator/DafSimulator.js"
import { sourcesStatus } from "../sources/SourcesStatus.js"
import { ApiConfig, ConfigSources, IngestConfig, StoreConfig } from "../config/Config.js"
import { runFetcher } from "../sources/intark/Fetcher.js"
import { decodeIntarkSources } from "../sources/intark/IntarkConfig.js"
import { authHeaders } from "../sources/intark/IntarkSourceLive.js"
import { resyncSource } from "../sources/intark/Resync.js"
import { type ResyncReport, ResyncReports } from "../store/ResyncReports.js"
import { WorkQueue } from "../store/WorkQueue.js"
import { MirrorStore } from "../store/Mirror.js"
import { type CsvRow, csvHeader, csvLine } from "../domain/Csv.js"
import { fromEpochMillis, parseInstant } from "../domain/Instant.js"
import { describeError, StoreFromConfig, type StoreServices, withConfig } from "../Engine.js"
import { type ExtractSummary, ingestExtract } from "../ingest/Extract.js"
import { ingestMirrorExtract } from "../ingest/MirrorExtract.js"
import { downloadToFile, printableUrl } from "../ingest/Download.js"
import { DATAFORDELER_SHAPE } from "../domain/Mirror.js"
import { type IngestSummary, ingestNdjson } from "../ingest/Ingest.js"
import { ActivationStore } from "../store/Activations.js"
import { type ChangeCursor, type ChangeRow, Store } from "../store/Store.js"
import { formatCount, refusedLine, rowRecord, rowTable } from "./format.js"

const PAGE = 1000
const VERSION = "0.1.0"

class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

const configOption = Options.file("config").pipe(
  Options.withDescription("configuration file (JSON); default: $SKYGGE_CONFIG, else the embedded config/default.json"),
  Options.optional
)
const jsonOption = Options.boolean("json").pipe(Options.withDescription("machine-readable output (JSON; NDJSON for lists)"))
const instantOption = (name: string, what: string) =>
  Options.text(name).pipe(Options.withDescription(`${what} (ISO 8601; default now)`), Options.optional)

const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)

const instantOr = (value: Option.Option<string>, name: string) =>
  Option.match(value, {
    onNone: () => now,
    onSome: (text) => {
      const parsed = parseInstant(text)
      return typeof parsed === "string" ? Effect.succeed(parsed) : Effect.fail(new CliError({ message: `--${name}: ${parsed.error}` }))
    }
  })

/** Run a command body with its configuration and the store. */
const withStore = <A, E>(config: Option.Option<string>, body: Effect.Effect<A, E, StoreServices | ConfigSources>) =>
  withConfig(Option.getOrUndefined(config), Effect.provide(body, StoreFromConfig))

const println = (text: string) => Effect.sync(() => process.stdout.write(text + "\n"))

// ---- run -----------------------------------------------------------------

const run = Command.make("run", { config: configOption }, ({ config }) =>
  withConfig(
    Option.getOrUndefined(config),
    Effect.gen(function* () {
      const store = yield* StoreConfig
      const api = yield* ApiConfig
      yield* Effect.logInfo(`skygge ${VERSION} starting: store ${store.url}, API on ${api.host}:${api.port}`)
      const engine = Layer.mergeAll(ServerLive.pipe(Layer.provide(Metrics.layer)), ActivationSchedulerLive, OutboxLive, IntarkSourcesLive, DafSourcesLive)
      return yield* Layer.launch(engine.pipe(Layer.provide(StoreFromConfig))).pipe(
        // Finalizers have run by now: the server stopped accepting, the store is closed.
        Effect.ensuring(Effect.logInfo("skygge stopped: server closed, store closed"))
      )
    })
  )
).pipe(Command.withDescription("Run the engine: the as-of API and every configured source, until SIGTERM/SIGINT"))

// ---- demo ------------------------------------------------------------------

const DEMO_LIST_QUERY =
  "query ($first: Int!, $after: String) { DAR_Adresse(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid } } }"

/** The register simulator, changing a few addresses every second, and a source following it by PULL, GraphQL events or both. */
const DemoLive = (intervalMs: number, via: "pull" | "graphql" | "both") =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const sim = yield* Effect.acquireRelease(Effect.promise(() => startDafSimulator({ seed: Date.now() % 100_000, faults: { commitDelayMs: 500, restLagMs: 200, importMs: 100 } })), (s) => Effect.promise(() => s.close()))
      sim.randomChanges(20)
      yield* Effect.forkScoped(Effect.sync(() => sim.randomChanges(3)).pipe(Effect.repeat(Schedule.spaced(Duration.millis(intervalMs)))))
      const source = Schema.decodeUnknownSync(DafSourceSchema)({
        kind: "datafordeler",
        name: "demo",
        ...(via !== "graphql" ? { pull: { url: sim.baseUrl, lagSeconds: 1, overlapSeconds: 3, pollSeconds: 1 } } : {}),
        ...(via !== "pull" ? { graphql: { url: sim.graphqlUrl, register: sim.register, pollSeconds: 1 } } : {}),
        entities: {
          Adresse: {
            objectType: "dar.adresse",
            rest: `${sim.baseUrl}/rest/adresse?id={id}`,
            // With GraphQL, a first start loads the register's history by this paged query.
            ...(via !== "pull" ? { list: { query: DEMO_LIST_QUERY } } : {})
          }
        }
      })
      yield* startDafSource(source)
      yield* Effect.logInfo(
        `demo: a simulated Datafordeler register at ${sim.baseUrl} changes addresses every ${intervalMs} ms; skygge follows it by ${via === "both" ? "PULL and GraphQL events at once" : via === "pull" ? "PULL" : "GraphQL events"}`
      )
    })
  )

const demo = Command.make(
  "demo",
  {
    config: configOption,
    intervalMs: Options.integer("interval-ms").pipe(Options.withDescription("how often the simulated register changes (default 1000)"), Options.withDefault(1000)),
    via: Options.choice("via", ["pull", "graphql", "both"]).pipe(Options.withDescription("the event path to follow: the legacy PULL service, GraphQL events, or both at once as during the migration (default both)"), Options.withDefault("both" as const)),
    db: Options.text("db").pipe(Options.withDescription("SQLite file of the demo (default ./data/demo.db, apart from the real store)"), Options.withDefault("./data/demo.db"))
  },
  ({ config, intervalMs, via, db }) =>
    withConfig(
      Option.getOrUndefined(config),
      Effect.gen(function* () {
        const api = yield* ApiConfig
        yield* Effect.logInfo(`skygge ${VERSION} demo: API on ${api.host}:${api.port} — try GET /v1/objects/dar.adresse, /v1/changes?since=…, /metrics`)
        const engine = Layer.mergeAll(ServerLive.pipe(Layer.provide(Metrics.layer)), ActivationSchedulerLive, DemoLive(intervalMs, via))
        return yield* Layer.launch(engine.pipe(Layer.provide(sqliteStoreLayer({ filename: db, synchronous: "NORMAL" }))))
      })
    )
).pipe(Command.withDescription("Run the engine against a built-in simulated Datafordeler register: data flowing, no account needed"))

// ---- import ----------------------------------------------------------------

const importCommand = Command.make(
  "import",
  {
    config: configOption,
    json: jsonOption,
    file: Args.text({ name: "FILE" }).pipe(Args.withDescription("NDJSON file of assert/retract operations, or - for stdin"))
  },
  ({ config, file, json }) =>
    withStore(
      config,
      Effect.gen(function* () {
        const ingest = yield* IngestConfig
        const api = yield* ApiConfig
        let size: number | undefined
        if (file !== "-") {
          try {
            size = statSync(file).size
          } catch (e) {
            return yield* new CliError({ message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` })
          }
        }
        const progress = { bytes: 0 }
        const bar = progressBar(size)
        const summary = yield* ingestNdjson(file === "-" ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 }), {
          source: `import:${file === "-" ? "stdin" : file}`,
          batchSize: ingest.batchSize,
          timeZone: ingest.timeZone,
          maxLineBytes: api.maxLineBytes,
          progress,
          ...(bar ? { onBatch: (s: IngestSummary) => bar.update(progress.bytes, s) } : {})
        }).pipe(Effect.mapError((e) => new CliError({ message: `reading ${file}: ${describeError(e)}` })))
        bar?.done()
        if (json) yield* println(JSON.stringify(summary))
        else {
          yield* println(
            `${formatCount(summary.lines)} operations: ${formatCount(summary.applied)} applied, ${formatCount(summary.unchanged)} unchanged, ` +
              `${formatCount(summary.duplicate)} duplicate, ${formatCount(summary.refused)} refused`
          )
          for (const r of summary.refusals) yield* println(`  line ${r.line ?? "?"}: ${r.reason}`)
          if (summary.refused > summary.refusals.length) {
            yield* println(`  … and ${formatCount(summary.refused - summary.refusals.length)} more (skygge refused)`)
          }
        }
        if (summary.refused > 0) process.exitCode = 2
      })
    )
).pipe(Command.withDescription("Import NDJSON assert/retract operations (streamed, one transaction per batch)"))

/**
 * Progress of a bulk load on stderr: a one-line bar on a terminal (bytes, rate, ETA, outcomes),
 * otherwise a plain line every few seconds (for logs of scheduled jobs).
 */
const progressBar = (total: number | undefined, noun = "ops", count: (s: IngestSummary) => number = (s) => s.lines) => {
  const start = Date.now()
  const tty = process.stderr.isTTY === true
  let last = 0
  const render = (bytes: number, s: IngestSummary) => {
    const seconds = (Date.now() - start) / 1000
    const n = count(s)
    const rate = seconds > 0 ? n / seconds : 0
    const fraction = total ? Math.min(1, bytes / total) : 0
    const eta = total && fraction > 0 ? Math.round(seconds / fraction - seconds) : undefined
    const outcomes = `applied ${formatCount(s.applied)}  unchanged ${formatCount(s.unchanged)}  duplicate ${formatCount(s.duplicate)}  refused ${formatCount(s.refused)}`
    if (!tty) {
      const of = total ? ` of ${formatCount(Math.round(total / 1048576))} MiB (${(fraction * 100).toFixed(0)}%)` : ""
      process.stderr.write(`progress: ${formatCount(n)} ${noun}, ${formatCount(Math.round(bytes / 1048576))} MiB${of}, ${formatCount(Math.round(rate))} ${noun}/s${eta === undefined ? "" : `, ETA ${eta}s`}; ${outcomes}\n`)
      return
    }
    const width = 24
    const filled = Math.round(fraction * width)
    const barText = total ? `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` : ""
    process.stderr.write(`\r${barText}${formatCount(n)} ${noun}  ${formatCount(Math.round(rate))} ${noun}/s${eta === undefined ? "" : `  ETA ${eta}s`}  ${outcomes}\x1b[K`)
  }
  return {
    update: (bytes: number, s: IngestSummary) => {
      const t = Date.now()
      if (t - last >= (tty ? 100 : 5000)) {
        last = t
        render(bytes, s)
      }
    },
    done: () => {
      if (tty) process.stderr.write("\n")
    }
  }
}

// ---- import-extract ------------------------------------------------------------

/** A URL is downloaded first (into a temporary folder removed afterwards); a path is used as it is. */
const localExtract = (file: string, apiKeyEnv: Option.Option<string>) =>
  Effect.gen(function* () {
    if (!/^https?:\/\//i.test(file)) return file
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
  ingest: { readonly batchSize: number; readonly timeZone: string },
  api: { readonly maxLineBytes: number }
) =>
  Effect.gen(function* () {
    if (o.file === "-") return yield* new CliError({ message: "--mirror reads a file (zip, JSON or NDJSON), not stdin" })
    const progress = { bytes: 0 }
    let total: number | undefined
    try {
      total = statSync(o.file).size
    } catch (e) {
      return yield* new CliError({ message: `cannot read ${o.file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` })
    }
    const bar = progressBar(/\.zip$/i.test(o.file) ? undefined : total, "rows")
    const summary = yield* ingestMirrorExtract(o.file, {
      objectType: o.objectType,
      shape: { ...DATAFORDELER_SHAPE, id: Option.getOrElse(o.idField, () => DATAFORDELER_SHAPE.id), identity: o.identity },
      timeZone: ingest.timeZone,
      source: `extract:${o.file}`,
      batchSize: ingest.batchSize,
      maxRecordBytes: api.maxLineBytes,
      progress,
      onBatch: (s) => bar.update(progress.bytes, { lines: s.rows, applied: s.inserted + s.closed, unchanged: s.unchanged, duplicate: 0, refused: s.refused, refusals: [] }),
      ...(o.entity.length > 0 ? { entities: o.entity } : {})
    }).pipe(Effect.mapError((e) => new CliError({ message: `reading ${o.file}: ${describeError(e)}` })))
    bar.done()
    if (o.json) yield* println(JSON.stringify(summary))
    else {
      yield* println(
        `${formatCount(summary.rows)} rows: ${formatCount(summary.inserted)} inserted, ${formatCount(summary.closed)} closed, ${formatCount(summary.unchanged)} unchanged, ` +
          `${formatCount(summary.anomalies)} anomalies (skygge anomalies), ${formatCount(summary.refused)} refused`
      )
      for (const r of summary.refusals) yield* println(`  ${r.reason}`)
    }
    if (summary.refused > 0) process.exitCode = 2
  })

const importExtract = Command.make(
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
    full: Options.boolean("full").pipe(Options.withDescription("the dump is the whole population: retract objects of the type it lacks"))
  },
  (given) =>
    withStore(
      given.config,
      Effect.scoped(Effect.gen(function* () {
        const ingest = yield* IngestConfig
        const api = yield* ApiConfig
        const o = { ...given, file: yield* localExtract(given.file, given.apiKeyEnv) }
        if (o.mirror) return yield* importMirrorExtract(o, ingest, api)
        if (Option.isNone(o.idField)) return yield* new CliError({ message: "--id-field is required (the path of each record's id)" })
        let size: number | undefined
        if (o.file !== "-") {
          try {
            size = statSync(o.file).size
          } catch (e) {
            return yield* new CliError({ message: `cannot read ${o.file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` })
          }
        }
        const format = Option.getOrElse(o.format, () => (/\.csv$/i.test(o.file) ? "csv" : /\.json$/i.test(o.file) ? "json" : "ndjson") as "ndjson" | "csv" | "json")
        const progress = { bytes: 0 }
        const bar = progressBar(size, "records", (s) => (s as ExtractSummary).records)
        const summary = yield* ingestExtract(o.file === "-" ? process.stdin : createReadStream(o.file, { highWaterMark: 1 << 20 }), o.file === "-" ? undefined : o.file, {
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
          ...(Option.isSome(o.validTo) ? { validTo: o.validTo.value } : {})
        }).pipe(Effect.mapError((e) => new CliError({ message: `reading ${o.file}: ${describeError(e)}` })))
        bar.done()
        if (o.json) yield* println(JSON.stringify(summary))
        else {
          yield* println(
            `${formatCount(summary.records)} records: ${formatCount(summary.applied)} operations applied, ${formatCount(summary.unchanged)} unchanged, ` +
              `${formatCount(summary.duplicate)} duplicate, ${formatCount(summary.refused)} refused` +
              (o.full ? `; ${formatCount(summary.retracted)} objects missing from the dump retracted` : "")
          )
          for (const r of summary.refusals) yield* println(`  line ${r.line ?? "?"}: ${r.reason}`)
        }
        if (summary.refused > 0) process.exitCode = 2
      }))
    )
).pipe(Command.withDescription("Load a dump of a provider's current state (NDJSON, CSV, JSON) as the objects' state at one registration time"))

// ---- get / history -------------------------------------------------------

const objectArgs = {
  objectType: Args.text({ name: "OBJECT_TYPE" }),
  objectId: Args.text({ name: "OBJECT_ID" })
}

const notFound = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`skygge: ${message}\n`)
    process.exitCode = 3
  })

const get = Command.make(
  "get",
  {
    config: configOption,
    json: jsonOption,
    ...objectArgs,
    registreringstid: instantOption("registreringstid", "registration time"),
    virkningstid: instantOption("virkningstid", "validity time")
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* Store
        const registreringstid = yield* instantOr(o.registreringstid, "registreringstid")
        const virkningstid = yield* instantOr(o.virkningstid, "virkningstid")
        const row = yield* store.asOf({ objectType: o.objectType, objectId: o.objectId, registreringstid, virkningstid })
        if (Option.isNone(row)) {
          return yield* notFound(
            `no row of ${o.objectType}/${o.objectId} in force at registreringstid ${registreringstid} and virkningstid ${virkningstid}`
          )
        }
        yield* println(o.json ? JSON.stringify(row.value) : rowRecord(row.value))
      })
    )
).pipe(Command.withDescription("The row of an object in force at registreringstid and virkningstid"))

const history = Command.make("history", { config: configOption, json: jsonOption, ...objectArgs }, (o) =>
  withStore(
    o.config,
    Effect.gen(function* () {
      const store = yield* Store
      const rows = yield* store.history(o.objectType, o.objectId)
      if (rows.length === 0) return yield* notFound(`no object ${o.objectType}/${o.objectId}`)
      if (o.json) return yield* println(JSON.stringify({ objectType: o.objectType, objectId: o.objectId, rows }))
      const table = rowTable({ objectColumn: false, changeColumn: false })
      yield* println(table.header())
      for (const row of rows) yield* println(table.line(row))
    })
  )
).pipe(Command.withDescription("Every row an object ever had, ordered"))

// ---- snapshot / changes ----------------------------------------------------

type ListFormat = "table" | "ndjson" | "csv"

const formatOption = Options.choice("format", ["table", "ndjson", "csv"] as const).pipe(
  Options.withDescription("table (default on a terminal), ndjson (same as --json) or csv (RFC 4180 with a header line)"),
  Options.optional
)
const outputOption = Options.text("output").pipe(
  Options.withDescription("write to this file instead of stdout (written as FILE.partial, renamed when complete)"),
  Options.optional
)

const listFormat = (json: boolean, format: Option.Option<ListFormat>): ListFormat => Option.getOrElse(format, () => (json ? "ndjson" : "table"))

/** Where listed rows go: stdout, or a file that appears under its name only once complete. */
const listSink = (output: Option.Option<string>) =>
  Option.match(output, {
    onNone: () => Effect.succeed({ write: (text: string) => void process.stdout.write(text) }),
    onSome: (file) =>
      Effect.acquireRelease(
        Effect.try({ try: () => ({ fd: openSync(`${file}.partial`, "w"), file }), catch: (e) => new CliError({ message: `--output ${file}: ${(e as Error).message}` }) }),
        ({ fd }, exit) =>
          Effect.sync(() => {
            closeSync(fd)
            if (Exit.isSuccess(exit)) renameSync(`${file}.partial`, file)
            else rmSync(`${file}.partial`, { force: true })
          })
      ).pipe(Effect.map(({ fd }) => ({ write: (text: string) => void writeSync(fd, text) })))
  })

/** Print pages as they come: a table, NDJSON or CSV, to stdout or a file. */
const printPages = <C, R extends Parameters<ReturnType<typeof rowTable>["line"]>[0] & CsvRow>(
  format: ListFormat,
  output: Option.Option<string>,
  table: ReturnType<typeof rowTable>,
  first: C,
  fetch: (cursor: C) => Effect.Effect<ReadonlyArray<R>>,
  cursorOf: (row: R) => C,
  cap: number
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sink = yield* listSink(output)
      const changes = table.header().startsWith("change")
      const line = format === "ndjson" ? (row: R) => JSON.stringify(row) + "\n" : format === "csv" ? (row: R) => csvLine(row, changes) : (row: R) => table.line(row) + "\n"
      if (format === "table") sink.write(table.header() + "\n")
      if (format === "csv") sink.write(csvHeader(changes))
      let cursor = first
      let sent = 0
      for (;;) {
        const rows = yield* fetch(cursor)
        const page = rows.slice(0, cap - sent)
        if (page.length > 0) sink.write(page.map(line).join(""))
        sent += page.length
        if (rows.length < PAGE || sent >= cap) return sent
        cursor = cursorOf(rows[rows.length - 1]!)
      }
    })
  )

const snapshot = Command.make(
  "snapshot",
  {
    config: configOption,
    json: jsonOption,
    format: formatOption,
    output: outputOption,
    objectType: Args.text({ name: "OBJECT_TYPE" }),
    registreringstid: instantOption("registreringstid", "registration time"),
    virkningstid: instantOption("virkningstid", "validity time"),
    limit: Options.integer("limit").pipe(Options.withDescription("at most this many rows"), Options.optional),
    after: Options.text("after").pipe(Options.withDescription("start after this objectId"), Options.optional)
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* Store
        const registreringstid = yield* instantOr(o.registreringstid, "registreringstid")
        const virkningstid = yield* instantOr(o.virkningstid, "virkningstid")
        yield* printPages(
          listFormat(o.json, o.format),
          o.output,
          rowTable({ objectColumn: true, changeColumn: false }),
          Option.getOrElse(o.after, () => ""),
          (after) => store.snapshot({ objectType: o.objectType, registreringstid, virkningstid, after, limit: PAGE }),
          (row) => row.objectId,
          Option.getOrElse(o.limit, () => Infinity)
        )
      })
    )
).pipe(Command.withDescription("Every object of a type as of registreringstid and virkningstid, ordered by objectId"))

const changes = Command.make(
  "changes",
  {
    config: configOption,
    json: jsonOption,
    format: formatOption,
    output: outputOption,
    since: Options.text("since").pipe(Options.withDescription("start of the window, inclusive (ISO 8601)")),
    until: instantOption("until", "end of the window, exclusive"),
    objectType: Options.text("type").pipe(Options.withDescription("only this object type"), Options.optional)
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* Store
        const since = yield* instantOr(Option.some(o.since), "since")
        const until = yield* instantOr(o.until, "until")
        if (since > until) return yield* new CliError({ message: `--since ${since} is after --until ${until}` })
        const query = { since, until, ...Option.match(o.objectType, { onNone: () => ({}), onSome: (objectType) => ({ objectType }) }) }
        yield* printPages<ChangeCursor | undefined, ChangeRow>(
          listFormat(o.json, o.format),
          o.output,
          rowTable({ objectColumn: true, changeColumn: true }),
          undefined,
          (after) => store.changes({ ...query, limit: PAGE, ...(after === undefined ? {} : { after }) }),
          (row) => ({ at: row.changeAt, id: row.id }),
          Infinity
        )
      })
    )
).pipe(Command.withDescription("Rows registered or closed in [since, until): the deltafile replacement"))

const refused = Command.make(
  "refused",
  {
    config: configOption,
    json: jsonOption,
    after: Options.integer("after").pipe(Options.withDescription("start after this refusal id"), Options.withDefault(0)),
    limit: Options.integer("limit").pipe(Options.withDescription("at most this many"), Options.withDefault(100))
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* Store
        const list = yield* store.refused(o.after, o.limit)
        for (const r of list) yield* println(o.json ? JSON.stringify(r) : refusedLine(r))
      })
    )
).pipe(Command.withDescription("Refused inputs with their reasons, oldest first"))

const activations = Command.make(
  "activations",
  {
    config: configOption,
    json: jsonOption,
    from: Options.text("from").pipe(Options.withDescription("at or after this instant (ISO 8601; default: no bound)"), Options.optional),
    to: Options.text("to").pipe(Options.withDescription("before this instant (ISO 8601; default: no bound)"), Options.optional),
    objectType: Options.text("type").pipe(Options.withDescription("only this object type"), Options.optional),
    status: Options.choice("status", ["pending", "fired", "skipped", "cancelled", "all"]).pipe(
      Options.withDescription("which ones (default pending: what is due)"),
      Options.withDefault("pending" as const)
    ),
    limit: Options.integer("limit").pipe(Options.withDescription("at most this many"), Options.withDefault(1000))
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* ActivationStore
        const bound = (value: Option.Option<string>, name: string) => (Option.isNone(value) ? Effect.succeed(null) : instantOr(value, name))
        const list = yield* store.list({
          from: yield* bound(o.from, "from"),
          to: yield* bound(o.to, "to"),
          limit: o.limit,
          ...(Option.isSome(o.objectType) ? { objectType: o.objectType.value } : {}),
          ...(o.status === "all" ? {} : { status: o.status })
        })
        for (const a of list) {
          yield* println(
            o.json
              ? JSON.stringify(a)
              : [a.at, a.kind.padEnd(7), a.status.padEnd(9), a.late ? "late" : "    ", `${a.objectType}/${a.objectId}`, `row ${a.rowId}`].join("  ")
          )
        }
      })
    )
).pipe(Command.withDescription("Virkningstid activations: pending ones (what is due) by default, oldest first"))

// ---- anomalies ---------------------------------------------------------------

const anomalies = Command.make(
  "anomalies",
  {
    config: configOption,
    json: jsonOption,
    after: Options.integer("after").pipe(Options.withDescription("start after this anomaly id"), Options.withDefault(0)),
    limit: Options.integer("limit").pipe(Options.withDescription("at most this many"), Options.withDefault(100)),
    objectType: Options.text("type").pipe(Options.withDescription("only this object type"), Options.optional)
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const mirror = yield* MirrorStore
        const list = yield* mirror.anomalies({ after: o.after, limit: o.limit, ...(Option.isSome(o.objectType) ? { objectType: o.objectType.value } : {}) })
        for (const a of list) {
          yield* println(o.json ? JSON.stringify(a) : [String(a.id).padStart(6), a.detectedAt, a.kind.padEnd(18), `${a.objectType}/${a.objectId}`, a.detail].join("  "))
        }
      })
    )
).pipe(Command.withDescription("What mirrored upstreams did that skygge recorded instead of obeying (history rewrites, overlaps, …), oldest first"))

const sources = Command.make("sources", { config: configOption, json: jsonOption }, (o) =>
  withStore(
    o.config,
    Effect.gen(function* () {
      const status = yield* sourcesStatus
      if (o.json) return yield* println(JSON.stringify(status))
      for (const c of status.cursors) yield* println([c.source.padEnd(24), c.cursor.padEnd(28), c.updatedAt, `${Math.round(c.ageSeconds)} s ago`].join("  "))
      yield* println(`PUSH events recorded and not yet applied: ${status.pushInboxPending}`)
    })
  )
).pipe(Command.withDescription("Where each source path stands: its cursor, when it was last committed or confirmed, and the PUSH backlog"))

// ---- resync ------------------------------------------------------------------

const reportLine = (r: ResyncReport) =>
  [
    r.finishedAt,
    `${r.source}/${r.resource}`.padEnd(28),
    r.dryRun ? "dry-run" : "repair ",
    `checked ${formatCount(r.checked)}`,
    `missing ${formatCount(r.missing)}`,
    `changed ${formatCount(r.changed)}`,
    `extra ${formatCount(r.extra)}`,
    `repaired ${formatCount(r.repaired)}`,
    `revived ${formatCount(r.revived)}`,
    r.error === null ? "" : `error: ${r.error}`
  ].join("  ").trimEnd()

/** Wait until the source's work queue holds nothing pending or in flight (or the time is up). */
const drained = (source: string, seconds: number) =>
  Effect.gen(function* () {
    const workQueue = yield* WorkQueue
    const deadline = (yield* Clock.currentTimeMillis) + seconds * 1000
    for (;;) {
      const open = (yield* workQueue.counts).filter((c) => c.source === source && (c.state === "pending" || c.state === "in_flight") && c.n > 0)
      if (open.length === 0) return true
      if ((yield* Clock.currentTimeMillis) > deadline) return false
      yield* Effect.sleep("200 millis")
    }
  })

const resync = Command.make(
  "resync",
  {
    config: configOption,
    json: jsonOption,
    source: Options.text("source").pipe(Options.withDescription("only this source (default: every source with list endpoints)"), Options.optional),
    resource: Options.text("resource").pipe(Options.withDescription("only this resource"), Options.optional),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("measure the drift only; repair nothing")),
    waitSeconds: Options.integer("wait-seconds").pipe(
      Options.withDescription("how long to keep fetching the repairs before leaving the rest to `skygge run` (default 600)"),
      Options.withDefault(600)
    )
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const sources = (yield* decodeIntarkSources(yield* ConfigSources)).filter((s) => Option.isNone(o.source) || s.name === o.source.value)
        if (sources.length === 0) return yield* new CliError({ message: Option.isSome(o.source) ? `no source named '${o.source.value}' in the configuration` : "no sources in the configuration" })
        let failed = 0
        for (const source of sources) {
          const headers = yield* authHeaders(source)
          const reports = yield* resyncSource(source, headers, { dryRun: o.dryRun, ...(Option.isSome(o.resource) ? { resources: [o.resource.value] } : {}) })
          if (!o.dryRun && reports.some((r) => r.repaired > 0)) {
            // Fetch the repairs now (a running engine on the same store would too: claims do not overlap).
            const done = yield* Effect.scoped(
              Effect.gen(function* () {
                yield* Effect.forkScoped(runFetcher({ source, authHeaders: headers }))
                return yield* drained(source.name, o.waitSeconds)
              })
            )
            if (!done) yield* Console.error(`skygge: ${source.name}: repairs still queued after ${o.waitSeconds} s; \`skygge run\` will finish them`)
          }
          for (const r of reports) {
            if (r.error !== null) failed++
            yield* println(o.json ? JSON.stringify(r) : reportLine(r))
          }
        }
        if (failed > 0) process.exitCode = 1
      })
    )
).pipe(Command.withDescription("Reconcile sources with their providers now: compare, repair what drifted (--dry-run: only measure), report"))

const resyncReports = Command.make(
  "resync-reports",
  {
    config: configOption,
    json: jsonOption,
    source: Options.text("source").pipe(Options.withDescription("only this source"), Options.optional),
    limit: Options.integer("limit").pipe(Options.withDescription("at most this many"), Options.withDefault(20))
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const reports = yield* ResyncReports
        const list = yield* reports.list({ limit: o.limit, ...(Option.isSome(o.source) ? { source: o.source.value } : {}) })
        for (const r of list) yield* println(o.json ? JSON.stringify(r) : reportLine(r))
      })
    )
).pipe(Command.withDescription("Reports of past resync runs, newest first"))

// ---- the root --------------------------------------------------------------

const skygge = Command.make("skygge").pipe(
  Command.withDescription("Bitemporal shadow-register sync engine"),
  Command.withSubcommands([run, demo, importCommand, importExtract, get, history, snapshot, changes, refused, activations, anomalies, sources, resync, resyncReports])
)

const cli = Command.run(skygge, { name: "skygge", version: VERSION })

export const main = (argv: ReadonlyArray<string>) =>
  cli(argv).pipe(
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      const failure = Cause.failureOption(cause)
      // @effect/cli has already printed its own usage errors.
      if (Option.isSome(failure) && typeof failure.value === "object" && failure.value !== null && "_tag" in failure.value && isCliValidation(failure.value._tag)) {
        return Effect.sync(() => (process.exitCode = 1))
      }
      const message = Option.isSome(failure) ? describeError(failure.value) : Cause.pretty(cause)
      return Console.error(`skygge: ${message}`).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))
    }),
    Effect.provide(NodeContext.layer)
  )

const isCliValidation = (tag: unknown) =>
  typeof tag === "string" &&
  ["CommandMismatch", "CorrectedFlag", "HelpRequested", "InvalidArgument", "InvalidValue", "MissingValue", "MissingFlag", "MultipleValuesDetected", "MissingSubcommand", "NoBuiltInMatch", "UnclusteredFlag"].includes(tag)

export const runCli = () =>
  NodeRuntime.runMain(main(process.argv), {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) =>
      onExit(Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? 1 : typeof process.exitCode === "number" ? process.exitCode : 0)
  })
