/** Every configured Datafordeler source as part of the engine: a PULL loop each, stopped with the layer. */
import { Effect, Layer } from "effect"
import { ConfigSources } from "../../config/Config.js"
import { resolveSecret } from "../../config/Sources.js"
import { decodeDafSources, type DafSource } from "./DafConfig.js"
import { runPullSource } from "./PullSource.js"

export const startDafSource = (source: DafSource) =>
  Effect.gen(function* () {
    const apiKey = source.pull.apiKey === undefined ? undefined : yield* resolveSecret(source.pull.apiKey, `sources '${source.name}' pull.apiKey`)
    yield* Effect.forkScoped(
      runPullSource(source, apiKey).pipe(Effect.tapErrorCause((cause) => Effect.logError(`datafordeler source ${source.name} stopped`, cause)))
    )
    yield* Effect.logInfo("datafordeler source started").pipe(
      Effect.annotateLogs({ source: source.name, service: new URL(source.pull.url).origin, entities: Object.keys(source.entities).join(",") })
    )
  })

export const DafSourcesLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    for (const source of yield* decodeDafSources(yield* ConfigSources)) yield* startDafSource(source)
  })
)
