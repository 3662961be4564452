/**
 * Mirror planning for a bitemporal upstream (Datafordeler): store its rows as
 * they are. A row is known by its identity (registreringFra, virkningFra and
 * any configured extra fields such as MAT's `status`). For each upstream row:
 *
 *   unknown identity                           → insert it
 *   known, same content, ours open, theirs     → the one allowed change: close ours
 *     closed (registreringTil set)                at their registreringTil
 *   known, same content, same registreringTil  → nothing
 *   anything else (content or a closed         → an anomaly (a history rewrite): recorded,
 *     registreringTil changed, a reopen)          ours kept — never silently obeyed
 *
 * An answer testifies only about what it could have seen: a whole history
 * older than what we hold (isStaleSnapshot), one checked against rows held in
 * another state than now (`checkedAgainst`), rows true as of an instant before
 * a held row was closed (`asOf`) — none of these shows a reopen or an absence.
 *
 * A register's shape says which fields are its platform's bookkeeping (row
 * ids, update stamps, import numbers: a re-import writes the same rows again
 * with new ones) — never compared as content — and how two spellings of the
 * same content compare (Datafordeler's: domain/datafordeler/DatafordelerRows).
 *
 * With the object's complete history in hand, a row we hold that upstream no
 * longer has is an anomaly too. After the plan, rows whose registration and
 * validity intervals both overlap are reported as an overlap anomaly (real DAR
 * data has some); they are stored anyway, as upstream has them.
 */
import { type Bound, type Instant, parseInstant } from "./Instant.js"
import { type FieldFilter, minimise } from "./Fields.js"
import { getPath, setOwn } from "./Json.js"
import { canonicalJson } from "./Operation.js"

/** Where a register's rows keep the object id and the four instants, and what identifies a row. */
export interface RowShape {
  readonly id: string
  readonly registreringFra: string
  readonly registreringTil: string
  readonly virkningFra: string
  readonly virkningTil: string
  /** Fields besides the two start instants that identify a row (MAT adds `status`). */
  readonly identity: ReadonlyArray<string>
  /** Fields that change when upstream closes a row (update stamps, event ids): not part of its content. */
  readonly volatile: ReadonlyArray<string>
  /** Where a row says when the platform last wrote it (how current a file download is). */
  readonly updatedAt?: string
  /** The platform's bookkeeping fields besides `volatile`, by name: not stored as content, never compared. */
  readonly bookkeeping?: (field: string) => boolean
  /** Content as compared when two rows' texts differ (spellings, nested bookkeeping); without it, different texts differ. */
  readonly normalise?: ContentNormaliser
  /** Minimisation: the content fields that are stored (the id and identity fields always are). */
  readonly fields?: FieldFilter
}

export type ContentNormaliser = (content: unknown) => unknown

/**
 * A shape that stores only `fields` of each row's content. Its content rule minimises too, so rows
 * stored before the setting (or before `skygge minimise` rewrote them) are not taken for rewrites.
 */
export const withFields = (shape: RowShape, fields: FieldFilter | undefined): RowShape => {
  if (fields === undefined) return shape
  const always = [shape.id, ...shape.identity]
  const base = shape.normalise
  return { ...shape, fields, normalise: (content) => (base === undefined ? minimise(content, fields, always) : base(minimise(content, fields, always))) }
}

export interface MirrorRow {
  readonly objectId: string
  readonly registreringFra: Instant
  readonly registreringTil: Bound
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  /** Canonical JSON of the row without its instants and volatile fields. */
  readonly data: string
  /** Identity within the object: registreringFra, virkningFra and the extra identity fields. */
  readonly key: string
}

export interface StoredMirrorRow extends MirrorRow {
  readonly id: number
}

/** What a mirrored upstream can do that the mirror records instead of obeying (the API shows exactly these). */
export const ANOMALY_KINDS = ["rewrite", "reopen", "missing-upstream", "overlap", "duplicate-identity", "invalid-close"] as const
export type AnomalyKind = (typeof ANOMALY_KINDS)[number]

export interface Anomaly {
  readonly kind: AnomalyKind
  readonly detail: string
}

