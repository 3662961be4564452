/**
 * The SQLite schema (drizzle): the source of truth for `drizzle/sqlite`
 * migrations. Instants are canonical fixed-width UTC text (see domain/core/Instant),
 * so every comparison and index below orders them correctly; NULL is an open end.
 */
import { sql } from "drizzle-orm"
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core"

/** Every row the register ever held, append-only but for the one close of `registrering_til`. */
export const rows = sqliteTable(
  "rows",
  {
    id: integer("id").primaryKey(),
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
    closedAt: text("closed_at")
  },
  (t) => [
    // Point query, history, planning and snapshot: one object's rows; NULLs sort
    // first, so the current rows (registrering_til IS NULL) are one seek.
    index("rows_object_idx").on(t.objectType, t.objectId, t.registreringTil),
    // Changes: rows registered in a window …
    index("rows_registered_idx").on(t.registreringFra),
    // … and rows closed in a window (partial: new rows, all open, cost it nothing).
    index("rows_closed_idx").on(t.registreringTil).where(sql`registrering_til IS NOT NULL`)
  ]
)

/** Accepted operations in arrival order: dedup by event id, and the log a replay reads. */
export const events = sqliteTable(
  "events",
  {
    seq: integer("seq").primaryKey(),
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
export const objects = sqliteTable(
  "objects",
  {
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    latestRegistrering: text("latest_registrering").notNull()
  },
  (t) => [primaryKey({ columns: [t.objectType, t.objectId] })]
)

/** Inputs that were refused, with the reason, so nothing disappears silently. */
export const refused = sqliteTable("refused", {
  id: integer("id").primaryKey(),
  receivedAt: text("received_at").notNull(),
  /** Where it came from, e.g. `import:ops.ndjson` or `http`. */
  source: text("source").notNull(),
  /** Line number within the source (NDJSON), when there is one. */
  line: integer("line"),
  eventId: text("event_id"),
  objectType: text("object_type"),
  objectId: text("object_id"),
  field: text("field"),
  reason: text("reason").notNull(),
  /** The input as received (truncated to 16 KiB). */
  input: text("input")
})

/**
 * A future virkning boundary of a stored row: when `at` comes, the engine says
 * so downstream (upstream never does). Closing the row cancels it.
 */
export const activations = sqliteTable(
  "activations",
  {
    id: integer("id").primaryKey(),
    rowId: integer("row_id").notNull(),
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    /** started (the row's virkningFra) | ended (its virkningTil) */
    kind: text("kind").notNull(),
    at: text("at").notNull(),
    /** pending | fired | skipped (no longer a real boundary when due) | cancelled (row closed first) */
    status: text("status").notNull(),
    createdAt: text("created_at").notNull(),
    settledAt: text("settled_at"),
    /** Fired later than `activations.lateAfterSeconds` after `at` (downtime). */
    late: integer("late", { mode: "boolean" })
  },
  (t) => [
    // The scheduler's next wait and the due batch: pending only, in time order.
    index("activations_pending_idx").on(t.at, t.id).where(sql`status = 'pending'`),
    // Cancelling on close, and the listing by window.
    index("activations_row_idx").on(t.rowId).where(sql`status = 'pending'`),
    index("activations_at_idx").on(t.at)
  ]
)

/**
 * What downstream is told, written in the transaction of the change (or the
 * activation) itself. `seq` is the delivery order; `id` is stable for dedup.
 */
export const outbox = sqliteTable("outbox", {
  // AUTOINCREMENT: a pruned-empty outbox must not hand out an old seq again (cursors would skip it).
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  id: text("id").notNull(),
  /** created | updated | deleted | validity-started | validity-ended | erased */
  type: text("type").notNull(),
  objectType: text("object_type").notNull(),
  objectId: text("object_id").notNull(),
  /** The operation's registreringstid, or the row's registreringFra for an activation. */
  registreringstid: text("registreringstid").notNull(),
  virkningFra: text("virkning_fra"),
  virkningTil: text("virkning_til"),
  eventId: text("event_id"),
  rowId: integer("row_id"),
  /** The activation instant. */
  at: text("at"),
  late: integer("late", { mode: "boolean" }),
  createdAt: text("created_at").notNull()
})

/** Per publisher (an AMQP exchange, a webhook URL): how far it has delivered, and its trouble. */
export const outboxCursors = sqliteTable("outbox_cursors", {
  publisher: text("publisher").primaryKey(),
  deliveredSeq: integer("delivered_seq").notNull(),
  attempts: integer("attempts").notNull().default(0),
  lastError: text("last_error"),
  updatedAt: text("updated_at").notNull()
})

/**
 * The IntArk work queue: one entry per object a notification pointed at,
 * waiting to be fetched. A burst of notifications for one object collapses
 * into one entry; the entry survives a crash (acks come after it is written).
 */
export const workItems = sqliteTable(
  "work_items",
  {
    source: text("source").notNull(),
    resource: text("resource").notNull(),
    objectId: text("object_id").notNull(),
    /** Where to fetch, when the notification said (FS `sub`, an object URL). */
    location: text("location"),
    /** The latest hint's operation (create|update|delete|unknown): a hint, not the truth. */
    operation: text("operation").notNull(),
    hints: integer("hints").notNull(),
    firstHintAt: text("first_hint_at").notNull(),
    lastHintAt: text("last_hint_at").notNull(),
    /** The notification's own issued-at, kept as provenance. */
    issuedAt: text("issued_at"),
    validFrom: text("valid_from"),
    /** pending | in_flight | abandoned */
    state: text("state").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: text("next_attempt_at").notNull(),
    lastError: text("last_error"),
    /** A hint arrived while the fetch was in flight: fetch again after it. */
    dirty: integer("dirty", { mode: "boolean" }).notNull().default(false),
    /** A confirming re-fetch is scheduled (the API may lag its notifications). */
    confirming: integer("confirming", { mode: "boolean" }).notNull().default(false),
    /** The member (cluster_members.id) whose claim an in-flight item is: a lease, good while that member's heartbeat is. */
    claimedBy: text("claimed_by")
  },
  (t) => [
    primaryKey({ columns: [t.source, t.resource, t.objectId] }),
    index("work_items_due_idx").on(t.source, t.state, t.nextAttemptAt)
  ]
)

/**
 * The engines running on this store, each a row while it lives: its heartbeat says it is alive (a
 * work claim is good for as long as its member's heartbeat is fresh). A member that stopped is
 * deleted; one that died stays, its heartbeat ageing, until it is forgotten a while later.
 */
export const clusterMembers = sqliteTable("cluster_members", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  host: text("host").notNull(),
  pid: integer("pid").notNull(),
  startedAt: text("started_at").notNull(),
  heartbeatAt: text("heartbeat_at").notNull()
})

/** The singletons any engine on this store has competed for, by name: what /v1/cluster and `skygge cluster` list. */
export const clusterSingletons = sqliteTable("cluster_singletons", {
  name: text("name").primaryKey(),
  firstCompetedAt: text("first_competed_at").notNull()
})

/** Message ids already recorded, per source: a redelivered or duplicated notification is dropped. */
export const seenMessages = sqliteTable(
  "seen_messages",
  {
    source: text("source").notNull(),
    messageId: text("message_id").notNull(),
    receivedAt: text("received_at").notNull()
  },
  (t) => [primaryKey({ columns: [t.source, t.messageId] }), index("seen_messages_received_idx").on(t.receivedAt)]
)

/** One reconciliation run of a source's resource against its upstream: what was checked, what drifted, what was done. */
export const resyncReports = sqliteTable(
  "resync_reports",
  {
    id: integer("id").primaryKey(),
    source: text("source").notNull(),
    resource: text("resource").notNull(),
    objectType: text("object_type").notNull(),
    startedAt: text("started_at").notNull(),
    finishedAt: text("finished_at").notNull(),
    dryRun: integer("dry_run", { mode: "boolean" }).notNull(),
    checked: integer("checked").notNull(),
    missing: integer("missing").notNull(),
    changed: integer("changed").notNull(),
    extra: integer("extra").notNull(),
    /** Objects queued for the fetch path to repair (missing + changed + extra, unless a dry run). */
    repaired: integer("repaired").notNull(),
    /** Abandoned work items given another chance. */
    revived: integer("revived").notNull(),
    /** Why the run stopped short, if it did (then nothing was repaired). */
    error: text("error")
  },
  (t) => [index("resync_reports_source_idx").on(t.source, t.id)]
)

/** What a mirrored upstream did that the mirror would not obey (history rewrites, overlaps, …): recorded, never applied. */
export const anomalies = sqliteTable(
  "anomalies",
  {
    id: integer("id").primaryKey(),
    detectedAt: text("detected_at").notNull(),
    source: text("source").notNull(),
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    /** rewrite | reopen | missing-upstream | overlap | duplicate-identity | invalid-close */
    kind: text("kind").notNull(),
    detail: text("detail").notNull()
  },
  (t) => [index("anomalies_object_idx").on(t.objectType, t.objectId)]
)

/** Where each polling source has got to (Datafordeler PULL: the end of the last committed window). */
export const sourceCursors = sqliteTable("source_cursors", {
  source: text("source").primaryKey(),
  cursor: text("cursor").notNull(),
  updatedAt: text("updated_at").notNull()
})

/**
 * Events received by PUSH, recorded before the sender gets its 201 and processed
 * afterwards (fetch, mirror). One row per (source, envelope Id): a redelivery is a
 * duplicate. Processed rows are kept a while for that dedup, then pruned.
 */
export const pushInbox = sqliteTable(
  "push_inbox",
  {
    id: integer("id").primaryKey(),
    source: text("source").notNull(),
    envelopeId: text("envelope_id").notNull(),
    receivedAt: text("received_at").notNull(),
    /** The event as sent (JSON). */
    body: text("body").notNull(),
    processedAt: text("processed_at")
  },
  (t) => [
    uniqueIndex("push_inbox_envelope_idx").on(t.source, t.envelopeId),
    index("push_inbox_pending_idx").on(t.source, t.id).where(sql`processed_at IS NULL`)
  ]
)

/**
 * The erasure log (issue 18): who erased which object when and why, and what was touched (counts per
 * table) — never the data, nor the object id: `key_hash` is an HMAC of (type, id) under the store's own
 * salt (erasure_salt), so a later input for the object can be matched, but the log names nobody.
 * `pseudonym` is the id the object's tombstone rows carry from then on.
 */
export const erasures = sqliteTable(
  "erasures",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    erasedAt: text("erased_at").notNull(),
    /** The token's label (`token sha256:<prefix>`), `http` on an open API, or `cli`. */
    erasedBy: text("erased_by").notNull(),
    reason: text("reason").notNull(),
    objectType: text("object_type").notNull(),
    keyHash: text("key_hash").notNull(),
    pseudonym: text("pseudonym").notNull(),
    /** New inputs for the object are accepted (else refused until the erasure is lifted). */
    allowNew: integer("allow_new", { mode: "boolean" }).notNull(),
    liftedAt: text("lifted_at"),
    /** JSON: table → records touched. */
    touched: text("touched").notNull()
  },
  (t) => [index("erasures_key_idx").on(t.keyHash, t.id)]
)

/** The store's own random key of the erasure log's HMAC: one row, made by the first erasure. */
export const erasureSalt = sqliteTable("erasure_salt", {
  id: integer("id").primaryKey(),
  salt: text("salt").notNull()
})
