/**
 * Notifications to an HTTP endpoint: one POST per outbox record, the CloudEvent
 * as the JSON body, signed with HMAC-SHA256 over the exact body bytes
 * (`X-Skygge-Signature: sha256=<hex>`), in order; any non-2xx answer stops the
 * batch there, to be retried from that record.
 */
import { Effect } from "effect"
import { createHmac } from "node:crypto"
import { request } from "undici"
import { type NotificationOptions, toCloudEvent } from "../domain/core/Notification.js"
import { webhookPublisherName } from "./OutboxConfig.js"
import { DeliveryError, type Deliverer } from "./Publisher.js"

export interface WebhookOptions extends NotificationOptions {
  readonly url: string
  /** Empty: unsigned. */
  readonly secret: string
  readonly timeoutMs: number
}

export const signature = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`

export const makeWebhookDeliverer = (options: WebhookOptions): Deliverer => {
  const name = webhookPublisherName(options.url)
  return {
    name,
    deliver: (records) =>
      Effect.gen(function* () {
        for (const [i, record] of records.entries()) {
          const body = JSON.stringify(toCloudEvent(record, options))
          const headers: Record<string, string> = {
            "content-type": "application/cloudevents+json",
            "x-skygge-delivery": record.id
          }
          if (options.secret.length > 0) headers["x-skygge-signature"] = signature(options.secret, body)
          const status = yield* Effect.tryPromise({
            try: async (signal) => {
              const res = await request(options.url, {
                method: "POST",
                headers,
                body,
                signal,
                headersTimeout: options.timeoutMs,
                bodyTimeout: options.timeoutMs
              })
              await res.body.dump()
              return res.statusCode
            },
            // The message names the publisher, never the full URL (it may carry a token).
            catch: (e) => new DeliveryError({ message: `${name}: ${(e as Error).message ?? String(e)}`, delivered: i })
          })
          if (status < 200 || status >= 300) return yield* new DeliveryError({ message: `${name}: HTTP ${status}`, delivered: i })
        }
      })
  }
}
