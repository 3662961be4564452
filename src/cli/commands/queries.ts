/** The as-of questions of the local store: `get`, `history`, `snapshot` and `changes`. */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option, Stream } from "effect"
import { type CsvRow, csvHeader, csvLine } from "../../domain/core/Csv.js"
import { Erasures } from "../../store/Erasures.js"
import { keysetPages, PAGE } from "../../store/Paging.js"
import { type ChangeCursor, type ChangeRow, Store } from "../../store/Store.js"
import type { StoreError } from "../../store/StoreError.js"
import { checkLimit, CliError, configOption, instantOption, instantOr, jsonOption, ofType, println, typeOption, withReadStore } from "../common.js"
import { rowRecord, type RowTable, rowTable } from "../format.js"
import { listSink } from "../output.js"

const objectArgs = {
  objectType: Args.text({ name: "OBJECT_TYPE" }).pipe(Args.withDescription("the object type, e.g. dar.adresse")),
  objectId: Args.text({ name: "OBJECT_ID" }).pipe(Args.withDescription("the object's id within its type"))
}

/** Both times of an as-of question, each defaulting to now. */
const asOfOptions = {
  registreringstid: instantOption("registreringstid", "registration time"),
  virkningstid: instantOption("virkningstid", "validity time")
}
const asOfInstants = (o: { readonly registreringstid: Option.Option<string>; readonly virkningstid: Option.Option<string> }) =>
  Effect.all({ registreringstid: instantOr(o.registreringstid, "registreringstid"), virkningstid: instantOr(o.virkningstid, "virkningstid") })

const notFound = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`skygge: ${message}\n`)
    process.exitCode = 3
  })

/** An erased object is answered as such (never an old version): said on stderr, exit code 4. */
const erased = (objectType: string, objectId: string) =>
  Effect.flatMap(Erasures, (erasures) => erasures.find(objectType, objectId)).pipe(
    Effect.tap(Option.match({
      onNone: () => Effect.void,
      onSome: (e) =>
        Effect.sync(() => {
          process.stderr.write(`skygge: ${objectType}/${objectId} was erased (erasure ${e.id} at ${e.erasedAt}); its history is kept only as tombstones (${e.pseudonym})\n`)
          process.exitCode = 4
        })
    })),
    Effect.map(Option.isSome)
  )

export const get = Command.make(
  "get",
  {
    config: configOption,
    json: jsonOption,
    ...objectArgs,
    ...asOfOptions
  },
  (o) =>
    withReadStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* Store
        const { registreringstid, virkningstid } = yield* asOfInstants(o)
        const row = yield* store.asOf({ objectType: o.objectType, objectId: o.objectId, registreringstid, virkningstid })
        if (Option.isNone(row)) {
          if (yield* erased(o.objectType, o.objectId)) return
          return yield* notFound(
            `no row of ${o.objectType}/${o.objectId} in force at registreringstid ${registreringstid} and virkningstid ${virkningstid}`
          )
        }
        yield* println(o.json ? JSON.stringify(row.value) : rowRecord(row.value))
      })
    )
).pipe(Command.withDescription("The row of an object in force at registreringstid and virkningstid"))

export const history = Command.make("history", { config: configOption, json: jsonOption, ...objectArgs }, (o) =>
  withReadStore(
    o.config,
    Effect.gen(function* () {
      const store = yield* Store
      const rows = yield* store.history(o.objectType, o.objectId)
      if (rows.length === 0 && (yield* erased(o.objectType, o.objectId))) return
      if (rows.length === 0) return yield* notFound(`no object ${o.objectType}/${o.objectId}`)
      if (o.json) return yield* println(JSON.stringify({ objectType: o.objectType, objectId: o.objectId, rows }))
      const table = rowTable({ objectColumn: false, changeColumn: false })
      yield* println(table.header())
      for (const row of rows) yield* println(table.line(row))
    })
  )
).pipe(Command.withDescription("Every row an object ever had, ordered"))

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

/** Print the store's pages as they come: a table, NDJSON or CSV, to stdout or a file. */
const printPages = <R extends Parameters<RowTable["line"]>[0] & CsvRow, E>(
  format: ListFormat,
  output: Option.Option<string>,
  table: RowTable,
  pages: Stream.Stream<ReadonlyArray<R>, E>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sink = yield* listSink(output)
      const changes = table.header().startsWith("change")
      const line = format === "ndjson" ? (row: R) => JSON.stringify(row) + "\n" : format === "csv" ? (row: R) => csvLine(row, changes) : (row: R) => table.line(row) + "\n"
      if (format === "table") sink.write(table.header() + "\n")
      if (format === "csv") sink.write(csvHeader(changes))
      yield* Stream.runForEach(pages, (page) => Effect.sync(() => sink.write(page.map(line).join(""))))
    })
  )

export const snapshot = Command.make(
  "snapshot",
  {
    config: configOption,
    json: jsonOption,
    format: formatOption,
    output: outputOption,
    objectType: objectArgs.objectType,
    ...asOfOptions,
    limit: Options.integer("limit").pipe(Options.withDescription("at most this many rows"), Options.optional),
    after: Options.text("after").pipe(Options.withDescription("start after this objectId"), Options.optional)
  },
  (o) =>
    withReadStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* Store
        const times = yield* asOfInstants(o)
        yield* printPages(
          listFormat(o.json, o.format),
          o.output,
          rowTable({ objectColumn: true, changeColumn: false }),
          keysetPages(
            Option.getOrElse(o.after, () => ""),
            (after) => store.snapshot({ objectType: o.objectType, ...times, after, limit: PAGE }),
            (row) => row.objectId,
            Option.isSome(o.limit) ? yield* checkLimit(o.limit.value, false) : Infinity
          )
        )
      })
    )
).pipe(Command.withDescription("Every object of a type as of registreringstid and virkningstid, ordered by objectId"))

export const changes = Command.make(
  "changes",
  {
    config: configOption,
    json: jsonOption,
    format: formatOption,
    output: outputOption,
    since: Options.text("since").pipe(Options.withDescription("start of the window, inclusive (ISO 8601)")),
    until: instantOption("until", "end of the window, exclusive"),
    objectType: typeOption
  },
  (o) =>
    withReadStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* Store
        const since = yield* instantOr(Option.some(o.since), "since")
        const until = yield* instantOr(o.until, "until")
        if (since > until) return yield* new CliError({ message: `--since ${since} is after --until ${until}` })
        const query = { since, until, ...ofType(o.objectType) }
        yield* printPages(
          listFormat(o.json, o.format),
          o.output,
          rowTable({ objectColumn: true, changeColumn: true }),
          keysetPages<ChangeCursor | undefined, ChangeRow, StoreError>(
            undefined,
            (after) => store.changes({ ...query, limit: PAGE, ...(after === undefined ? {} : { after }) }),
            (row) => ({ at: row.changeAt, id: row.id })
          )
        )
      })
    )
).pipe(Command.withDescription("Rows registered or closed in [since, until): the deltafile replacement"))
