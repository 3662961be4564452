/**
 * Every configured IntArk source as part of the engine: a consumer and a fetcher each (in every process:
 * competing consumers on one queue), stopped with the layer; the first-start full load (which lists the
 * provider only once the queue is bound) and the resync schedule are singletons of the cluster (`intark:<source>:full-load`, `intark:<source>:resync`).
 */
import { Deferred, Effect, Layer, Redacted } from "effect"
import { Leadership } from "../../cluster/Leadership.js"
import { ConfigSources } from "../../config/Config.js"
import { runConsumer } from "./Consumer.js"
import { runFetcher } from "./Fetcher.js"
import { fullLoadIfEmpty } from "./FullLoad.js"
import { runResyncSchedule } from "./Resync.js"
import { resolveSecret } from "../../config/Sources.js"
import { decodeIntarkSources, type IntarkSource } from "./IntarkConfig.js"

/** The provider's auth as request headers (values stay redacted until the request). */
export const authHeaders = (source: IntarkSource) =>
  Effect.gen(function* () {
    const auth = source.provider.auth
    const what = `sources '${source.name}' provider.auth`
    if (auth === undefined) return {}
    switch (auth.type) {
      case "bearer":
        return { authorization: Redacted.make(`Bearer ${Redacted.value(yield* resolveSecret(auth.token, what))}`) }
      case "basic": {
        const password = Redacted.value(yield* resolveSecret(auth.password, what))
        return { authorization: Redacted.make(`Basic ${Buffer.from(`${auth.username}:${password}`).toString("base64")}`) }
      }
      case "header":
        return { [auth.name.toLowerCase()]: yield* resolveSecret(auth.value, what) }
    }
  })

/** Start one source's consumer and fetcher in the current scope. */
export const startIntarkSource = (source: IntarkSource) =>
  Effect.gen(function* () {
    const what = `sources '${source.name}' amqp`
    const password = source.amqp.password === undefined ? undefined : yield* resolveSecret(source.amqp.password, `${what}.password`)
    const passphrase = source.amqp.passphrase === undefined ? undefined : yield* resolveSecret(source.amqp.passphrase, `${what}.passphrase`)
    const headers = yield* authHeaders(source)
    // The first full load lists the provider only once this process's consumer has bound the queue.
    const bound = yield* Deferred.make<void>()
    yield* Effect.forkScoped(
      runConsumer({ source, bound, ...(password ? { password } : {}), ...(passphrase ? { passphrase } : {}) }, Redacted.value).pipe(
        Effect.tapErrorCause((cause) => Effect.logError(`intark consumer ${source.name} stopped`, cause))
      )
    )
    yield* Effect.forkScoped(
      runFetcher({ source, authHeaders: headers }).pipe(Effect.tapErrorCause((cause) => Effect.logError(`intark fetcher ${source.name} stopped`, cause)))
    )
    const leadership = yield* Leadership
    yield* Effect.forkScoped(
      leadership.lead(`intark:${source.name}:full-load`, fullLoadIfEmpty(source, headers, bound)).pipe(
        Effect.catchAll((error) => Effect.logError("full load failed; it is tried again at the next start while the shadow is still empty").pipe(Effect.annotateLogs({ source: source.name, error: error.message })))
      )
    )
    if (source.resync !== undefined) yield* Effect.forkScoped(leadership.lead(`intark:${source.name}:resync`, runResyncSchedule(source, headers)))
    yield* Effect.logInfo("intark source started").pipe(Effect.annotateLogs({ source: source.name, queue: source.amqp.queue, provider: new URL(source.provider.baseUrl).origin }))
  })

export const IntarkSourcesLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sources = yield* decodeIntarkSources(yield* ConfigSources)
    for (const source of sources) yield* startIntarkSource(source)
  })
)
