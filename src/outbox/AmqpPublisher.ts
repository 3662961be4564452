/**
 * Thin notifications to an AMQP exchange (RabbitMQ), IntArk style: one
 * CloudEvent per outbox record, persistent, `messageId` = the record's stable
 * id, routing key `{prefix}.{objectType}.{type}`. A batch counts as delivered
 * only when the broker has confirmed every message of it (confirm channel).
 *
 * The connection is the AMQP connection service's: any failure closes it,
 * and the next attempt (after the publisher's backoff) opens a new one.
 */
import type { ConfirmChannel } from "amqplib"
import { Effect, type Scope } from "effect"
import { once } from "node:events"
import { amqpTry, type Connected, makeAmqpConnection, type OpenChannel } from "../amqp/AmqpConnection.js"
import { type NotificationOptions, routingKey, toCloudEvent } from "../domain/core/Notification.js"
import { amqpPublisherName } from "./OutboxConfig.js"
import { DeliveryError, type Deliverer } from "./Publisher.js"

export interface AmqpPublisherOptions extends NotificationOptions {
  readonly url: string
  readonly exchange: string
  readonly declareExchange: boolean
}

export const makeAmqpDeliverer = (options: AmqpPublisherOptions): Effect.Effect<Deliverer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const amqpConnection = yield* makeAmqpConnection({ url: options.url, name: "skygge outbox", heartbeatSeconds: 30 })
    // The confirm channel of the live connection, opened with it and checked for the exchange once.
    let open: { readonly connected: Connected; readonly opened: OpenChannel<ConfirmChannel> } | undefined

    const channel = Effect.gen(function* () {
      const connected = yield* amqpConnection.connection
      // A closed channel is opened again at the next delivery; why it closed shows in the failing publish.
      if (open !== undefined && open.connected === connected && (yield* open.opened.isOpen)) return open.opened.channel
      const opened = yield* amqpConnection.confirmChannel(connected)
      const ch = opened.channel
      yield* amqpTry(options.url, () => (options.declareExchange ? ch.assertExchange(options.exchange, "topic", { durable: true }) : ch.checkExchange(options.exchange)))
      open = { connected, opened }
      return ch
    })

    const publish = (ch: ConfirmChannel, records: Parameters<Deliverer["deliver"]>[0]) =>
      amqpTry(options.url, async () => {
        for (const record of records) {
          const event = toCloudEvent(record, options)
          const ok = ch.publish(options.exchange, routingKey(record, options), Buffer.from(JSON.stringify(event)), {
            persistent: true,
            messageId: record.id,
            type: event.type,
            contentType: "application/cloudevents+json",
            timestamp: Math.floor(Date.parse(record.createdAt) / 1000)
          })
          if (!ok) await once(ch, "drain")
        }
        await ch.waitForConfirms()
      })

    const deliverer: Deliverer = {
      name: amqpPublisherName(options.exchange),
      deliver: (records) =>
        Effect.flatMap(channel, (ch) => publish(ch, records)).pipe(
          Effect.catchAll((e) => Effect.zipRight(amqpConnection.reset, Effect.fail(new DeliveryError({ message: `AMQP: ${e.message}`, delivered: 0 })))),
          Effect.onInterrupt(() => amqpConnection.reset)
        )
    }
    return deliverer
  })
