/** Configuration of the outbox publishers (`outbox.*`). */
import { Config, Redacted } from "effect"
import { createHash } from "node:crypto"
import { secretList } from "../config/Config.js"

const positive = (what: string) => Config.validate<number>({ message: `must be ${what}`, validation: (n) => n > 0 })

export const OutboxConfig = Config.all({
  source: Config.string("source").pipe(Config.withDefault("urn:skygge")),
  prefix: Config.string("prefix").pipe(Config.withDefault("skygge")),
  subjectBaseUrl: Config.string("subjectBaseUrl").pipe(Config.withDefault("")),
  /** Delivered records are deleted after this many hours (with no publisher: all records). */
  retentionHours: Config.integer("retentionHours").pipe(Config.withDefault(168), positive("positive")),
  batchSize: Config.integer("batchSize").pipe(Config.withDefault(500), positive("positive")),
  maxBackoffSeconds: Config.integer("maxBackoffSeconds").pipe(Config.withDefault(60), positive("positive")),
  deliveryTimeoutSeconds: Config.integer("deliveryTimeoutSeconds").pipe(Config.withDefault(30), positive("positive")),
  /** amqp:// or amqps:// URL with credentials; empty: no AMQP publisher. */
  amqpUrl: Config.redacted("amqpUrl").pipe(Config.withDefault(Redacted.make(""))),
  amqpExchange: Config.string("amqpExchange").pipe(Config.withDefault("skygge")),
  /** Declare the exchange (durable topic) rather than only check that it exists. */
  amqpDeclareExchange: Config.boolean("amqpDeclareExchange").pipe(Config.withDefault(false)),
  /** Each URL may carry a token in its query: secrets. */
  webhookUrls: secretList("webhookUrls"),
  /** HMAC-SHA256 key for the `X-Skygge-Signature` header; empty: unsigned. */
  webhookSecret: Config.redacted("webhookSecret").pipe(Config.withDefault(Redacted.make("")))
}).pipe(Config.nested("outbox"))
export type OutboxConfig = Config.Config.Success<typeof OutboxConfig>

/**
 * A publisher's name: its cursor's key in the store and its metrics label.
 * Never the credentials or query of a URL (it may carry a token).
 */
export const amqpPublisherName = (exchange: string) => `amqp:${exchange}`
export const webhookPublisherName = (url: string): string => {
  try {
    const u = new URL(url)
    const query = u.search.length > 1 ? `#${createHash("sha256").update(u.search).digest("hex").slice(0, 8)}` : ""
    return `webhook:${u.origin}${u.pathname}${query}`
  } catch {
    return `webhook:#${createHash("sha256").update(url).digest("hex").slice(0, 8)}`
  }
}

/** The names of the configured publishers. */
export const publisherNames = (cfg: OutboxConfig): Array<string> => [
  ...(Redacted.value(cfg.amqpUrl).length > 0 ? [amqpPublisherName(cfg.amqpExchange)] : []),
  ...cfg.webhookUrls.map((u) => webhookPublisherName(Redacted.value(u))).filter((u) => u.length > 0)
]
