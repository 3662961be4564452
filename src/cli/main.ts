/**
 * The `skygge` command line: `run` the engine, `import` NDJSON operations, `migrate` the store, and
 * ask the local store the API's questions (`get`, `history`, `snapshot`,
 * `changes`, `refused`, …). Answers go to stdout, logs and progress to stderr.
 * One file per command group under `commands/`; this one is the root and its errors.
 *
 * Exit codes: 0 done; 1 error (message on stderr); 2 done, but some inputs were
 * refused (see the summary or `skygge refused`); 3 not found (`get`, `history`).
 *
 * Start-up: these modules import statically what parsing and the store's questions need. What a command's
 * body alone needs beyond that (the engine, sources, ingest paths, retention runs, PostgreSQL) it imports with
 * `import()` as it runs; the bundle (scripts/build.mjs) leaves such a module unevaluated until then, so that
 * `skygge get` does not evaluate the API server or the broker client (bench/http.ts, line (s)).
 */
import { Command } from "@effect/cli"
import { NodeFileSystem, NodePath, NodeRuntime, NodeTerminal } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, HashMap, Layer, Option } from "effect"
import { describeError } from "../StoreFromConfig.js"
import { copyStoreCommand } from "./commands/copyStore.js"
import { minimiseCommand, pruneCommand } from "./commands/dataProtection.js"
import { importCommand, importExtract } from "./commands/import.js"
import { activations, anomalies, cluster, refused, sources } from "./commands/lists.js"
import { erase, erasuresCommand } from "./commands/erase.js"
import { migrate } from "./commands/migrate.js"
import { changes, get, history, snapshot } from "./commands/queries.js"
import { resync, resyncReports } from "./commands/resync.js"
import { demo, run } from "./commands/run.js"
import { VERSION } from "./common.js"
import { withCliConsole } from "./console.js"

const commands = [run, demo, importCommand, importExtract, get, history, snapshot, changes, refused, activations, anomalies, sources, cluster, resync, resyncReports, erase, erasuresCommand, minimiseCommand, pruneCommand, migrate, copyStoreCommand] as const

const skygge = Command.make("skygge").pipe(Command.withDescription("Bitemporal shadow-register sync engine"), Command.withSubcommands(commands))

const cli = Command.run(skygge, { name: "skygge", version: VERSION })

const names = new Set(HashMap.keys(Command.getSubcommands(skygge)))

/**
 * `skygge refused --help` shows the usage line `$ refused …`: @effect/cli names the parent only
 * when the parent itself was asked for help. Asking both gives `$ skygge refused …`.
 */
const helpWithParent = (argv: ReadonlyArray<string>) => {
  const [runtime, script, first, ...rest] = argv
  return first !== undefined && names.has(first) && (rest.includes("--help") || rest.includes("-h"))
    ? [runtime!, script!, "--help", first, ...rest]
    : argv
}

/**
 * What @effect/cli needs (files, paths, the terminal): not all of NodeContext, whose worker manager and command
 * executor nothing here uses and whose modules cost every start (the worker's error schemas alone a twentieth of `skygge get`).
 */
const CliEnvironment = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

export const main = (argv: ReadonlyArray<string>) =>
  cli(helpWithParent(argv)).pipe(
    withCliConsole,
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
    Effect.provide(CliEnvironment)
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
