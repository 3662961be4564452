/**
 * The as-of API, declared once: handlers, the OpenAPI document at
 * `/docs/openapi.json` and the Swagger page at `/docs` all come from here.
 * Parameter names follow Datafordeler's REST services.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { type Effect, ParseResult, Schema } from "effect"
import type { ClusterView } from "../domain/cluster/ClusterView.js"
import { ANOMALY_KINDS } from "../domain/core/Mirror.js"
import { idProblem, MAX_ID_LENGTH } from "../domain/core/Operation.js"
import { ACTIVATION_KINDS, ACTIVATION_STATUSES, type Activation } from "../store/Activations.js"
import type { ErasureRecord } from "../store/Erasures.js"
import type { AnomalyRecord } from "../store/Mirror.js"
import type { ResyncReport } from "../store/ResyncReports.js"
import type { Row } from "../store/Store.js"
import type { sourcesStatus } from "../store/SourcesStatusView.js"
import { packageVersion } from "./Version.js"

/**
 * An ISO 8601 instant in a query parameter. Declared as a string here (for the
 * OpenAPI document) and parsed by the handler, which answers 400 naming the
 * parameter and what is wrong with it.
 */
export const InstantParam = Schema.String.annotations({
  identifier: "Instant",
  description: "ISO 8601 instant, e.g. 2017-01-04T00:00:00Z or 2017-01-04 (an offset is honoured; none means UTC)",
  // Only a parameter given twice (which arrives as a list) fails here; the handler reads the text.
  message: () => "must be given once, as an instant, e.g. 2017-01-05T00:00:00Z"
})

/** A required instant: its absence said in words, not as a schema dump (see Routes.describeIssues). */
const RequiredInstant = Schema.propertySignature(InstantParam).annotations({
  missingMessage: () => "is required (an instant, e.g. 2017-01-05T00:00:00Z)"
})

/**
 * A whole number in a query parameter: decimal digits only (no `1e3`, `0x10`,
 * sign or space). Read by the handler, which answers 400 naming the parameter
 * and its range (a page's range depends on `api.maxPageSize`).
 */
export const WholeNumberParam = Schema.String.annotations({
  description: "A whole number, decimal digits only",
  jsonSchema: { type: "string", pattern: "^[0-9]+$" },
  message: () => "must be given once, as a whole number (decimal digits only)"
})

/** An objectType or objectId, in a path or a query: at most MAX_ID_LENGTH characters, no control characters. */
export const IdParam = Schema.String.pipe(
  Schema.filter((id) => idProblem(id), { message: (issue) => idProblem(String(issue.actual)) ?? "is not a valid id" })
).annotations({
  description: `1 to ${MAX_ID_LENGTH} characters, no control characters`,
  jsonSchema: { type: "string", minLength: 1, maxLength: MAX_ID_LENGTH }
})

/**
 * One of a few words, said in full when another is given. A transformation, not
 * a bare union of literals: an optional parameter's union would absorb the
 * literals and lose the message.
 */
const OneOf = <const L extends ReadonlyArray<string>>(...words: L) =>
  Schema.transformOrFail(Schema.String, Schema.Literal(...words), {
    strict: true,
    decode: (word, _, ast) =>
      (words as ReadonlyArray<string>).includes(word)
        ? ParseResult.succeed(word as L[number])
        : ParseResult.fail(new ParseResult.Type(ast, word, `must be one of ${words.join(", ")}`)),
    encode: ParseResult.succeed
  }).annotations({ jsonSchema: { type: "string", enum: words } })

/** `after` of a snapshot page: the last objectId of the previous page (empty: from the start). */
const AfterIdParam = Schema.String.pipe(
  Schema.maxLength(MAX_ID_LENGTH, { message: () => `is longer than ${MAX_ID_LENGTH} characters` })
).annotations({ description: "The `next` of the previous page" })

/** An optional query parameter: absent, or given (no `undefined` member to show up in error messages). */
const Optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

const Bound = Schema.NullOr(Schema.String)

/**
 * Compile-time: an answer's schema shows exactly the fields of the domain type
 * it encodes — a field added on one side and not the other does not compile —
 * and accepts every value of it. (The domain's instants are branded strings.)
 */
type Shows<S, D> = [Exclude<keyof S, keyof D>, Exclude<keyof D, keyof S>] extends [never, never] ? (D extends S ? true : false) : false
const shows = <S, D>(_: Shows<S, D>) => undefined

