/**
 * A row as both backends read it from `rows` (the same column names), and how every interface
 * shows it. SQLite gives ids as numbers, PostgreSQL's bigint as text.
 */
import type { Bound, Instant } from "../domain/core/Instant.js"
import type { ChangeSource } from "./ChangesMerge.js"
import { decodeRecordedOperation } from "../domain/core/Operation.js"
import type { RecordedEvent, RefusedRecord, Row } from "./Store.js"

export interface RowRecord {
  id: number | string
  object_type: string
  object_id: string
  registrering_fra: string
  registrering_til: string | null
  virkning_fra: string | null
  virkning_til: string | null
  data: string
  event_id: string
  stored_at: string
}

export const ROW_COLUMNS = "id, object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at"

export const toRow = (r: RowRecord): Row => ({
  id: Number(r.id),
  objectType: r.object_type,
  objectId: r.object_id,
  registreringFra: r.registrering_fra as Instant,
  registreringTil: r.registrering_til as Bound,
  virkningFra: r.virkning_fra as Bound,
  virkningTil: r.virkning_til as Bound,
  data: JSON.parse(r.data) as unknown,
  eventId: r.event_id,
  storedAt: r.stored_at as Instant
})

/** Row records as the changes merge reads them. */
export const ROW_CHANGE_SOURCE: ChangeSource<RowRecord> = {
  registreringFra: (r) => r.registrering_fra,
  registreringTil: (r) => r.registrering_til,
  id: (r) => Number(r.id),
  row: toRow
}

/** An `events` record as both backends read it (bigint as text on PostgreSQL). */
export interface EventRecord {
  seq: number | string
  event_id: string
  operation: string
  outcome: "applied" | "unchanged"
  source: string
  received_at: string
}

export const EVENT_COLUMNS = "seq, event_id, operation, outcome, source, received_at"

export const toRecordedEvent = (e: EventRecord): RecordedEvent => ({
  seq: Number(e.seq),
  eventId: e.event_id,
  operation: decodeRecordedOperation(e.operation),
  outcome: e.outcome,
  source: e.source,
  receivedAt: e.received_at as Instant
})

/** A `refused` record as both backends read it. */
export interface RefusedRow {
  id: number | string
  received_at: string
  source: string
  line: number | string | null
  event_id: string | null
  object_type: string | null
  object_id: string | null
  field: string | null
  reason: string
  input: string | null
}

export const REFUSED_COLUMNS = "id, received_at, source, line, event_id, object_type, object_id, field, reason, input"

export const toRefusedRecord = (r: RefusedRow): RefusedRecord => ({
  id: Number(r.id),
  receivedAt: r.received_at as Instant,
  source: r.source,
  line: r.line === null ? null : Number(r.line),
  eventId: r.event_id,
  objectType: r.object_type,
  objectId: r.object_id,
  field: r.field,
  reason: r.reason,
  input: r.input
})
