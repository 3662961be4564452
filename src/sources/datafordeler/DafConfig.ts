/**
 * A Datafordeler source in the `sources` list: how events reach it (the legacy
 * PULL service, GraphQL `<Register>_Events`, OData PUSH — any of them, often
 * two at once during the migration) and, per entity (objekttype / entityname
 * as events name it), how to fetch an object's rows and read them. Secrets as
 * `{"env": NAME}` or inline. Decoded with Schema; a mistake stops the start
 * naming the entry and field.
 */
import { Schema } from "effect"
import { CronExpression, decodeSourcesOfKind, FieldsSetting, Secret } from "../../config/Sources.js"
import { parseInstant } from "../../domain/core/Instant.js"
import { type RowShape, withFields } from "../../domain/core/Mirror.js"
import { DATAFORDELER_SHAPE } from "../../domain/datafordeler/DatafordelerRows.js"
const Positive = Schema.Number.pipe(Schema.int(), Schema.positive())
const Seconds = Schema.Number.pipe(Schema.positive())

/** How object rows are fetched: requests, retries, parallelism, the REST key. Shared by every event path. */
const fetchFields = {
  /** The key this path sends (as `apiKey`) to the REST services it fetches rows from; default pull.apiKey, else graphql.apiKey. */
  restApiKey: Schema.optional(Secret),
  concurrency: Schema.optionalWith(Positive, { default: () => 8 }),
  timeoutSeconds: Schema.optionalWith(Positive, { default: () => 30 }),
  /** Tries per request, and fetches of an object whose rows do not yet show its event before it is parked. */
  maxAttempts: Schema.optionalWith(Positive, { default: () => 5 }),
  maxBackoffSeconds: Schema.optionalWith(Seconds, { default: () => 30 })
}
export interface FetchPolicy {
  readonly concurrency: number
  readonly timeoutSeconds: number
  readonly maxAttempts: number
  readonly maxBackoffSeconds: number
}

export const PullSettings = Schema.Struct({
  /** Base URL of the event service; the PULL path is appended. */
  url: Schema.String,
  apiKey: Schema.optional(Secret),
  pageSize: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 100_000)), { default: () => 1000 }),
  /** What the service is asked for: JSON pages are decoded as they stream in, XML pages once read whole. */
  format: Schema.optionalWith(Schema.Literal("json", "xml"), { default: () => "json" as const }),
  /** Windows end this long before now (the documentation requires at least a minute). */
  lagSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 60 }),
  /** Windows start this long before the cursor (events become visible late). */
  overlapSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 120 }),
  pollSeconds: Schema.optionalWith(Seconds, { default: () => 30 }),
  maxWindowSeconds: Schema.optionalWith(Positive, { default: () => 3600 }),
  /**
   * Where a first start reads events from (an instant; without an offset, in the source's timeZone):
   * a subscription's events reach back to its creation. Unset: from now on. Refused at start when
   * older than fullLoad.retentionDays. Ignored once the path has a cursor.
   */
  startAt: Schema.optional(
    Schema.String.pipe(Schema.filter((s) => (typeof parseInstant(s) === "string" ? undefined : "an instant, e.g. 2026-10-01T00:00:00Z")))
  ),
  ...fetchFields
})

export const OAuthSettings = Schema.Struct({
  /** Token endpoint for the client-credentials grant. */
  tokenUrl: Schema.String,
  clientId: Schema.String,
  clientSecret: Secret,
  scope: Schema.optional(Schema.String)
})