export const RowSchema = Schema.Struct({
  id: Schema.Number,
  objectType: Schema.String,
  objectId: Schema.String,
  registreringFra: Schema.String,
  registreringTil: Bound,
  virkningFra: Bound,
  virkningTil: Bound,
  data: Schema.Unknown,
  eventId: Schema.String,
  storedAt: Schema.String
}).annotations({ identifier: "Row", description: "A bitemporal row; open ends are null; storedAt is when this engine stored it" })
shows<typeof RowSchema.Type, Row>(true)

export const ActivationSchema = Schema.Struct({
  id: Schema.Number,
  objectType: Schema.String,
  objectId: Schema.String,
  kind: Schema.Literal(...ACTIVATION_KINDS),
  at: Schema.String,
  status: Schema.Literal(...ACTIVATION_STATUSES),
  late: Schema.NullOr(Schema.Boolean),
  settledAt: Schema.NullOr(Schema.String),
  rowId: Schema.Number,
  registreringFra: Schema.String,
  virkningFra: Bound,
  virkningTil: Bound
}).annotations({ identifier: "Activation", description: "A future virkning boundary of a row, and when it was settled" })
shows<typeof ActivationSchema.Type, Activation>(true)

export const SnapshotPage = Schema.Struct({
  rows: Schema.Array(RowSchema),
  /** Pass as `after` for the next page; null when this was the last one. */
  next: Schema.NullOr(Schema.String)
}).annotations({ identifier: "SnapshotPage" })

export const History = Schema.Struct({
  objectType: Schema.String,
  objectId: Schema.String,
  rows: Schema.Array(RowSchema)
}).annotations({ identifier: "History" })

export const IngestSummarySchema = Schema.Struct({
  lines: Schema.Number,
  applied: Schema.Number,
  unchanged: Schema.Number,
  duplicate: Schema.Number,
  refused: Schema.Number,
  /** Refused inputs past the first 1000 of a request: counted, summed up in one refused record, not recorded one by one. */
  notRecorded: Schema.optional(Schema.Number),
  refusals: Schema.Array(
    Schema.Struct({
      line: Schema.optional(Schema.Number),
      eventId: Schema.optional(Schema.String),
      field: Schema.optional(Schema.String),
      reason: Schema.String
    })
  )
}).annotations({ identifier: "IngestSummary" })

export const RefusedSchema = Schema.Struct({
  id: Schema.Number,
  receivedAt: Schema.String,
  source: Schema.String,
  line: Schema.NullOr(Schema.Number),
  eventId: Schema.NullOr(Schema.String),
  objectType: Schema.NullOr(Schema.String),
  objectId: Schema.NullOr(Schema.String),
  field: Schema.NullOr(Schema.String),
  reason: Schema.String,
  input: Schema.NullOr(Schema.String)
}).annotations({ identifier: "Refused" })

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }, HttpApiSchema.annotations({ status: 404 })) {}
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }, HttpApiSchema.annotations({ status: 400 })) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { message: Schema.String }, HttpApiSchema.annotations({ status: 401 })) {}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { message: Schema.String }, HttpApiSchema.annotations({ status: 403 })) {}
/** The store failed (disk full, busy past its timeout, …): the message names the operation and why; try again later. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()(
  "StoreUnavailable",
  { operation: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Read scope: a read or a write token, when tokens are configured. */
