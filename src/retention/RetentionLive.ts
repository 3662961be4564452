/**
 * Retention as part of the engine: `pruneNow` on `retention.cron` (UTC), as the cluster singleton
 * `retention` (one engine prunes; another takes over when it stops). Each run is logged with its
 * counts and counted in /metrics (`skygge_retention_pruned_total`). Nothing runs when nothing is
 * configured to be pruned.
 */
import { Effect, Layer } from "effect"
import { Metrics } from "../api/Metrics.js"
import { Leadership } from "../cluster/Leadership.js"
import { runOnCron } from "../schedule/OnCron.js"
import { pruneNow, prunedCounts } from "./Prune.js"
import { RetentionConfig } from "./RetentionConfig.js"

export const RetentionLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* RetentionConfig
    const leadership = yield* Leadership
    const metrics = yield* Metrics
    if (config.closedDays.length === 0 && config.refusedDays._tag === "None" && config.inboxDays._tag === "None") return
    const run = Effect.gen(function* () {
      const report = yield* pruneNow(config, false)
      const counts = prunedCounts(report)
      for (const c of counts) metrics.countPruned(c.what, c.objectType, c.n)
      yield* Effect.logInfo("retention: pruned").pipe(
        Effect.annotateLogs(Object.fromEntries(counts.map((c) => [c.objectType === undefined ? c.what : `${c.what}:${c.objectType}`, c.n])))
      )
    })
    yield* Effect.logInfo(`retention: pruning on '${config.cron}' (UTC)`)
    yield* Effect.forkScoped(leadership.lead("retention", runOnCron(config.cron, "UTC", "retention", run)))
  })
).pipe(Layer.provide(Metrics.layer))