export const GraphqlSettings = Schema.Struct({
  /** The register's GraphQL endpoint, e.g. https://graphql.datafordeler.dk/DAR/v1 */
  url: Schema.String,
  /** Register prefix of the root fields: `DAR` → `DAR_Events`, `DAR_Adresse`. */
  register: Schema.String.pipe(Schema.pattern(/^[A-Za-z][A-Za-z0-9]*$/, { message: () => "a register name is letters and digits (DAR, BBR, CVR, …)" })),
  apiKey: Schema.optional(Secret),
  oauth: Schema.optional(OAuthSettings),
  /** Events per page (`first`). */
  pageSize: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 100_000)), { default: () => 1000 }),
  /** Pages are read until this many events before the objects are fetched (each object once a round). */
  eventsPerRound: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 1_000_000)), { default: () => 100_000 }),
  pollSeconds: Schema.optionalWith(Seconds, { default: () => 30 }),
  /** The events query, if the register's schema wants another than the built one; variables `$first`, `$gt` and (gated) `$lte`. */
  eventsQuery: Schema.optional(Schema.String),
  /** Read only events up to `DAF_RegisterImportStatus.lastEventId` (imports that are complete). */
  importStatusGate: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /**
   * Where a first start reads events from: after this eventid. Unset: after the newest complete one.
   * Refused at start when the service no longer keeps the events after it. Ignored once the path has a cursor.
   */
  startAfterEventId: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.nonNegative())),
  ...fetchFields
})

export const PushTls = Schema.Struct({
  /** PEM files. */
  key: Schema.String,
  cert: Schema.String,
  ca: Schema.optional(Schema.String),
  requestClientCert: Schema.optionalWith(Schema.Boolean, { default: () => true })
})

export const PushSettings = Schema.Struct({
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
  port: Schema.Number.pipe(Schema.int(), Schema.between(0, 65535)),
  /** Path under which `/Events` and `/$batch` are served. */
  basePath: Schema.optionalWith(Schema.String, { default: () => "/" }),
  tls: Schema.optional(PushTls),
  /** Behind a TLS terminator that verifies client certificates: the header carrying the verified subject. */
  clientCertHeader: Schema.optional(Schema.String),
  /** Accept only client certificates (or forwarded subjects) with one of these subject CNs. */
  allowedSubjects: Schema.optional(Schema.Array(Schema.String)),
  /** Processed events are kept this long, so a redelivery within it is known as a duplicate. */
  dedupHours: Schema.optionalWith(Seconds, { default: () => 168 }),
  maxBodyMiB: Schema.optionalWith(Positive, { default: () => 64 }),
  /** Fetching the objects pushed events name. */
  ...fetchFields
})

export const GraphqlQuery = Schema.Struct({
  /** A GraphQL document; variables `$id` (fetch) or `$first`/`$after` (list) are set by the engine. */
  query: Schema.String,
  /** The root field whose `nodes` are rows (default `<register>_<entity>`). */
  root: Schema.optional(Schema.String)
})

/** Whether a `list` query pages by `$first`/`$after` and tells when there is more. */
const listPages = (query: string): boolean => /\$first\b/.test(query) && /\$after\b/.test(query) && /\bhasNextPage\b/.test(query) && /\bendCursor\b/.test(query)

export const EntitySettings = Schema.Struct({
  objectType: Schema.String,
  /** URL of an object's full history, with `{id}`. */
  rest: Schema.optional(Schema.String),
  /** Or a GraphQL query of an object's full history, by `$id` (paged by `$first`/`$after` when it declares them). */
  graphql: Schema.optional(GraphqlQuery),
  /** A GraphQL query of every row of the entity, paged by `$first`/`$after`: the full load when events cannot be trusted to be complete. */
  list: Schema.optional(GraphqlQuery),
  /** Row field names, Datafordeler's by default. */
  idField: Schema.optional(Schema.String),
  rowIdField: Schema.optionalWith(Schema.String, { default: () => "datafordelerRowId" }),
  identity: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** Minimisation: `{keep: [paths]}` or `{drop: [paths]}` of each row's content (the id and identity fields are always kept). */
  fields: Schema.optional(FieldsSetting)
})

