/**
 * The outbox as part of the engine: one drain loop per configured publisher
 * (the AMQP exchange, each webhook URL), and an hourly prune of records every
 * publisher has delivered and that are older than `outbox.retentionHours`.
 * Each is a singleton of the cluster: `outbox:<publisher>` (one ordered drain
 * per publisher), `outbox:prune`.
 */
import { Clock, Duration, Effect, Layer, Redacted, Schedule } from "effect"
import { Leadership } from "../cluster/Leadership.js"
import { fromEpochMillis } from "../domain/core/Instant.js"
import { OutboxStore } from "../store/Outbox.js"
import { makeAmqpDeliverer } from "./AmqpPublisher.js"
import { OutboxConfig, publisherNames } from "./OutboxConfig.js"
import { type Deliverer, runPublisher } from "./Publisher.js"
import { makeWebhookDeliverer } from "./WebhookPublisher.js"

export const OutboxLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const cfg = yield* OutboxConfig
    const store = yield* OutboxStore
    const leadership = yield* Leadership
    const notification = { source: cfg.source, prefix: cfg.prefix, subjectBaseUrl: cfg.subjectBaseUrl }
    const deliverers: Array<Deliverer> = []
    const amqpUrl = Redacted.value(cfg.amqpUrl)
    if (amqpUrl.length > 0) {
      deliverers.push(yield* makeAmqpDeliverer({ ...notification, url: amqpUrl, exchange: cfg.amqpExchange, declareExchange: cfg.amqpDeclareExchange }))
    }
    for (const url of cfg.webhookUrls) {
      deliverers.push(makeWebhookDeliverer({ ...notification, url: Redacted.value(url), secret: Redacted.value(cfg.webhookSecret), timeoutMs: cfg.deliveryTimeoutSeconds * 1000 }))
    }
    const options = {
      batchSize: cfg.batchSize,
      baseDelayMs: 250,
      maxDelayMs: cfg.maxBackoffSeconds * 1000,
      pollMs: 5_000,
      deliveryTimeoutMs: cfg.deliveryTimeoutSeconds * 1000
    }
    for (const deliverer of deliverers) {
      yield* Effect.forkScoped(
        leadership.lead(`outbox:${deliverer.name}`, runPublisher(deliverer, options)).pipe(Effect.tapErrorCause((cause) => Effect.logError(`outbox publisher ${deliverer.name} stopped`, cause)))
      )
    }
    const names = publisherNames(cfg)
    yield* Effect.logInfo(deliverers.length === 0 ? "outbox: no publishers configured" : `outbox publishers: ${names.join(", ")}`)
    const prune = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const pruned = yield* store.prune(names, fromEpochMillis(now - cfg.retentionHours * 3_600_000))
      if (pruned > 0) yield* Effect.logInfo("outbox pruned").pipe(Effect.annotateLogs({ records: pruned }))
    })
    yield* Effect.forkScoped(leadership.lead("outbox:prune", Effect.repeat(prune, Schedule.spaced(Duration.hours(1)))))
  })
)
