/**
 * The PostgreSQL schema (drizzle pg-core): the source of truth for `drizzle/pg` migrations,
 * table for table the SQLite one (../sqlite/schema.ts), so both backends give the same answers.
 *
 * Why it is shaped this way:
 * - **Instants are the canonical text of domain/core/Instant** (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, fixed
 *   width, UTC), not `timestamptz`. PostgreSQL would keep the microseconds, but node-postgres reads a
 *   `timestamptz` through JS `Date` (milliseconds) and prints it in the session's zone and style; text
 *   goes in and comes out byte for byte as SQLite's does, ordering is string ordering in both, a 7th
 *   digit was already truncated by the domain (the server would round it), and NULL stays an open end.
 * - **Every text column is `COLLATE "C"`** (byte order, as SQLite's BINARY): keyset paging over ids,
 *   `ORDER BY source` and comparisons of instants follow the same order whatever collation the
 *   database was created with (a `da_DK`/`en_US` collation orders `æøå`, case and punctuation otherwise).
 * - **JSON is text** holding the canonical JSON the domain wrote (keys sorted), not `jsonb`: jsonb
 *   reorders keys and drops duplicates, so answers would have to be re-canonicalised to match SQLite
 *   byte for byte. Analysts can still cast (`data::jsonb`).
 * - **Integer keys are `bigint` identities** (SQLite's rowids are 64-bit); sequences never hand out a
 *   number again, as SQLite's AUTOINCREMENT on the outbox. Flags are `boolean`.
 * - **Two current rows of one object never overlap in virkning**: an exclusion constraint (btree_gist,
 *   over a range type on text in collation "C", NULL bounds open) forbids it, checked at commit, so a
 *   planning bug fails loudly instead of corrupting history. drizzle-kit cannot declare it: it is the
 *   custom migration drizzle/pg/0001_virkning_exclusion.sql, narrowed by 0002 to the rows planned
 *   from operations (`mirrored` false): a mirrored upstream's own overlaps are stored as it has them.
 */
import { sql } from "drizzle-orm"
import { bigint, boolean, customType, index, integer, pgTable, primaryKey, uniqueIndex } from "drizzle-orm/pg-core"

/** Text compared byte for byte (see the header). */
const text = customType<{ data: string; driverData: string }>({ dataType: () => 'text COLLATE "C"' })

/** A 64-bit key read as a JS number (ids stay far below 2^53). */
const int8 = (name: string) => bigint(name, { mode: "number" })
const identity = (name: string) => int8(name).primaryKey().generatedByDefaultAsIdentity()

/** Every row the register ever held, append-only but for the one close of `registrering_til`. */
export const rows = pgTable(
  "rows",
  {
    id: identity("id"),
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    registreringFra: text("registrering_fra").notNull(),
    registreringTil: text("registrering_til"),
    virkningFra: text("virkning_fra"),
    virkningTil: text("virkning_til"),
    /** Canonical JSON text (keys sorted). */
    data: text("data").notNull(),
    /** The event that inserted this row. */
    eventId: text("event_id").notNull(),
    /** When this engine stored the row. */
    storedAt: text("stored_at").notNull(),
    /** When this engine closed the row (set with registrering_til). */
    closedAt: text("closed_at"),
    /**
     * Written by the mirror path (a bitemporal upstream's row, stored as upstream has it) rather
     * than planned from an operation. PostgreSQL only: it scopes the exclusion constraint, since an
     * upstream may hold overlapping rows (recorded as an anomaly, stored as it has them).
     */
    mirrored: boolean("mirrored").notNull().default(false)
  },
  (t) => [
    // One object's rows; the current ones (registrering_til IS NULL) first, as on SQLite.
    index("rows_object_idx").on(t.objectType, t.objectId, t.registreringTil.asc().nullsFirst()),
    index("rows_registered_idx").on(t.registreringFra),
    index("rows_closed_idx").on(t.registreringTil).where(sql`registrering_til IS NOT NULL`)
  ]
)

