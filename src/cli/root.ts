/**
 * The root of the `skygge` command line over a list of subcommands, and its errors: all the commands in main.ts,
 * the query commands alone in queryMain.ts (the small bundle bin/skygge.js runs for them: scripts/build.mjs).
 *
 * Exit codes: 0 done; 1 error (message on stderr); 2 done, but some inputs were
 * refused (see the summary or `skygge refused`); 3 not found (`get`, `history`).
 */
import { Command } from "@effect/cli"
import { NodeFileSystem, NodePath, NodeRuntime, NodeTerminal } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, HashMap, Layer, Option } from "effect"
import { describeError } from "../StoreFromConfig.js"
import { VERSION } from "./common.js"
import { withCliConsole } from "./console.js"

type Subcommands = readonly [Command.Command<any, never, any, any>, ...Array<Command.Command<any, never, any, any>>]

/** The root command over `subcommands`. */
export const cliWith = (subcommands: Subcommands) => {
  const skygge = Command.make("skygge").pipe(Command.withDescription("Bitemporal shadow-register sync engine"), Command.withSubcommands(subcommands))
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
  return (argv: ReadonlyArray<string>) => cli(helpWithParent(argv))
}

/**
 * What @effect/cli needs (files, paths, the terminal): not all of NodeContext, whose worker manager and command
 * executor nothing here uses and whose modules cost every start (the worker's error schemas alone a twentieth of `skygge get`).
 */
const CliEnvironment = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

/** A command line over `subcommands` as one effect: errors printed as `skygge: …` with exit code 1. */
export const mainWith = (subcommands: Subcommands) => {
  const cli = cliWith(subcommands)
  return (argv: ReadonlyArray<string>) =>
    cli(argv).pipe(
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
}

const isCliValidation = (tag: unknown) =>
  typeof tag === "string" &&
  ["CommandMismatch", "CorrectedFlag", "HelpRequested", "InvalidArgument", "InvalidValue", "MissingValue", "MissingFlag", "MultipleValuesDetected", "MissingSubcommand", "NoBuiltInMatch", "UnclusteredFlag"].includes(tag)

/** Run the command line over `subcommands` as this process's main program. */
export const runCliWith = (subcommands: Subcommands) =>
  NodeRuntime.runMain(mainWith(subcommands)(process.argv), {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) =>
      onExit(Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? 1 : typeof process.exitCode === "number" ? process.exitCode : 0)
  })

