/**
 * What every entry of the configuration file's `sources` list shares, whatever
 * its kind: secrets given inline or as `{"env": NAME}`, `"//"` comments, and
 * decoding with the kind's Schema so a mistake names the entry and the field.
 */
import { Cron, Effect, Either, ParseResult, Redacted, Schema } from "effect"
import { ConfigFileError } from "./Config.js"
import { fieldPathProblem } from "../domain/core/Fields.js"

/** A cron expression (minute hour day month weekday, or with seconds first), checked at load. */
export const CronExpression = Schema.String.pipe(
  Schema.filter((expr) => Either.match(Cron.parse(expr), { onLeft: (e) => `not a cron expression: ${e.message}`, onRight: () => true }))
)

const FieldPaths = Schema.Array(Schema.String).pipe(Schema.filter((paths) => fieldPathProblem(paths)))

/** Minimisation of a resource's or entity's data: dotted paths to keep, or to drop (domain/core/Fields). */
export const FieldsSetting = Schema.Union(Schema.Struct({ keep: FieldPaths }), Schema.Struct({ drop: FieldPaths }))

export const Secret = Schema.Union(Schema.String, Schema.Struct({ env: Schema.String }))
export type Secret = typeof Secret.Type

/** A secret's value: inline, or from the named environment variable (which must be set). */
export const resolveSecret = (secret: Secret, what: string, env: NodeJS.ProcessEnv = process.env): Effect.Effect<Redacted.Redacted, ConfigFileError> => {
  if (typeof secret === "string") return Effect.succeed(Redacted.make(secret))
  const value = env[secret.env]
  return value === undefined || value.length === 0
    ? Effect.fail(new ConfigFileError(`${what}: environment variable ${secret.env} is not set`))
    : Effect.succeed(Redacted.make(value))
}

/** `"//"` keys are comments, at any depth, as everywhere in the configuration file. */
const withoutComments = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutComments)
  if (value === null || typeof value !== "object") return value
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== "//").map(([k, v]) => [k, withoutComments(v)]))
}

/** The entries of one kind in the `sources` list, decoded; the error names the entry and the field. */
export const decodeSourcesOfKind = <A, I>(kind: string, schema: Schema.Schema<A, I>) => (sources: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>, ConfigFileError> =>
  Effect.forEach(
    sources.flatMap((s, i) => (typeof s === "object" && s !== null && (s as { kind?: unknown }).kind === kind ? [[s, i] as const] : [])),
    ([s, i]) =>
      Schema.decodeUnknown(schema, { onExcessProperty: "error" })(withoutComments(s)).pipe(
        Effect.mapError((e) => new ConfigFileError(`sources[${i}] (${kind}): ${ParseResult.TreeFormatter.formatErrorSync(e)}`))
      )
  )
