/**
 * Thin notifications to an AMQP exchange (RabbitMQ), IntArk style: one
 * CloudEvent per outbox record, persistent, `messageId` = the record's stable
 * id, routing key `{prefix}.{objectType}.{type}`. A batch counts as delivered
 * only when the broker has confirmed every message of it (confirm channel).
 *
 * amqplib does not reconnect by itself: any failure drops the connection, and
 * the next attempt (after the publisher's backoff) opens a new one.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib"
import { Effect, type Scope } from "effect"
import { once } from "node:events"
import { type NotificationOptions, routingKey, toCloudEvent } from "../domain/core/Notification.js"
import { amqpPublisherName } from "./OutboxConfig.js"
import { DeliveryError, type Deliverer } from "./Publisher.js"

export interface AmqpPublisherOptions extends NotificationOptions {
  readonly url: string
  readonly exchange: string
  readonly declareExchange: boolean
}

/** Heartbeats by default, so a silently dead connection is noticed. */
const withHeartbeat = (url: string) => (/[?&]heartbeat=/.test(url) ? url : `${url}${url.includes("?") ? "&" : "?"}heartbeat=30`)

/** An error message without the URL's credentials. */
const describe = (e: unknown, url: string) => {
  const message = e instanceof Error ? e.message : String(e)
  const secret = /\/\/([^@/]*)@/.exec(url)?.[1]
  return secret ? message.split(secret).join("***") : message
}

export const makeAmqpDeliverer = (options: AmqpPublisherOptions): Effect.Effect<Deliverer, never, Scope.Scope> =>
  Effect.gen(function* () {
    let connection: ChannelModel | undefined
    let channel: ConfirmChannel | undefined

    const reset = () => {
      const c = connection
      connection = undefined
      channel = undefined
      if (c !== undefined) c.close().catch(() => undefined)
    }

    const open = async (): Promise<ConfirmChannel> => {
      if (channel !== undefined) return channel
      const c = await amqp.connect(withHeartbeat(options.url), { clientProperties: { connection_name: "skygge outbox" } })
      connection = c
      c.on("error", () => undefined) // reported through the failing publish; 'close' follows
      c.on("close", () => {
        if (connection === c) reset()
      })
      const ch = await c.createConfirmChannel()
      ch.on("error", () => undefined)
      ch.on("close", () => {
        if (channel === ch) channel = undefined
      })
      if (options.declareExchange) await ch.assertExchange(options.exchange, "topic", { durable: true })
      else await ch.checkExchange(options.exchange)
      channel = ch
      return ch
    }

    yield* Effect.addFinalizer(() => Effect.sync(reset))

    const deliverer: Deliverer = {
      name: amqpPublisherName(options.exchange),
      deliver: (records) =>
        Effect.tryPromise({
          try: async () => {
            const ch = await open()
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
          },
          catch: (e) => {
            reset()
            return new DeliveryError({ message: `AMQP: ${describe(e, options.url)}`, delivered: 0 })
          }
        }).pipe(Effect.onInterrupt(() => Effect.sync(reset)))
    }
    return deliverer
  })