/** Accepted operations in arrival order: dedup by event id, and the log a replay reads. */
export const events = pgTable(
  "events",
  {
    seq: identity("seq"),
    eventId: text("event_id").notNull(),
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    registreringstid: text("registreringstid").notNull(),
    /** The operation as canonical JSON in the import format. */
    operation: text("operation").notNull(),
    /** applied | unchanged */
    outcome: text("outcome").notNull(),
    source: text("source").notNull(),
    receivedAt: text("received_at").notNull()
  },
  (t) => [uniqueIndex("events_event_id_idx").on(t.eventId)]
)

/** Per object: the latest accepted registration, which no later operation may precede. */
export const objects = pgTable(
  "objects",
  {
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    latestRegistrering: text("latest_registrering").notNull()
  },
  (t) => [primaryKey({ columns: [t.objectType, t.objectId] })]
)

/** Inputs that were refused, with the reason, so nothing disappears silently. */
export const refused = pgTable("refused", {
  id: identity("id"),
  receivedAt: text("received_at").notNull(),
  source: text("source").notNull(),
  line: int8("line"),
  eventId: text("event_id"),
  objectType: text("object_type"),
  objectId: text("object_id"),
  field: text("field"),
  reason: text("reason").notNull(),
  /** The input as received (truncated to 16 KiB). */
  input: text("input")
})

/** A future virkning boundary of a stored row, said downstream when it comes. Closing the row cancels it. */
export const activations = pgTable(
  "activations",
  {
    id: identity("id"),
    rowId: int8("row_id").notNull(),
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    /** started | ended */
    kind: text("kind").notNull(),
    at: text("at").notNull(),
    /** pending | fired | skipped | cancelled */
    status: text("status").notNull(),
    createdAt: text("created_at").notNull(),
    settledAt: text("settled_at"),
    late: boolean("late")
  },
  (t) => [
    index("activations_pending_idx").on(t.at, t.id).where(sql`status = 'pending'`),
    index("activations_row_idx").on(t.rowId).where(sql`status = 'pending'`),
    index("activations_at_idx").on(t.at)
  ]
)

/** What downstream is told, written in the transaction of the change itself. `seq` is the delivery order. */
export const outbox = pgTable("outbox", {
  seq: identity("seq"),
  id: text("id").notNull(),
  type: text("type").notNull(),
  objectType: text("object_type").notNull(),
  objectId: text("object_id").notNull(),
  registreringstid: text("registreringstid").notNull(),
  virkningFra: text("virkning_fra"),
  virkningTil: text("virkning_til"),
  eventId: text("event_id"),
  rowId: int8("row_id"),
  at: text("at"),
  late: boolean("late"),
  createdAt: text("created_at").notNull()
})

/** Per publisher: how far it has delivered, and its trouble. */
export const outboxCursors = pgTable("outbox_cursors", {
  publisher: text("publisher").primaryKey(),
  deliveredSeq: int8("delivered_seq").notNull(),
  attempts: integer("attempts").notNull().default(0),
  lastError: text("last_error"),
  updatedAt: text("updated_at").notNull()
})

/** The IntArk work queue: one entry per object a notification pointed at, waiting to be fetched. */
export const workItems = pgTable(
  "work_items",
  {
    source: text("source").notNull(),
    resource: text("resource").notNull(),
    objectId: text("object_id").notNull(),
    location: text("location"),
    operation: text("operation").notNull(),
    hints: integer("hints").notNull(),
    firstHintAt: text("first_hint_at").notNull(),
    lastHintAt: text("last_hint_at").notNull(),
    issuedAt: text("issued_at"),
    validFrom: text("valid_from"),
    /** pending | in_flight | abandoned */
    state: text("state").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: text("next_attempt_at").notNull(),
    lastError: text("last_error"),
    dirty: boolean("dirty").notNull().default(false),
    confirming: boolean("confirming").notNull().default(false),
    /** The member whose claim (lease) an in-flight item is. */
    claimedBy: text("claimed_by")
  },
  (t) => [
    primaryKey({ columns: [t.source, t.resource, t.objectId] }),
    index("work_items_due_idx").on(t.source, t.state, t.nextAttemptAt)
  ]
)