export class ReadAccess extends HttpApiMiddleware.Tag<ReadAccess>()("skygge/ReadAccess", {
  failure: Schema.Union(Unauthorized, Forbidden),
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Write scope: a write token, when tokens are configured. */
export class WriteAccess extends HttpApiMiddleware.Tag<WriteAccess>()("skygge/WriteAccess", {
  failure: Schema.Union(Unauthorized, Forbidden),
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Erase scope: an erase token (api.eraseTokens), when tokens are configured; neither read nor write tokens erase. */
export class EraseAccess extends HttpApiMiddleware.Tag<EraseAccess>()("skygge/EraseAccess", {
  failure: Schema.Union(Unauthorized, Forbidden),
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** The object was erased (issue 18): no version of it is answered, at any time. */
export class Erased extends Schema.TaggedError<Erased>()(
  "Erased",
  { message: Schema.String, erasure: Schema.Number, erasedAt: Schema.String },
  HttpApiSchema.annotations({ status: 410 })
) {}

export const ErasureSchema = Schema.Struct({
  id: Schema.Number,
  erasedAt: Schema.String,
  erasedBy: Schema.String,
  reason: Schema.String,
  objectType: Schema.String,
  keyHash: Schema.String,
  pseudonym: Schema.String,
  allowNew: Schema.Boolean,
  liftedAt: Schema.NullOr(Schema.String),
  touched: Schema.Record({ key: Schema.String, value: Schema.Number })
}).annotations({ identifier: "Erasure", description: "One erasure: when, by whom, why, what was touched per table — never the data; the object only as an HMAC (keyHash)" })
shows<typeof ErasureSchema.Type, ErasureRecord>(true)

const ObjectPath = Schema.Struct({ objectType: IdParam, objectId: IdParam })
const AsOfParams = Schema.Struct({
  registreringstid: Optional(InstantParam),
  virkningstid: Optional(InstantParam)
})
const Ndjson = HttpApiSchema.withEncoding(Schema.String, { kind: "Text", contentType: "application/x-ndjson" })

const AnomalySchema = Schema.Struct({
  id: Schema.Number,
  detectedAt: Schema.String,
  source: Schema.String,
  objectType: Schema.String,
  objectId: Schema.String,
  kind: Schema.Literal(...ANOMALY_KINDS),
  detail: Schema.String
})
shows<typeof AnomalySchema.Type, AnomalyRecord>(true)

const ResyncReportSchema = Schema.Struct({
  id: Schema.optional(Schema.Number),
  source: Schema.String,
  resource: Schema.String,
  objectType: Schema.String,
  startedAt: Schema.String,
  finishedAt: Schema.String,
  dryRun: Schema.Boolean,
  checked: Schema.Number,
  missing: Schema.Number,
  changed: Schema.Number,
  extra: Schema.Number,
  repaired: Schema.Number,
  revived: Schema.Number,
  error: Schema.NullOr(Schema.String)
})
shows<typeof ResyncReportSchema.Type, ResyncReport>(true)

export const SourcesStatusSchema = Schema.Struct({
  cursors: Schema.Array(Schema.Struct({ source: Schema.String, cursor: Schema.String, updatedAt: Schema.String, ageSeconds: Schema.Number })),
  pushInboxPending: Schema.Number
})
shows<typeof SourcesStatusSchema.Type, Effect.Effect.Success<typeof sourcesStatus>>(true)

export const ClusterViewSchema = Schema.Struct({
  member: Schema.NullOr(Schema.String),
  members: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      name: Schema.String,
      host: Schema.String,
      pid: Schema.Number,
      startedAt: Schema.String,
      heartbeatAt: Schema.String,
      heartbeatAgeSeconds: Schema.Number,
      live: Schema.Boolean,
      holds: Schema.Array(Schema.String)
    })
  ),
  singletons: Schema.Array(Schema.Struct({ name: Schema.String, holder: Schema.NullOr(Schema.String) }))
})
shows<typeof ClusterViewSchema.Type, ClusterView>(true)

/** One group per resource, each behind the read scope (the metric label of a request is `group.endpoint`). */
export const ObjectsGroup = HttpApiGroup.make("objects")
  .add(
    HttpApiEndpoint.get("get", "/v1/objects/:objectType/:objectId")
      .setPath(ObjectPath)
      .setUrlParams(AsOfParams)
      .addSuccess(RowSchema)
      .addError(NotFound)
      .addError(Erased)
      .annotate(OpenApi.Summary, "The row in force at registreringstid and virkningstid (each defaults to now)")
  )
  .add(
    HttpApiEndpoint.get("history", "/v1/objects/:objectType/:objectId/history")
      .setPath(ObjectPath)
      .addSuccess(History)
      .addError(NotFound)
      .addError(Erased)
      .annotate(OpenApi.Summary, "Every row the object ever had, ordered by registreringFra, virkningFra")
  )
  .add(
    HttpApiEndpoint.get("snapshot", "/v1/objects/:objectType")
      .setPath(Schema.Struct({ objectType: IdParam }))
      .setUrlParams(
        Schema.Struct({
          registreringstid: Optional(InstantParam),
          virkningstid: Optional(InstantParam),
          limit: Optional(WholeNumberParam),
          after: Optional(AfterIdParam),
          format: Optional(OneOf("json", "ndjson", "csv"))
        })
      )
      .addSuccess(SnapshotPage)
      .addSuccess(Ndjson)
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "Rows in force of every object of the type, keyset-paged by objectId (`after`). With `Accept: application/x-ndjson` (or `format=ndjson`) the rows from `after` on are streamed, one per line; with `Accept: text/csv` (or `format=csv`) as a CSV file (`limit` caps the count)."
      )
  )
  .middleware(ReadAccess)

export const ChangesGroup = HttpApiGroup.make("changes")
  .add(
    HttpApiEndpoint.get("list", "/v1/changes")
      .setUrlParams(
        Schema.Struct({
          since: RequiredInstant,
          until: Optional(InstantParam),
          objectType: Optional(IdParam),
          format: Optional(OneOf("ndjson", "csv"))
        })
      )
      .addSuccess(Ndjson)
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "Rows registered or closed in [since, until) (until defaults to now), streamed as NDJSON in order of change, each as it stood at `until` with `change` (registered|closed) and `changeAt`: the replacement for a deltafile. `format=csv` (or `Accept: text/csv`) gives the same as a CSV file with a header line."
      )
  )
  .middleware(ReadAccess)

export const ActivationsGroup = HttpApiGroup.make("activations")
  .add(
    HttpApiEndpoint.get("list", "/v1/activations")
      .setUrlParams(
        Schema.Struct({
          from: Optional(InstantParam),
          to: Optional(InstantParam),
          objectType: Optional(IdParam),
          status: Optional(OneOf("pending", "fired", "skipped", "cancelled", "all")),
          limit: Optional(WholeNumberParam),
          after: Optional(Schema.String.annotations({ message: () => "must be given once" }))
        })
      )
      .addSuccess(Schema.Struct({ activations: Schema.Array(ActivationSchema), next: Schema.NullOr(Schema.String) }))
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "Virkningstid activations with `at` in [from, to) (both open by default), oldest first: by default the pending ones — what is due. `status=all` lists every one, with how it was settled (fired, skipped when no longer a real boundary, cancelled when its row was closed first). Page on with `after` = the previous page's `next`."
      )
  )
  .middleware(ReadAccess)

