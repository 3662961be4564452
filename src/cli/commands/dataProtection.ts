/**
 * `skygge minimise` (rewrite stored data to the configured `fields`) and `skygge prune` (one retention
 * run now): reports of counts, never ids or data.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { ConfigSources } from "../../config/Config.js"
import { CliError, configOption, jsonOption, println, withStore } from "../common.js"
import { formatCount } from "../format.js"

// Loaded when the command runs (main.ts).
const loadMinimise = Effect.promise(() => Promise.all([import("../../retention/FieldSettings.js"), import("../../retention/Minimise.js")]))
const loadPrune = Effect.promise(() => Promise.all([import("../../retention/Prune.js"), import("../../retention/RetentionConfig.js")]))

const dryRunOption = (what: string) => Options.boolean("dry-run").pipe(Options.withDescription(`count what would be ${what}; change nothing`))

export const minimiseCommand = Command.make(
  "minimise",
  {
    config: configOption,
    json: jsonOption,
    objectType: Options.text("type").pipe(Options.withDescription("only this object type (default: every type with configured fields)"), Options.optional),
    dryRun: dryRunOption("rewritten")
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const [{ fieldsByType }, { minimiseType }] = yield* loadMinimise
        const configured = yield* fieldsByType(yield* ConfigSources)
        const types = Option.match(o.objectType, { onNone: () => [...configured.values()], onSome: (t) => (configured.has(t) ? [configured.get(t)!] : []) })
        if (types.length === 0) {
          return yield* new CliError({
            message: Option.isSome(o.objectType)
              ? `object type '${o.objectType.value}' has no fields setting in the configuration (resources.*.fields or entities.*.fields)`
              : "no resource or entity in the configuration has a fields setting: nothing to minimise"
          })
        }
        for (const t of types) {
          const r = yield* minimiseType(t, o.dryRun)
          yield* println(
            o.json
              ? JSON.stringify({ ...r, dryRun: o.dryRun })
              : `${r.objectType}: ${formatCount(r.rowsRewritten)} of ${formatCount(r.rows)} rows ${o.dryRun ? "to rewrite" : "rewritten"}, ` +
                  `${formatCount(r.eventsRewritten)} of ${formatCount(r.events)} recorded operations ${o.dryRun ? "to rewrite" : "rewritten"}`
          )
        }
      })
    )
).pipe(Command.withDescription("Rewrite stored data of object types with a fields setting to what the setting keeps now (in place: not a new registration)"))

export const pruneCommand = Command.make(
  "prune",
  {
    config: configOption,
    json: jsonOption,
    dryRun: dryRunOption("pruned")
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        const [{ pruneNow }, { RetentionConfig }] = yield* loadPrune
        const config = yield* RetentionConfig
        const report = yield* pruneNow(config, o.dryRun)
        if (o.json) return yield* println(JSON.stringify(report))
        const verb = o.dryRun ? "to prune" : "pruned"
        if (report.closed.length === 0 && report.refusedInputs === null && report.inboxBodies === null) {
          return yield* println("nothing to prune: set retention.closedDays, retention.refusedDays or retention.inboxDays")
        }
        for (const c of report.closed) yield* println(`${c.objectType}: ${formatCount(c.rows)} registrations closed before ${c.before} ${verb}`)
        if (report.refusedInputs !== null) yield* println(`refused inputs: ${formatCount(report.refusedInputs.n)} raw texts received before ${report.refusedInputs.before} ${o.dryRun ? "to clear" : "cleared"}`)
        if (report.inboxBodies !== null) yield* println(`push inbox: ${formatCount(report.inboxBodies.n)} bodies processed before ${report.inboxBodies.before} ${o.dryRun ? "to clear" : "cleared"}`)
      })
    )
).pipe(Command.withDescription("Prune now what retention.* says is kept no longer: closed registrations, refused inputs' raw text, processed PUSH inbox bodies"))
