/**
 * One IntArk source in the `sources` list: a broker and queue to consume, the
 * notification format, and the provider API to fetch from. Decoded with Schema;
 * a mistake stops the start with the path of the bad field. Secrets are given
 * as `{"env": "NAME"}` (read from the environment) or inline strings.
 */
import { Schema } from "effect"
import { CronExpression, decodeSourcesOfKind, FieldsSetting, Secret } from "../../config/Sources.js"

const Positive = Schema.Number.pipe(Schema.int(), Schema.positive())

export const AmqpSettings = Schema.Struct({
  /** amqp:// or amqps:// host, port and vhost; credentials preferably in username/password. */
  url: Schema.String,
  username: Schema.optional(Schema.String),
  password: Schema.optional(Secret),
  /** TLS (amqps): CA bundle, client certificate and key (PEM file paths), SNI name. */
  ca: Schema.optional(Schema.String),
  cert: Schema.optional(Schema.String),
  key: Schema.optional(Schema.String),
  passphrase: Schema.optional(Secret),
  servername: Schema.optional(Schema.String),
  heartbeatSeconds: Schema.optionalWith(Positive, { default: () => 30 }),
  prefetch: Schema.optionalWith(Positive, { default: () => 500 }),
  queue: Schema.String,
  /** Declare our own durable queue and bind it; false: only check a queue someone else made. */
  declare: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  quorum: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  exchange: Schema.optional(Schema.String),
  bindings: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** Poison is published here with its reason (header x-skygge-reason); without one it is rejected (the queue's own DLX, if any). */
  deadLetterExchange: Schema.optional(Schema.String),
  reconnectMaxSeconds: Schema.optionalWith(Positive, { default: () => 30 })
})

const Auth = Schema.Union(
  Schema.Struct({ type: Schema.Literal("bearer"), token: Secret }),
  Schema.Struct({ type: Schema.Literal("basic"), username: Schema.String, password: Secret }),
  Schema.Struct({ type: Schema.Literal("header"), name: Schema.String, value: Secret })
)

export const ProviderSettings = Schema.Struct({
  baseUrl: Schema.String,
  auth: Schema.optional(Auth),
  concurrency: Schema.optionalWith(Positive, { default: () => 8 }),
  timeoutSeconds: Schema.optionalWith(Positive, { default: () => 20 }),
  maxAttempts: Schema.optionalWith(Positive, { default: () => 10 }),
  maxBackoffSeconds: Schema.optionalWith(Positive, { default: () => 300 }),
  /** After a fetch that changed nothing although the hint said it would, fetch once more this much later (0: never). */
  confirmAfterSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 60 }),
  /** How a 404/410 proves it comes from the provider itself; without either, no 404 deletes anything. */
  deletion: Schema.optionalWith(
    Schema.Struct({
      header: Schema.optional(Schema.Struct({ name: Schema.String, value: Schema.String })),
      bodyIncludes: Schema.optional(Schema.String)
    }),
    { default: () => ({}) }
  )
})

export const ResourceSettings = Schema.Struct({
  objectType: Schema.optional(Schema.String),
  /** Path template under baseUrl, e.g. `/personer/{id}`; default: the notification's `sub`, else `/{resource}/{id}`. */
  path: Schema.optional(Schema.String),
  validFrom: Schema.optional(Schema.String),
  validTo: Schema.optional(Schema.String),
  /** List endpoint under baseUrl (e.g. `/personer?limit=1000`): when the shadow holds none of this resource, every listed object is queued (a full load). */
  list: Schema.optional(Schema.String),
  /** For list items without an href: the field holding the id. */
  listIdField: Schema.optional(Schema.String),
  /** Minimisation: `{keep: [paths]}` or `{drop: [paths]}` of each fetched state, before it is stored. */
  fields: Schema.optional(FieldsSetting)
})

export const ResyncSettings = Schema.Struct({
  /** Cron expression (minute hour day month weekday, or with seconds first), e.g. `30 3 * * *`. */
  cron: CronExpression,
  /** Zone the schedule is read in (default: the source's timeZone). */
  timeZone: Schema.optional(Schema.String),
  /** Only measure and report the drift. */
  dryRun: Schema.optionalWith(Schema.Boolean, { default: () => false })
})

export const IntarkSourceSchema = Schema.Struct({
  kind: Schema.Literal("intark"),
  name: Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9_-]*$/i, { message: () => "a source name is letters, digits, '-' and '_'" })),
  format: Schema.optionalWith(Schema.Literal("auto", "fs", "cloudevents", "greg", "scim-event", "scim-notify", "dfo", "mapped"), { default: () => "auto" as const }),
  mapping: Schema.optional(
    Schema.Struct({
      resource: Schema.optional(Schema.String),
      resourceValue: Schema.optional(Schema.String),
      id: Schema.String,
      operation: Schema.optional(Schema.String),
      messageId: Schema.optional(Schema.String),
      issuedAt: Schema.optional(Schema.String)
    })
  ),
  /** Zone of dates without an offset in the provider's data. */
  timeZone: Schema.optionalWith(Schema.String, { default: () => "Europe/Oslo" }),
  amqp: AmqpSettings,
  provider: ProviderSettings,
  /** Resources this source registers; a notification for any other is refused. */
  resources: Schema.Record({ key: Schema.String, value: ResourceSettings }),
  /** Scheduled reconciliation against the provider's list endpoints. */
  resync: Schema.optional(ResyncSettings)
})
export type IntarkSource = typeof IntarkSourceSchema.Type

/** `"//"` keys are comments, at any depth, as everywhere in the configuration file. */
/** The object type a resource's objects are stored as: configured, else `{source}.{resource}`. */
export const objectTypeOf = (source: IntarkSource, resource: string): string => source.resources[resource]?.objectType ?? `${source.name}.${resource}`

/** The IntArk entries of the `sources` list, decoded. */
export const decodeIntarkSources = decodeSourcesOfKind("intark", IntarkSourceSchema)
