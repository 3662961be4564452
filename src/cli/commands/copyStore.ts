/**
 * `skygge copy-store --from sqlite:PATH --to postgres://…`: move a SQLite shadow to PostgreSQL (the
 * target is migrated first, then copied, resumably, then verified); `--verify-only` checks a copy
 * again. Progress to stderr, the verification table to stdout; exit 1 when any table differs.
 * The target's password (in the URL, else SKYGGE_STORE_PASSWORD) is never printed.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Redacted } from "effect"
import { parseStoreUrl, showStoreUrl } from "../../config/Config.js"
import type { CopyProgress } from "../../store/copy/CopyStore.js"
import { CliError, println } from "../common.js"
import { formatCount } from "../format.js"

// Loaded when the command runs (main.ts): the copy and PostgreSQL's modules.
const loadCopy = Effect.promise(() => Promise.all([import("../../store/copy/CopyStore.js"), import("../../store/pg/PgOpen.js")]))

/** The environment's SKYGGE_STORE_PASSWORD, as `store.password` reads it (used when the URL has none). */
const passwordFromEnvironment = () => {
  const password = process.env.SKYGGE_STORE_PASSWORD
  return password === undefined || password.length === 0 ? undefined : Redacted.make(password)
}

const progressLine = (started: Map<string, number>) => (p: CopyProgress) => {
  const now = performance.now()
  if (p.phase === "start") {
    started.set(p.table, now)
    if (p.resumedAt > 0) process.stderr.write(`${p.table}: resuming after ${formatCount(p.resumedAt)} of ${formatCount(p.total)} rows copied earlier\n`)
    return
  }
  const seconds = (now - (started.get(p.table) ?? now)) / 1000
  const rate = seconds > 0 ? ` (${formatCount(Math.round((p.copied - p.resumedAt) / seconds))} rows/s)` : ""
  if (p.phase === "batch" && p.copied < p.total) process.stderr.write(`${p.table}: ${formatCount(p.copied)} of ${formatCount(p.total)} rows${rate}\n`)
  if (p.phase === "done") process.stderr.write(`${p.table}: ${formatCount(p.copied)} rows copied${rate}\n`)
}

export const copyStoreCommand = Command.make(
  "copy-store",
  {
    from: Options.text("from").pipe(Options.withDescription("the SQLite store to copy: sqlite:PATH (read only, in one read transaction)")),
    to: Options.text("to").pipe(
      Options.withDescription("the PostgreSQL database to copy into: postgres://user@host:5432/db (password from the URL, else SKYGGE_STORE_PASSWORD); empty, or left unfinished by an earlier copy-store of the same file")
    ),
    verifyOnly: Options.boolean("verify-only").pipe(Options.withDescription("only compare the two stores (counts and a checksum per table); write nothing")),
    batchSize: Options.integer("batch-size").pipe(Options.withDescription("rows per read page and per write (default 5000)"), Options.withDefault(5000))
  },
  ({ batchSize, from, to, verifyOnly }) =>
    Effect.gen(function* () {
      const source = yield* Effect.mapError(parseStoreUrl(from), (e) => new CliError({ message: `--from ${e.message.replace(/^store\.url /, "")}` }))
      if (source.dialect !== "sqlite" || source.filename === ":memory:") return yield* new CliError({ message: `--from '${showStoreUrl(from)}' is not a SQLite store file: expected sqlite:PATH` })
      const target = yield* Effect.mapError(parseStoreUrl(to), (e) => new CliError({ message: `--to ${e.message.replace(/^store\.url /, "")}` }))
      if (target.dialect !== "postgres") return yield* new CliError({ message: `--to '${to.replace(/\/\/.*@/, "//***@")}' is not a PostgreSQL database: expected postgres://user@host:5432/database` })
      if (batchSize < 1) return yield* new CliError({ message: "--batch-size must be at least 1" })
      const [{ copyStore }, { redactPgUrl }] = yield* loadCopy
      const file = source.filename
      const url = target.url
      process.stderr.write(`${verifyOnly ? "verifying" : "copying"} ${file} → ${redactPgUrl(url)}\n`)
      const report = yield* copyStore({
        from: file,
        to: url,
        batchSize,
        verifyOnly,
        password: passwordFromEnvironment(),
        onMigrated: (tags) => tags.forEach((tag) => process.stderr.write(`target: applied migration ${tag}\n`)),
        onProgress: progressLine(new Map())
      })
      if (!verifyOnly) {
        const rate = report.seconds > 0 ? Math.round(report.copied / report.seconds) : 0
        process.stderr.write(`copied ${formatCount(report.copied)} rows in ${report.seconds.toFixed(1)} s (${formatCount(rate)} rows/s); verifying\n`)
      }
      const width = Math.max(5, ...report.checks.map((c) => c.table.length))
      yield* println(`${"table".padEnd(width)}  ${"rows".padStart(12)}  ${"checksum".padEnd(16)}  ok`)
      for (const c of report.checks) {
        const rows = c.sourceRows === c.targetRows ? formatCount(c.sourceRows) : `${formatCount(c.sourceRows)}≠${formatCount(c.targetRows)}`
        const sum = c.sourceChecksum === c.targetChecksum ? c.sourceChecksum.slice(0, 16) : `${c.sourceChecksum.slice(0, 7)}≠${c.targetChecksum.slice(0, 7)}`
        yield* println(`${c.table.padEnd(width)}  ${rows.padStart(12)}  ${sum.padEnd(16)}  ${c.ok ? "ok" : "DIFFERS"}`)
      }
      const differ = report.checks.filter((c) => !c.ok)
      if (differ.length > 0) {
        return yield* new CliError({
          message: `the copy differs from the source in ${differ.map((c) => c.table).join(", ")}: was the source written to since the copy began (stop skygge run)? Copy again into a new database`
        })
      }
    })
).pipe(Command.withDescription("Copy a SQLite store into a PostgreSQL database (migrated first; resumable; verified by counts and a checksum per table)"))
