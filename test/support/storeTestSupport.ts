/**
 * What a test needs of a store that no service gives: a state only time makes (a cursor confirmed
 * long ago) or a count no caller needs (inbox entries kept after processing). A port, so tests
 * still reach state through tags and never through a backend's SQL; each backend implements it
 * (SQLite: sqliteTestSupport.ts). Keep it small: an operation belongs here only when no service
 * could honestly offer it.
 */
import { Context, type Effect } from "effect"

export interface StoreTestSupportShape {
  /** Set a source's cursor as if it was last set at `updatedAt` (the service stamps now). */
  readonly setCursorAt: (source: string, cursor: string, updatedAt: string) => Effect.Effect<void>
  /** The PUSH inbox's entries, all kept (`n`) and those processed (`done`), counted at once. */
  readonly inboxCounts: Effect.Effect<{ readonly n: number; readonly done: number }>
}

export class StoreTestSupport extends Context.Tag("skygge/test/StoreTestSupport")<StoreTestSupport, StoreTestSupportShape>() {}