export const RefusedGroup = HttpApiGroup.make("refused")
  .add(
    HttpApiEndpoint.get("list", "/v1/refused")
      .setUrlParams(
        Schema.Struct({
          after: Optional(WholeNumberParam),
          limit: Optional(WholeNumberParam)
        })
      )
      .addSuccess(Schema.Struct({ refused: Schema.Array(RefusedSchema), next: Schema.NullOr(Schema.Number) }))
      .addError(BadRequest)
      .annotate(OpenApi.Summary, "Refused inputs with their reasons, oldest first")
  )
  .middleware(ReadAccess)

export const AnomaliesGroup = HttpApiGroup.make("anomalies")
  .add(
    HttpApiEndpoint.get("list", "/v1/anomalies")
      .setUrlParams(
        Schema.Struct({
          after: Optional(WholeNumberParam),
          limit: Optional(WholeNumberParam),
          objectType: Optional(IdParam)
        })
      )
      .addSuccess(Schema.Struct({ anomalies: Schema.Array(AnomalySchema), next: Schema.NullOr(Schema.Number) }))
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "What a mirrored (bitemporal) upstream did that the mirror would not obey — rewrites of stored rows, reopened or moved closes, rows gone from a complete history, duplicate identities, overlapping rows — oldest first; page on with `after` = `next`."
      )
  )
  .middleware(ReadAccess)

export const SourcesGroup = HttpApiGroup.make("sources")
  .add(
    HttpApiEndpoint.get("status", "/v1/sources")
      .addSuccess(SourcesStatusSchema)
      .annotate(
        OpenApi.Description,
        "Where each polling path stands: its durable cursor (PULL: the end of the last committed window; GraphQL: the last applied eventid; PUSH: the last applied inbox entry), when it was last committed or confirmed and how many seconds ago; and the PUSH events recorded and not yet applied."
      )
  )
  .middleware(ReadAccess)

export const ClusterGroup = HttpApiGroup.make("cluster")
  .add(
    HttpApiEndpoint.get("view", "/v1/cluster")
      .addSuccess(ClusterViewSchema)
      .annotate(
        OpenApi.Description,
        "The engines on this store (several on one PostgreSQL): each member with its last heartbeat, its age and whether it is live (younger than cluster.memberTimeoutSeconds), and the singletons it holds; every singleton any engine has competed for with its holder now (null: nobody) — on PostgreSQL read from the server's own locks; `member` is the engine that answered."
      )
  )
  .middleware(ReadAccess)

