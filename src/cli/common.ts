/** What every command shares: its error, the common options, instants, the store, stdout. */
import { Options } from "@effect/cli"
import { Clock, Data, Effect, Option } from "effect"
import type { ConfigSources } from "../config/Config.js"
import { fromEpochMillis, parseInstant } from "../domain/Instant.js"
import { StoreFromConfig, type StoreServices, withConfig } from "../Engine.js"

export const VERSION = "0.1.0"

/** A command stopped with a message for the user (exit 1). */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

export const configOption = Options.file("config").pipe(
  Options.withDescription("configuration file (JSON); default: $SKYGGE_CONFIG, else the embedded config/default.json"),
  Options.optional
)
export const jsonOption = Options.boolean("json").pipe(Options.withDescription("machine-readable output (JSON; NDJSON for lists)"))
export const instantOption = (name: string, what: string) =>
  Options.text(name).pipe(Options.withDescription(`${what} (ISO 8601; default now)`), Options.optional)
export const limitOption = (fallback: number) => Options.integer("limit").pipe(Options.withDescription(`at most this many (default ${fallback})`), Options.withDefault(fallback))
export const typeOption = Options.text("type").pipe(Options.withDescription("only this object type"), Options.optional)

const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)

/** The instant given to `--name`, else now. */
export const instantOr = (value: Option.Option<string>, name: string) =>
  Option.match(value, {
    onNone: () => now,
    onSome: (text) => {
      const parsed = parseInstant(text)
      return typeof parsed === "string" ? Effect.succeed(parsed) : Effect.fail(new CliError({ message: `--${name}: ${parsed.error}` }))
    }
  })

/** `{ objectType }` when `--type` was given, else nothing: for a store query's options. */
export const ofType = (objectType: Option.Option<string>) => Option.match(objectType, { onNone: () => ({}), onSome: (objectType) => ({ objectType }) })

/** Run a command body with its configuration and the store. */
export const withStore = <A, E>(config: Option.Option<string>, body: Effect.Effect<A, E, StoreServices | ConfigSources>) =>
  withConfig(Option.getOrUndefined(config), Effect.provide(body, StoreFromConfig))

export const println = (text: string) => Effect.sync(() => process.stdout.write(text + "\n"))
