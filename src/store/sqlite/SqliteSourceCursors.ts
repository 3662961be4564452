/** Source cursors on SQLite. */
import type Database from "better-sqlite3"
import { Clock, Effect, Option } from "effect"
import { fromEpochMillis } from "../../domain/core/Instant.js"
import type { SourceCursorsShape } from "../SourceCursors.js"
import { attempt } from "../StoreError.js"

export const makeSqliteSourceCursors = (db: Database.Database): SourceCursorsShape => {
  const get = db.prepare<[string], { cursor: string; updatedAt: string }>("SELECT cursor, updated_at AS updatedAt FROM source_cursors WHERE source = ?")
  const set = setCursorStatement(db)
  const list = db.prepare<[], { source: string; cursor: string; updatedAt: string }>("SELECT source, cursor, updated_at AS updatedAt FROM source_cursors ORDER BY source")
  return {
    list: attempt("SourceCursors.list", () => list.all()),
    get: (source) => attempt("SourceCursors.get", () => Option.fromNullable(get.get(source))),
    set: (source, cursor) => Effect.flatMap(Clock.currentTimeMillis, (ms) => attempt("SourceCursors.set", () => void set.run(source, cursor, fromEpochMillis(ms))))
  }
}

/** The upsert of a source's cursor (also run inside the mirror's transaction). */
export const setCursorStatement = (db: Database.Database) =>
  db.prepare<[string, string, string]>(
    "INSERT INTO source_cursors (source, cursor, updated_at) VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at"
  )
