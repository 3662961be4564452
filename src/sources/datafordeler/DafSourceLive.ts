/**
 * Every configured Datafordeler source as part of the engine: for each, a loop
 * per event path it has (legacy PULL, GraphQL events) and the PUSH receiver
 * with its inbox, all stopped with the layer. The receiver runs in every
 * process (behind a load balancer, one shared inbox); the polled paths are
 * singletons of the cluster — `datafordeler:<source>:pull`, `…:graphql`,
 * `…:push-inbox` (the drain), `…:full-load-cron` — and full loads take
 * `…:full-load` while they run (FullLoad).
 */
import { Effect, Layer } from "effect"
import { Leadership } from "../../cluster/Leadership.js"
import { ConfigSources } from "../../config/Config.js"
import { decodeDafSources, type DafSource } from "./DafConfig.js"
import { dataServiceOf, resolveRuntime } from "./DafRuntime.js"
import { makeFullLoadOnce, runFullLoadSchedule } from "./FullLoad.js"
import { makePools } from "./ObjectFetch.js"
import { runGraphqlSource } from "./GraphqlSource.js"
import { runPullSource } from "./PullSource.js"
import { startPushSource } from "./PushSource.js"
import { checkStartingPoints } from "./StartingPoint.js"

export const startDafSource = (source: DafSource) =>
  Effect.gen(function* () {
    const runtime = yield* resolveRuntime(source)
    const policy = source.graphql ?? source.pull ?? source.push!
    // One pool per service origin for the whole source, whichever path asks.
    const pools = yield* makePools
    // Shared work (starting points, full loads) fetches with the first path's key.
    const data = dataServiceOf(runtime, pools, policy, source.graphql !== undefined ? "graphql" : source.pull !== undefined ? "pull" : "push")
    // A configured starting point whose events are gone stops the start (naming the setting), before anything runs.
    yield* checkStartingPoints(source, data.service)
    const fullLoad = yield* makeFullLoadOnce(runtime, data)
    const leadership = yield* Leadership
    const singleton = (path: string) => `datafordeler:${source.name}:${path}`
    const stopped = (path: string) => Effect.tapErrorCause((cause) => Effect.logError(`datafordeler source ${source.name} (${path}) stopped`, cause))
    if (source.pull !== undefined) yield* Effect.forkScoped(leadership.lead(singleton("pull"), runPullSource(runtime, source.pull, pools, fullLoad)).pipe(stopped("pull")))
    if (source.graphql !== undefined) yield* Effect.forkScoped(leadership.lead(singleton("graphql"), runGraphqlSource(runtime, source.graphql, pools, fullLoad)).pipe(stopped("graphql")))
    if (source.push !== undefined) yield* startPushSource(runtime, source.push, pools, fullLoad, singleton("push-inbox"))
    if (source.fullLoad.cron !== undefined) yield* Effect.forkScoped(leadership.lead(singleton("full-load-cron"), runFullLoadSchedule(runtime, data)).pipe(Effect.annotateLogs({ source: source.name })))
    yield* Effect.logInfo("datafordeler source started").pipe(
      Effect.annotateLogs({
        source: source.name,
        paths: [source.pull && "pull", source.graphql && "graphql", source.push && "push"].filter(Boolean).join(","),
        entities: Object.keys(source.entities).join(",")
      })
    )
  })

export const DafSourcesLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    for (const source of yield* decodeDafSources(yield* ConfigSources)) yield* startDafSource(source)
  })
)
