/** What every command shares: its error, the common options, instants, the store, stdout. */
import { Options } from "@effect/cli"
import { Clock, Data, Effect, Option } from "effect"
import { ApiConfig, type ConfigSources } from "../config/Config.js"
import { pageLimitProblem } from "../domain/core/PageLimit.js"
import { fromEpochMillis, parseInstant } from "../domain/core/Instant.js"
import { BulkStoreFromConfig, ReadStoreFromConfig, StoreFromConfig, withConfig } from "../StoreFromConfig.js"
import type { StoreServices } from "../store/StoreServices.js"

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
export const limitOption = (fallback: number) =>
  Options.integer("limit").pipe(Options.withDescription(`at most this many (default ${fallback}; api.maxPageSize at the most, as over HTTP)`), Options.withDefault(fallback))

/** `--limit` checked by the rule HTTP applies to `limit=` (bounded by api.maxPageSize when the answer is one page). */
export const checkLimit = (limit: number, onePage: boolean) =>
  Effect.gen(function* () {
    const problem = pageLimitProblem("--limit", limit, onePage ? (yield* ApiConfig).maxPageSize : undefined)
    return problem === undefined ? limit : yield* new CliError({ message: problem })
  })
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

/** Run a command body that writes with its configuration and the store (created and migrated if need be). */
export const withStore = <A, E>(config: Option.Option<string>, body: Effect.Effect<A, E, StoreServices | ConfigSources>) =>
  withConfig(Option.getOrUndefined(config), Effect.provide(body, StoreFromConfig))

/** Run a command body that writes in bulk (an import) with its configuration and the store opened for it. */
export const withBulkStore = <A, E>(config: Option.Option<string>, body: Effect.Effect<A, E, StoreServices | ConfigSources>) =>
  withConfig(Option.getOrUndefined(config), Effect.provide(body, BulkStoreFromConfig))

/** Run a command body that only reads with its configuration and the store opened read-only (a read-only copy will do). */
export const withReadStore = <A, E>(config: Option.Option<string>, body: Effect.Effect<A, E, StoreServices | ConfigSources>) =>
  withConfig(Option.getOrUndefined(config), Effect.provide(body, ReadStoreFromConfig))

export const println = (text: string) => Effect.sync(() => process.stdout.write(text + "\n"))

/** In text, a line saying there is nothing rather than no output at all (which reads like a failure); JSON lists stay empty. */
export const nothing = (json: boolean, list: ReadonlyArray<unknown>, what: string) => (!json && list.length === 0 ? println(what) : Effect.void)