export interface MirrorPlan {
  readonly insert: ReadonlyArray<MirrorRow>
  readonly close: ReadonlyArray<{ readonly id: number; readonly at: Instant }>
  readonly unchanged: number
  readonly anomalies: ReadonlyArray<Anomaly>
}

const rowKey = (registreringFra: Instant, virkningFra: Bound, extras: ReadonlyArray<unknown>) =>
  JSON.stringify([registreringFra, virkningFra, ...extras])

/** The key of a stored row (its extra identity fields are read from its data). */
export const storedKey = (row: { registreringFra: Instant; virkningFra: Bound; data: string }, identity: ReadonlyArray<string>): string => {
  const data = identity.length === 0 ? undefined : (JSON.parse(row.data) as unknown)
  return rowKey(row.registreringFra, row.virkningFra, identity.map((f) => getPath(data, f) ?? null))
}

/** A shape's last-seen key set and the content keys among it, sorted (rows of one type share one key set). */
const contentKeysByShape = new WeakMap<RowShape, { readonly keys: ReadonlyArray<string>; readonly content: ReadonlyArray<string> }>()

/** A row's content keys (not its instants, volatile or bookkeeping fields), sorted as canonical JSON writes them. */
const contentKeys = (shape: RowShape, record: Record<string, unknown>): ReadonlyArray<string> => {
  const keys = Object.keys(record)
  const memo = contentKeysByShape.get(shape)
  if (memo !== undefined && memo.keys.length === keys.length && memo.keys.every((k, i) => k === keys[i])) return memo.content
  const skip = new Set([shape.registreringFra, shape.registreringTil, shape.virkningFra, shape.virkningTil, ...shape.volatile])
  const content = keys.filter((k) => !skip.has(k) && shape.bookkeeping?.(k) !== true).sort()
  contentKeysByShape.set(shape, { keys, content })
  return content
}

/**
 * One upstream row, decoded. Absent or null end instants are open (REST omits them on current rows).
 * Instants are parsed exactly, in `timeZone` when they carry no offset.
 */
export const decodeMirrorRow = (raw: unknown, shape: RowShape, timeZone: string): MirrorRow | { readonly reason: string; readonly field?: string } => {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return { reason: "a row must be a JSON object" }
  const record = raw as Record<string, unknown>
  const id = getPath(record, shape.id)
  if (!((typeof id === "string" && id.length > 0) || typeof id === "number")) return { reason: `row without an id at '${shape.id}'`, field: shape.id }
  const instantAt = (path: string, required: boolean): Bound | { reason: string; field: string } => {
    const v = getPath(record, path)
    if (v === undefined || v === null || v === "") return required ? { reason: `row without '${path}'`, field: path } : null
    if (typeof v !== "string") return { reason: `'${path}' is not a timestamp string`, field: path }
    const parsed = parseInstant(v, timeZone)
    return typeof parsed === "string" ? parsed : { reason: `'${path}': ${parsed.error}`, field: path }
  }
  const rf = instantAt(shape.registreringFra, true), rt = instantAt(shape.registreringTil, false)
  const vf = instantAt(shape.virkningFra, false), vt = instantAt(shape.virkningTil, false)
  for (const b of [rf, rt, vf, vt]) if (b !== null && typeof b === "object") return b
  const registreringFra = rf as Instant, registreringTil = rt as Bound, virkningFra = vf as Bound, virkningTil = vt as Bound
  if (registreringTil !== null && registreringTil < registreringFra) return { reason: `registreringTil ${registreringTil} is before registreringFra ${registreringFra}`, field: shape.registreringTil }
  if (virkningFra !== null && virkningTil !== null && virkningTil < virkningFra) return { reason: `virkningTil ${virkningTil} is before virkningFra ${virkningFra}`, field: shape.virkningTil }
  // Built in canonical key order, so a row of scalars (most are) is canonical JSON as it stands.
  const content: Record<string, unknown> = {}
  let flat = shape.fields === undefined
  for (const k of contentKeys(shape, record)) {
    const v = record[k]
    if (v !== null && typeof v === "object") flat = false
    setOwn(content, k, v)
  }
  return {
    objectId: String(id),
    registreringFra,
    registreringTil,
    virkningFra,
    virkningTil,
    data: flat ? JSON.stringify(content) : canonicalJson(minimise(content, shape.fields, [shape.id, ...shape.identity])),
    key: rowKey(registreringFra, virkningFra, shape.identity.map((f) => getPath(record, f) ?? null))
  }
}

