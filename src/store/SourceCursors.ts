/** Durable cursors of polling sources: advanced only after what a window caused is committed. */
import { Context, type Effect, type Option } from "effect"

export interface SourceCursorsShape {
  readonly get: (source: string) => Effect.Effect<Option.Option<string>>
  readonly set: (source: string, cursor: string) => Effect.Effect<void>
}

export class SourceCursors extends Context.Tag("skygge/SourceCursors")<SourceCursors, SourceCursorsShape>() {}
