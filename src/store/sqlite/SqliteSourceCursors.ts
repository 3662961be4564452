/** Source cursors on SQLite; every write a compare-and-set. */
import type Database from "better-sqlite3"
import { Clock, Effect, Option } from "effect"
import { fromEpochMillis } from "../../domain/core/Instant.js"
import type { SourceCursorsShape } from "../SourceCursors.js"
import { StaleWrite, staleOut } from "../StaleWrite.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"

export const makeSqliteSourceCursors = (db: Database.Database): SourceCursorsShape => {
  const q = onFirstUse(db, {
    get: () => db.prepare<[string], { cursor: string; updatedAt: string }>("SELECT cursor, updated_at AS updatedAt FROM source_cursors WHERE source = ?"),
    list: () => db.prepare<[], { source: string; cursor: string; updatedAt: string }>("SELECT source, cursor, updated_at AS updatedAt FROM source_cursors ORDER BY source")
  })
  const set = setCursorStatement(db)
  return {
    list: attempt("SourceCursors.list", () => q.list.all()),
    get: (source) => attempt("SourceCursors.get", () => Option.fromNullable(q.get.get(source))),
    set: (source, cursor, expected) =>
      Effect.flatMap(Clock.currentTimeMillis, (ms) => staleOut(attempt("SourceCursors.set", () => set({ source, cursor, expected }, fromEpochMillis(ms)))))
  }
}

/**
 * The compare-and-set of a source's cursor (also run inside the mirror's transaction): inserted when
 * `expected` is null and there is none, else updated where it is still `expected`; otherwise it throws
 * StaleWrite (rolling back the transaction it is part of).
 */
export const setCursorStatement = (db: Database.Database) => {
  const q = onFirstUse(db, {
    insert: () => db.prepare<[string, string, string]>("INSERT INTO source_cursors (source, cursor, updated_at) VALUES (?, ?, ?) ON CONFLICT (source) DO NOTHING"),
    update: () => db.prepare<[string, string, string, string]>("UPDATE source_cursors SET cursor = ?, updated_at = ? WHERE source = ? AND cursor = ?")
  })
  return (move: { readonly source: string; readonly cursor: string; readonly expected: string | null }, updatedAt: string): void => {
    const written = move.expected === null ? q.insert.run(move.source, move.cursor, updatedAt) : q.update.run(move.cursor, updatedAt, move.source, move.expected)
    if (written.changes !== 1) throw new StaleWrite({ operation: "SourceCursors.set", key: move.source })
  }
}