/** The engines running on this store, with their heartbeats (as on SQLite). */
export const clusterMembers = pgTable("cluster_members", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  host: text("host").notNull(),
  pid: integer("pid").notNull(),
  startedAt: text("started_at").notNull(),
  heartbeatAt: text("heartbeat_at").notNull()
})

/** The singletons any engine on this database has competed for, by name (their holders are in pg_locks). */
export const clusterSingletons = pgTable("cluster_singletons", {
  name: text("name").primaryKey(),
  firstCompetedAt: text("first_competed_at").notNull()
})

/** Message ids already recorded, per source. */
export const seenMessages = pgTable(
  "seen_messages",
  {
    source: text("source").notNull(),
    messageId: text("message_id").notNull(),
    receivedAt: text("received_at").notNull()
  },
  (t) => [primaryKey({ columns: [t.source, t.messageId] }), index("seen_messages_received_idx").on(t.receivedAt)]
)

/** One reconciliation run of a source's resource against its upstream. */
export const resyncReports = pgTable(
  "resync_reports",
  {
    id: identity("id"),
    source: text("source").notNull(),
    resource: text("resource").notNull(),
    objectType: text("object_type").notNull(),
    startedAt: text("started_at").notNull(),
    finishedAt: text("finished_at").notNull(),
    dryRun: boolean("dry_run").notNull(),
    checked: int8("checked").notNull(),
    missing: int8("missing").notNull(),
    changed: int8("changed").notNull(),
    extra: int8("extra").notNull(),
    repaired: int8("repaired").notNull(),
    revived: int8("revived").notNull(),
    error: text("error")
  },
  (t) => [index("resync_reports_source_idx").on(t.source, t.id)]
)

/** What a mirrored upstream did that the mirror would not obey: recorded, never applied. */
export const anomalies = pgTable(
  "anomalies",
  {
    id: identity("id"),
    detectedAt: text("detected_at").notNull(),
    source: text("source").notNull(),
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    kind: text("kind").notNull(),
    detail: text("detail").notNull()
  },
  (t) => [index("anomalies_object_idx").on(t.objectType, t.objectId)]
)

/** Where each polling source has got to. */
export const sourceCursors = pgTable("source_cursors", {
  source: text("source").primaryKey(),
  cursor: text("cursor").notNull(),
  updatedAt: text("updated_at").notNull()
})

/** Events received by PUSH, recorded before the sender gets its 201 and processed afterwards. */
export const pushInbox = pgTable(
  "push_inbox",
  {
    id: identity("id"),
    source: text("source").notNull(),
    envelopeId: text("envelope_id").notNull(),
    receivedAt: text("received_at").notNull(),
    body: text("body").notNull(),
    processedAt: text("processed_at")
  },
  (t) => [
    uniqueIndex("push_inbox_envelope_idx").on(t.source, t.envelopeId),
    index("push_inbox_pending_idx").on(t.source, t.id).where(sql`processed_at IS NULL`)
  ]
)

/** The erasure log (issue 18), as on SQLite: an HMAC of the object key, never the id or the data. */
export const erasures = pgTable(
  "erasures",
  {
    id: identity("id"),
    erasedAt: text("erased_at").notNull(),
    erasedBy: text("erased_by").notNull(),
    reason: text("reason").notNull(),
    objectType: text("object_type").notNull(),
    keyHash: text("key_hash").notNull(),
    pseudonym: text("pseudonym").notNull(),
    allowNew: boolean("allow_new").notNull(),
    liftedAt: text("lifted_at"),
    touched: text("touched").notNull()
  },
  (t) => [index("erasures_key_idx").on(t.keyHash, t.id)]
)

/** The store's own random key of the erasure log's HMAC: one row, made by the first erasure. */
export const erasureSalt = pgTable("erasure_salt", {
  id: integer("id").primaryKey(),
  salt: text("salt").notNull()
})
