/**
 * A Datafordeler source in the `sources` list: the legacy PULL event service
 * and, per entity (objekttype as events name it), how to fetch an object's
 * rows and read them. Secrets as `{"env": NAME}` or inline. Decoded with
 * Schema; a mistake stops the start naming the entry and field.
 */
import { Schema } from "effect"
import { decodeSourcesOfKind, Secret } from "../../config/Sources.js"
import { DATAFORDELER_SHAPE, type RowShape } from "../../domain/Mirror.js"
const Positive = Schema.Number.pipe(Schema.int(), Schema.positive())

export const PullSettings = Schema.Struct({
  /** Base URL of the event service; the PULL path is appended. */
  url: Schema.String,
  apiKey: Schema.optional(Secret),
  pageSize: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 100_000)), { default: () => 1000 }),
  /** Windows end this long before now (the documentation requires at least a minute). */
  lagSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 60 }),
  /** Windows start this long before the cursor (events become visible late). */
  overlapSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 120 }),
  pollSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 30 }),
  maxWindowSeconds: Schema.optionalWith(Positive, { default: () => 3600 }),
  concurrency: Schema.optionalWith(Positive, { default: () => 8 }),
  timeoutSeconds: Schema.optionalWith(Positive, { default: () => 30 }),
  /** Fetches of an object whose rows do not yet show its event, before the window is left for the next poll. */
  maxAttempts: Schema.optionalWith(Positive, { default: () => 5 }),
  maxBackoffSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 30 })
})

export const EntitySettings = Schema.Struct({
  objectType: Schema.String,
  /** URL of an object's full history, with `{id}`. */
  rest: Schema.String,
  /** Row field names, Datafordeler's by default. */
  idField: Schema.optional(Schema.String),
  identity: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
})

export const DafSourceSchema = Schema.Struct({
  kind: Schema.Literal("datafordeler"),
  name: Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9_-]*$/i, { message: () => "a source name is letters, digits, '-' and '_'" })),
  timeZone: Schema.optionalWith(Schema.String, { default: () => "Europe/Copenhagen" }),
  pull: PullSettings,
  /** Keyed by objekttype as the events name it (e.g. `Adresse`); other events are skipped. */
  entities: Schema.Record({ key: Schema.String, value: EntitySettings })
})
export type DafSource = typeof DafSourceSchema.Type

export const rowShape = (entity: DafSource["entities"][string]): RowShape => ({ ...DATAFORDELER_SHAPE, id: entity.idField ?? DATAFORDELER_SHAPE.id, identity: entity.identity })

/** The Datafordeler entries of the `sources` list, decoded. */
export const decodeDafSources = decodeSourcesOfKind("datafordeler", DafSourceSchema)
