/**
 * The mirror write path (bitemporal upstreams): rows stored as upstream has
 * them, planned by domain/core/Mirror, applied in one transaction per batch with
 * their activations and outbox records, and what upstream did that the mirror
 * will not obey recorded as anomalies.
 */
import { Context, type Effect } from "effect"
import type { AnomalyKind, ContentNormaliser, MirrorRow } from "../domain/core/Mirror.js"
import type { Instant } from "../domain/core/Instant.js"
import type { StaleWrite } from "./StaleWrite.js"
import type { StoreError } from "./StoreError.js"

export interface MirrorItem {
  readonly objectType: string
  readonly objectId: string
  readonly rows: ReadonlyArray<MirrorRow>
  /** The rows are the object's whole history (a row we hold that they lack is an anomaly). */
  readonly complete: boolean
  /** Extra identity fields of the register (read from stored rows' data). */
  readonly identity: ReadonlyArray<string>
  /** Check for overlapping rows (off while loading a file whose rows of one object may be far apart). */
  readonly checkOverlaps: boolean
  /** How the register's content compares when texts differ (its row shape's rule). */
  readonly normalise?: ContentNormaliser | undefined
  /** Retention: upstream rows closed before this that are not held are not inserted (pruned, or about to be). */
  readonly closedBefore?: Instant | undefined
  /** The rows held when the whole history was read and checked against them (heldRows): it testifies only about those. */
  readonly checkedAgainst?: ReadonlyMap<string, string | null> | undefined
  /** The instant the rows are true as of (inline rows: their events' newest registreringstid): a row closed after it is not shown reopened. */
  readonly asOf?: Instant | undefined
}

export interface SourceCursorMove {
  readonly source: string
  readonly cursor: string
  /** The value the path read or last wrote (null: none yet): the move is a compare-and-set (SourceCursors.set). */
  readonly expected: string | null
}

export interface MirrorResult {
  readonly objectType: string
  readonly objectId: string
  readonly inserted: number
  readonly closed: number
  readonly unchanged: number
  readonly anomalies: number
}

export interface AnomalyRecord {
  readonly id: number
  readonly detectedAt: string
  readonly source: string
  readonly objectType: string
  readonly objectId: string
  readonly kind: AnomalyKind
  readonly detail: string
}

export interface MirrorStoreShape {
  /**
   * Apply a batch in one transaction; `eventId` is stamped on the rows it inserts. A source's
   * cursor given here moves in the same transaction, so what a page caused and the page's
   * position are committed together — or, when the cursor is no longer `expected`, neither (StaleWrite).
   */
  readonly mirror: (source: string, eventId: string, items: ReadonlyArray<MirrorItem>, cursor?: SourceCursorMove) => Effect.Effect<ReadonlyArray<MirrorResult>, StoreError | StaleWrite>
  /**
   * The identities of the rows held for each of some objects of one type, each with its registreringTil (to tell
   * a fetched history that lacks some), by object id: every id given has a map, empty when nothing is held.
   */
  readonly heldRows: (objectType: string, objectIds: ReadonlyArray<string>, identity: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, ReadonlyMap<string, string | null>>, StoreError>
  readonly anomalies: (query: { readonly after: number; readonly limit: number; readonly objectType?: string }) => Effect.Effect<ReadonlyArray<AnomalyRecord>, StoreError>
  readonly anomalyCount: Effect.Effect<number, StoreError>
}

export class MirrorStore extends Context.Tag("skygge/MirrorStore")<MirrorStore, MirrorStoreShape>() {}