/** Whether two content texts hold the same content under the register's rule (only consulted when the texts differ). */
const sameContentText = (a: string, b: string, normalise: ContentNormaliser | undefined): boolean =>
  normalise !== undefined && canonicalJson(normalise(JSON.parse(a))) === canonicalJson(normalise(JSON.parse(b)))

const overlaps = (aF: Bound, aT: Bound, bF: Bound, bT: Bound) => (aF === null || bT === null || aF < bT) && (bF === null || aT === null || bF < aT)

const describe = (r: MirrorRow) => `row registreringFra ${r.registreringFra}, virkningFra ${r.virkningFra ?? "open"}`

/** The newest instant a set of rows knows of (a registration start or end). */
const newestInstant = (rows: ReadonlyArray<MirrorRow>): Instant | null => {
  let newest: Instant | null = null
  for (const r of rows) {
    if (newest === null || r.registreringFra > newest) newest = r.registreringFra
    if (r.registreringTil !== null && r.registreringTil > newest) newest = r.registreringTil
  }
  return newest
}

/**
 * A whole history is a snapshot as of when it was read. One older than what we
 * hold (another path, or another window, read the object later and was
 * committed first) cannot testify that a row is gone or was never closed: it
 * is planned as rows only (new identities inserted, closes applied), without
 * those two anomalies.
 */
export const isStaleSnapshot = (stored: ReadonlyArray<MirrorRow>, upstream: ReadonlyArray<MirrorRow>): boolean => {
  const held = newestInstant(stored), seen = newestInstant(upstream)
  return held !== null && seen !== null && held > seen
}

/**
 * `closedBefore` (retention): an upstream row closed before it that we do not hold is not inserted — retention
 * pruned it, or would at its next run — so a register that serves whole histories does not bring pruned rows back.
 */
export interface MirrorPlanOptions {
  /** The rows are the object's whole history (a held row they lack is an anomaly). */
  readonly complete: boolean
  readonly checkOverlaps: boolean
  readonly normalise?: ContentNormaliser | undefined
  readonly closedBefore?: Instant | undefined
  /**
   * The rows held (key → registreringTil) when the whole history was read and checked against them. A row held
   * now in another state — committed or closed since by another path — is one the answer cannot testify about:
   * neither its absence nor its being open is an anomaly.
   */
  readonly checkedAgainst?: ReadonlyMap<string, string | null> | undefined
  /**
   * The instant the rows are true as of (rows carried inline: the newest registreringstid of the events
   * that carried them). A held row the register closed after it was still open then: the rows showing it
   * open are stale for it, not a reopen (a window's events read again in chunks, an event read by PULL after
   * PUSH applied a later one). A row closed at or before it that they show open is reopened.
   */
  readonly asOf?: Instant | undefined
}