export const ResyncReportsGroup = HttpApiGroup.make("resyncReports")
  .add(
    HttpApiEndpoint.get("list", "/v1/resync-reports")
      .setUrlParams(
        Schema.Struct({
          source: Optional(Schema.String.annotations({ message: () => "must be given once" })),
          limit: Optional(WholeNumberParam)
        })
      )
      .addSuccess(Schema.Struct({ reports: Schema.Array(ResyncReportSchema) }))
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "Reconciliation runs, newest first: per source and resource, how many objects were checked, missing, changed and extra, how many were queued for repair (0 in a dry run), abandoned items revived, and why a run stopped short."
      )
  )
  .middleware(ReadAccess)

export const RegistrationsGroup = HttpApiGroup.make("registrations")
  .add(
    HttpApiEndpoint.post("register", "/v1/registrations")
      .addSuccess(IngestSummarySchema)
      .addError(IngestSummarySchema, { status: 422 })
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "Assert/retract operations: one JSON object, a JSON array, or an NDJSON body (Content-Type: application/x-ndjson). 200 when every operation was accepted; 422 when some were refused — the summary names them, and every other operation was still applied; 413 when the body is over api.maxBodyBytes (operations before the limit were applied)."
      )
  )
  .middleware(WriteAccess)

export const ErasuresGroup = HttpApiGroup.make("erasures")
  .add(
    HttpApiEndpoint.get("list", "/v1/erasures")
      .setUrlParams(Schema.Struct({ after: Optional(WholeNumberParam), limit: Optional(WholeNumberParam) }))
      .addSuccess(Schema.Struct({ erasures: Schema.Array(ErasureSchema), next: Schema.NullOr(Schema.Number) }))
      .addError(BadRequest)
      .annotate(OpenApi.Summary, "The erasure log, oldest first (never the data, nor the object id: keyHash is an HMAC under the store's own salt)")
  )
  .middleware(ReadAccess)

export const EraseGroup = HttpApiGroup.make("erase")
  .add(
    HttpApiEndpoint.post("erase", "/v1/erasures")
      .setPayload(
        Schema.Struct({
          objectType: IdParam,
          objectId: IdParam,
          reason: Schema.String.pipe(Schema.minLength(1, { message: () => "reason is required: say why (it is kept in the erasure log)" }), Schema.maxLength(2000)),
          allowNew: Schema.optionalWith(Schema.Boolean, { default: () => false })
        })
      )
      .addSuccess(ErasureSchema, { status: 201 })
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "Erase an object's personal data everywhere in the store, in one transaction: every row's data (history kept as tombstones under a pseudonym), the recorded operations, refused inputs, work items, PUSH inbox entries and anomaly details naming it, undelivered notifications (an `erased` notification goes out instead); later inputs for the object are refused unless `allowNew`. Needs an erase token (api.eraseTokens)."
      )
  )
  .middleware(EraseAccess)

export const SystemGroup = HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Schema.Struct({ status: Schema.Literal("ok") })))
  .add(
    HttpApiEndpoint.get("ready", "/ready")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready") }))
      .annotate(OpenApi.Description, "Readiness for a load balancer: 200 when the store answers one trivial statement (cheap whatever its size); 503 StoreUnavailable when it does not.")
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.withEncoding(Schema.String, { kind: "Text", contentType: "text/plain; version=0.0.4" }))
      .annotate(OpenApi.Summary, "Prometheus metrics")
  )

export class SkyggeApi extends HttpApi.make("skygge")
  .add(ObjectsGroup)
  .add(ChangesGroup)
  .add(ActivationsGroup)
  .add(RefusedGroup)
  .add(AnomaliesGroup)
  .add(SourcesGroup)
  .add(ClusterGroup)
  .add(ResyncReportsGroup)
  .add(RegistrationsGroup)
  .add(ErasuresGroup)
  .add(EraseGroup)
  .add(SystemGroup)
  .addError(BadRequest)
  .addError(StoreUnavailable)
  .annotate(OpenApi.Title, "skygge — bitemporal shadow register")
  .annotate(OpenApi.Version, packageVersion)
  .annotate(OpenApi.Description, "As-of queries over a bitemporal copy of upstream registers. Intervals are half-open [fra, til); null is an open end.") {}
