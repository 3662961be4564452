/** Durable cursors of polling sources: advanced only after what a window caused is committed. */
import { Context, type Effect, type Option } from "effect"
import type { StoreError } from "./StoreError.js"

export interface SourceCursorsShape {
  /** The cursor and when it was last set (a source sets it on every successful poll: it says how fresh the source is). */
  readonly get: (source: string) => Effect.Effect<Option.Option<{ readonly cursor: string; readonly updatedAt: string }>, StoreError>
  readonly set: (source: string, cursor: string) => Effect.Effect<void, StoreError>
  readonly list: Effect.Effect<ReadonlyArray<{ readonly source: string; readonly cursor: string; readonly updatedAt: string }>, StoreError>
}

export class SourceCursors extends Context.Tag("skygge/SourceCursors")<SourceCursors, SourceCursorsShape>() {}