export const planMirror = (stored: ReadonlyArray<StoredMirrorRow>, upstream: ReadonlyArray<MirrorRow>, options: MirrorPlanOptions): MirrorPlan => {
  const { checkOverlaps, normalise, closedBefore, checkedAgainst, asOf } = options
  const stale = options.complete && isStaleSnapshot(stored, upstream)
  const complete = options.complete && !stale
  const testifiesAbout = (s: StoredMirrorRow) => checkedAgainst === undefined || (checkedAgainst.has(s.key) && checkedAgainst.get(s.key) === s.registreringTil)
  const byKey = new Map(stored.map((s) => [s.key, s]))
  const insert: Array<MirrorRow> = []
  const close: Array<{ id: number; at: Instant }> = []
  const anomalies: Array<Anomaly> = []
  const seen = new Map<string, MirrorRow>()
  let unchanged = 0
  for (const u of upstream) {
    const twin = seen.get(u.key)
    if (twin !== undefined) {
      if (twin.data !== u.data || twin.registreringTil !== u.registreringTil || twin.virkningTil !== u.virkningTil) {
        anomalies.push({ kind: "duplicate-identity", detail: `${describe(u)} appears twice upstream with different content; the first is used` })
      }
      continue
    }
    seen.set(u.key, u)
    const s = byKey.get(u.key)
    if (s === undefined) {
      if (closedBefore !== undefined && u.registreringTil !== null && u.registreringTil < closedBefore) unchanged++
      else insert.push(u)
      continue
    }
    const sameContent = (s.data === u.data || sameContentText(s.data, u.data, normalise)) && s.virkningTil === u.virkningTil
    if (!sameContent) {
      anomalies.push({ kind: "rewrite", detail: `${describe(u)}: upstream changed the row's content; ours is kept` })
    } else if (s.registreringTil === u.registreringTil) {
      unchanged++
    } else if (s.registreringTil === null) {
      if (u.registreringTil! < s.registreringFra) anomalies.push({ kind: "invalid-close", detail: `${describe(u)}: closed at ${u.registreringTil}, before it began` })
      else close.push({ id: s.id, at: u.registreringTil! })
    } else if (u.registreringTil === null) {
      if (stale || !testifiesAbout(s) || (asOf !== undefined && s.registreringTil > asOf)) {
        unchanged++
        continue
      }
      anomalies.push({ kind: "reopen", detail: `${describe(u)}: upstream reopened a row closed at ${s.registreringTil}; ours stays closed` })
    } else {
      anomalies.push({ kind: "rewrite", detail: `${describe(u)}: upstream moved its registreringTil from ${s.registreringTil} to ${u.registreringTil}; ours is kept` })
    }
  }
  if (complete) {
    for (const s of stored) if (!seen.has(s.key) && testifiesAbout(s)) anomalies.push({ kind: "missing-upstream", detail: `${describe(s)}: no longer upstream; ours is kept` })
  }
  if (!checkOverlaps) return { insert, close, unchanged, anomalies }
  // Overlaps that this plan brings about (earlier ones were reported when they arose).
  const closedAt = new Map(close.map((c) => [c.id, c.at]))
  const after: Array<MirrorRow & { readonly fresh: boolean }> = [
    ...stored.map((s) => ({ ...s, registreringTil: closedAt.get(s.id) ?? s.registreringTil, fresh: closedAt.has(s.id) })),
    ...insert.map((r) => ({ ...r, fresh: true }))
  ]
  // Each pair once, in order: a fresh row with every later row, a row held as it was only with the later fresh ones.
  const fresh = after.flatMap((r, i) => (r.fresh ? [i] : []))
  let laterFresh = 0
  for (let i = 0; i < after.length; i++) {
    while (laterFresh < fresh.length && fresh[laterFresh]! <= i) laterFresh++
    const a = after[i]!
    // A row closed at its own start is visible to no query.
    if (a.registreringTil === a.registreringFra) continue
    const partners = a.fresh ? after.length - i - 1 : fresh.length - laterFresh
    for (let k = 0; k < partners; k++) {
      const b = after[a.fresh ? i + 1 + k : fresh[laterFresh + k]!]!
      if (b.registreringTil === b.registreringFra) continue
      if (overlaps(a.registreringFra, a.registreringTil, b.registreringFra, b.registreringTil) && overlaps(a.virkningFra, a.virkningTil, b.virkningFra, b.virkningTil)) {
        anomalies.push({ kind: "overlap", detail: `${describe(a)} and ${describe(b)} hold the same instants` })
      }
    }
  }
  return { insert, close, unchanged, anomalies }
}

/**
 * When the platform last wrote a row: its update stamp (`shape.updatedAt`) when
 * it has one, else its newest registration instant. The newest over a file
 * download tells how current the download is: a change written after it is not
 * in the file.
 */
export const rowWrittenAt = (raw: unknown, row: MirrorRow, shape: RowShape, timeZone: string): Instant => {
  const stamp = shape.updatedAt === undefined ? undefined : getPath(raw, shape.updatedAt)
  const parsed = typeof stamp === "string" ? parseInstant(stamp, timeZone) : undefined
  if (typeof parsed === "string") return parsed
  return row.registreringTil !== null && row.registreringTil > row.registreringFra ? row.registreringTil : row.registreringFra
}