export const FullLoadSettings = Schema.Struct({
  /** Events are kept upstream this long: a cursor older than it cannot be caught up by events. */
  retentionDays: Schema.optionalWith(Seconds, { default: () => 60 }),
  /** A register file download (zip of JSON entity lists), loaded through the mirror path. */
  download: Schema.optional(Schema.String),
  downloadApiKey: Schema.optional(Secret),
  /**
   * After a first start loads the download, events are read from this long before its newest row
   * (the download is generated daily or weekly; what changed since comes from events).
   */
  downloadOverlapMinutes: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 60 }),
  /** Also load on this cron schedule (read in the source's timeZone): a resync that adds what lost events never brought. */
  cron: Schema.optional(CronExpression)
})

export const DafSourceSchema = Schema.Struct({
  kind: Schema.Literal("datafordeler"),
  name: Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9_-]*$/i, { message: () => "a source name is letters, digits, '-' and '_'" })),
  timeZone: Schema.optionalWith(Schema.String, { default: () => "Europe/Copenhagen" }),
  pull: Schema.optional(PullSettings),
  graphql: Schema.optional(GraphqlSettings),
  push: Schema.optional(PushSettings),
  fullLoad: Schema.optionalWith(FullLoadSettings, { default: () => ({ retentionDays: 60, downloadOverlapMinutes: 60 }) }),
  /** Keyed by objekttype / entityname as the events name it (e.g. `Adresse`); other events are skipped. */
  entities: Schema.Record({ key: Schema.String, value: EntitySettings })
}).pipe(
  Schema.filter((s) => (s.pull === undefined && s.graphql === undefined && s.push === undefined ? "a datafordeler source needs at least one of pull, graphql and push" : undefined)),
  Schema.filter((s) =>
    s.push?.allowedSubjects !== undefined && s.push.tls === undefined && s.push.clientCertHeader === undefined
      ? "push.allowedSubjects needs client certificates to check: push.tls, or push.clientCertHeader behind a TLS terminator"
      : undefined
  ),
  Schema.filter((s) =>
    s.fullLoad.cron !== undefined && s.fullLoad.download === undefined && Object.values(s.entities).every((e) => e.list === undefined)
      ? "fullLoad.cron needs something to load: fullLoad.download or an entity's list query"
      : undefined
  ),
  Schema.filter((s) => {
    for (const [name, e] of Object.entries(s.entities)) {
      if (e.rest === undefined && e.graphql === undefined) return `entities.${name}: give rest (a URL with {id}) or graphql (a query by $id)`
      if ((e.graphql !== undefined || e.list !== undefined) && s.graphql === undefined) return `entities.${name}: a graphql query needs the source's graphql settings (url, register)`
      // Unpaged, a list reads only the service's first page, and the full load would call itself done without the rest.
      if (e.list !== undefined && !listPages(e.list.query)) {
        return `entities.${name}.list: the query must page — declare $first and $after, and select pageInfo { hasNextPage endCursor } — or the full load reads only the first page`
      }
    }
    return undefined
  })
)
export type DafSource = typeof DafSourceSchema.Type
export type PullSettings = typeof PullSettings.Type
export type GraphqlSettings = typeof GraphqlSettings.Type
export type PushSettings = typeof PushSettings.Type
export type DafEntity = DafSource["entities"][string]

/** An entity's row shape, built once per entity (decoding remembers what it learned of a shape's rows). */
export const rowShape = (entity: DafEntity): RowShape => {
  let shape = shapes.get(entity)
  if (shape === undefined) {
    shape = withFields({ ...DATAFORDELER_SHAPE, id: entity.idField ?? DATAFORDELER_SHAPE.id, identity: entity.identity }, entity.fields)
    shapes.set(entity, shape)
  }
  return shape
}
const shapes = new WeakMap<DafEntity, RowShape>()

/** The Datafordeler entries of the `sources` list, decoded. */
export const decodeDafSources = decodeSourcesOfKind("datafordeler", DafSourceSchema)
