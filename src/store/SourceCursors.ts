/**
 * Durable cursors of polling sources: advanced only after what a window caused is committed. Every
 * write is a compare-and-set against the value the path read (or last wrote): a path that lost its
 * leadership without knowing it cannot move the cursor its successor has moved on (StaleWrite).
 */
import { Context, type Effect, type Option } from "effect"
import type { StaleWrite } from "./StaleWrite.js"
import type { StoreError } from "./StoreError.js"

export interface SourceCursorsShape {
  /** The cursor and when it was last set (a source sets it on every successful poll: it says how fresh the source is). */
  readonly get: (source: string) => Effect.Effect<Option.Option<{ readonly cursor: string; readonly updatedAt: string }>, StoreError>
  /**
   * Move the cursor to `cursor` if it is still `expected` (null: the source has none yet); else fail
   * with StaleWrite and write nothing. Setting it to the value it has confirms it (its age).
   */
  readonly set: (source: string, cursor: string, expected: string | null) => Effect.Effect<void, StoreError | StaleWrite>
  readonly list: Effect.Effect<ReadonlyArray<{ readonly source: string; readonly cursor: string; readonly updatedAt: string }>, StoreError>
}

export class SourceCursors extends Context.Tag("skygge/SourceCursors")<SourceCursors, SourceCursorsShape>() {}
