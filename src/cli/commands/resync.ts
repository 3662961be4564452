/** `skygge resync` (reconcile sources with their providers now) and `skygge resync-reports` (past runs). */
import { Command, Options } from "@effect/cli"
import { Clock, Console, Effect, Option } from "effect"
import { ConfigSources } from "../../config/Config.js"
import { type ResyncReport, ResyncReports } from "../../store/ResyncReports.js"
import { WorkQueue } from "../../store/WorkQueue.js"
import { checkLimit, CliError, configOption, jsonOption, limitOption, nothing, println, withReadStore, withStore } from "../common.js"
import { formatCount } from "../format.js"

// Loaded when `resync` runs (main.ts): the IntArk source's fetcher and resync, and cluster membership.
const loadResync = Effect.promise(() =>
  Promise.all([
    import("../../cluster/Membership.js"),
    import("../../sources/intark/Fetcher.js"),
    import("../../sources/intark/IntarkConfig.js"),
    import("../../sources/intark/IntarkSourceLive.js"),
    import("../../sources/intark/Resync.js")
  ])
)

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

export const resync = Command.make(
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
        const [{ Membership }, { runFetcher }, { decodeIntarkSources }, { authHeaders }, { resyncSource }] = yield* loadResync
        const sources = (yield* decodeIntarkSources(yield* ConfigSources)).filter((s) => Option.isNone(o.source) || s.name === o.source.value)
        if (sources.length === 0) return yield* new CliError({ message: Option.isSome(o.source) ? `no source named '${o.source.value}' in the configuration` : "no sources in the configuration" })
        let failed = 0
        for (const source of sources) {
          const headers = yield* authHeaders(source)
          const reports = yield* resyncSource(source, headers, { dryRun: o.dryRun, ...(Option.isSome(o.resource) ? { resources: [o.resource.value] } : {}) })
          if (!o.dryRun && reports.some((r) => r.repaired > 0)) {
            // Fetch the repairs now, as a member of the cluster while it does (a running engine on the same
            // store fetches too: claims do not overlap, and neither takes the other's while both live).
            const done = yield* Effect.scoped(
              Effect.gen(function* () {
                yield* Effect.forkScoped(runFetcher({ source, authHeaders: headers }))
                return yield* drained(source.name, o.waitSeconds)
              })
            ).pipe(Effect.provide(Membership.layer({ alone: false })))
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

export const resyncReports = Command.make(
  "resync-reports",
  {
    config: configOption,
    json: jsonOption,
    source: Options.text("source").pipe(Options.withDescription("only this source"), Options.optional),
    limit: limitOption(20)
  },
  (o) =>
    withReadStore(
      o.config,
      Effect.gen(function* () {
        const reports = yield* ResyncReports
        const list = yield* reports.list({ limit: yield* checkLimit(o.limit, true), ...(Option.isSome(o.source) ? { source: o.source.value } : {}) })
        for (const r of list) yield* println(o.json ? JSON.stringify(r) : reportLine(r))
        yield* nothing(o.json, list, `no resync reports${Option.match(o.source, { onNone: () => "", onSome: (s) => ` of source ${s}` })}`)
      })
    )
).pipe(Command.withDescription("Reports of past resync runs, newest first"))
