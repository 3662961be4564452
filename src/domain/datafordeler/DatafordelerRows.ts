/**
 * How Datafordeler's rows read as a register's content. The platform's own
 * columns — every field named `datafordeler…` (datafordelerRowId, …RowVersion,
 * …Opdateringstid, …RegisterImportSequenceNumber, in any spelling, nested
 * rows' too) — are bookkeeping, not the register's data: a re-import writes the
 * same rows again with new ones, so they are never compared as content. REST
 * keeps Danish field names (`dørbetegnelse`), GraphQL transliterates them
 * (`doerbetegnelse`): the same row read through the other service is the same
 * row, not a rewrite (a source moving from REST to GraphQL must not see its
 * whole history as anomalies).
 */
import { transliterate } from "./DatafordelerEvents.js"
import type { RowShape } from "../core/Mirror.js"

/** The platform's bookkeeping columns (row ids, versions, update stamps, import sequence numbers), by name. */
export const isBookkeeping = (field: string): boolean => /^datafordeler/i.test(field)

/** A JSON value with every object key spelled in ASCII (æ→ae, ø→oe, å→aa), as GraphQL spells Datafordeler's fields. */
const asciiKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(asciiKeys)
  if (value === null || typeof value !== "object") return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [transliterate(k), asciiKeys(v)]))
}

/** A JSON value without the platform's bookkeeping fields, at any depth (nested rows carry their own). */
const withoutBookkeeping = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutBookkeeping)
  if (value === null || typeof value !== "object") return value
  return Object.fromEntries(Object.entries(value).filter(([k]) => !isBookkeeping(k)).map(([k, v]) => [k, withoutBookkeeping(v)]))
}

/** Datafordeler's naming. */
export const DATAFORDELER_SHAPE: RowShape = {
  id: "id_lokalId",
  registreringFra: "registreringFra",
  registreringTil: "registreringTil",
  virkningFra: "virkningFra",
  virkningTil: "virkningTil",
  identity: [],
  volatile: ["datafordelerOpdateringstid", "datafordelerRowVersion", "datafordelerRowId", "datafordelerRegisterImportSequenceNumber"],
  updatedAt: "datafordelerOpdateringstid",
  bookkeeping: isBookkeeping,
  normalise: (content) => withoutBookkeeping(asciiKeys(content))
}
