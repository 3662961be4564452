/**
 * What `copy-store` copies, derived from the two drizzle schemas rather than listed by hand, so a
 * table or column added to them is copied (or stops the copy, saying what rule it lacks) — never
 * forgotten. Per table: its key (the primary key, in order: the keyset the copy pages and resumes
 * by) and its columns with their PostgreSQL types; a column PostgreSQL has and SQLite lacks needs a
 * rule here (`derived`) saying how its value is read from the SQLite file.
 */
import { getTableConfig as getSqliteTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core"
import { getTableConfig as getPgTableConfig, PgTable } from "drizzle-orm/pg-core"
import { is } from "drizzle-orm"
import * as pgSchema from "../pg/schema.js"
import * as sqliteSchema from "../sqlite/schema.js"

export type CopyType = "text" | "bigint" | "integer" | "boolean"

export interface CopyColumn {
  readonly name: string
  readonly type: CopyType
  /** The SQL expression that reads it on SQLite (the column itself, or a derivation). */
  readonly sqlite: string
}

export interface CopyTable {
  readonly name: string
  /** The primary key's columns, in order. */
  readonly key: ReadonlyArray<string>
  readonly columns: ReadonlyArray<CopyColumn>
  /** A single integer key fed by a sequence on PostgreSQL (moved past the copied ids afterwards). */
  readonly identity: string | undefined
}

/**
 * Columns PostgreSQL has and SQLite does not, and how each is read from a SQLite store.
 *
 * `rows.mirrored`: SQLite keeps no flag. The operation path stores a row under the event id of the
 * operation, which it records in `events` in the same transaction (SqliteStore.ingest); the mirror
 * path stores rows under a page's or load's event id (`full-load:…`, a PULL/PUSH page id, an
 * extract's id) that `events` never holds (SqliteMirror). So a row whose event id is not in `events`
 * was mirrored. Getting this wrong one way would let PostgreSQL's exclusion constraint reject a
 * mirrored register's own overlapping current rows; the other way would merely exempt a planned row.
 */
const derived: Record<string, Record<string, string>> = {
  rows: { mirrored: `NOT EXISTS (SELECT 1 FROM events WHERE events.event_id = "rows".event_id)` }
}

export class CopyPlanError extends Error {}

const typeOf = (table: string, column: string, sqlType: string): CopyType => {
  if (sqlType.startsWith("text")) return "text"
  if (sqlType === "bigint" || sqlType === "integer" || sqlType === "boolean") return sqlType
  throw new CopyPlanError(`copy-store has no rule for ${table}.${column} of type ${sqlType} (src/store/copy/CopyPlan.ts)`)
}

/** Every table, in the order of the SQLite schema's exports; throws when the schemas disagree in a way no rule covers. */
export const copyPlan = (sqlite: Record<string, unknown> = sqliteSchema, postgres: Record<string, unknown> = pgSchema): ReadonlyArray<CopyTable> => {
  const pgTables = new Map(
    Object.values(postgres)
      .filter((v): v is PgTable => is(v, PgTable))
      .map((t) => [getPgTableConfig(t).name, getPgTableConfig(t)] as const)
  )
  const sqliteTables = Object.values(sqlite).filter((v): v is SQLiteTable => is(v, SQLiteTable)).map((t) => getSqliteTableConfig(t))
  for (const name of pgTables.keys()) {
    if (!sqliteTables.some((t) => t.name === name)) throw new CopyPlanError(`copy-store has no rule for table ${name}: PostgreSQL has it, SQLite does not`)
  }
  return sqliteTables.map((s) => {
    const p = pgTables.get(s.name)
    if (p === undefined) throw new CopyPlanError(`copy-store has no rule for table ${s.name}: SQLite has it, PostgreSQL does not`)
    const sqliteColumns = new Set(s.columns.map((c) => c.name))
    const rules = derived[s.name] ?? {}
    const columns = p.columns.map((c): CopyColumn => {
      const type = typeOf(s.name, c.name, c.getSQLType())
      if (sqliteColumns.has(c.name)) return { name: c.name, type, sqlite: `"${c.name}"` }
      const rule = rules[c.name]
      if (rule === undefined) throw new CopyPlanError(`copy-store has no rule for ${s.name}.${c.name}: PostgreSQL has the column, SQLite does not (add one in src/store/copy/CopyPlan.ts)`)
      return { name: c.name, type, sqlite: rule }
    })
    for (const c of sqliteColumns) {
      if (!columns.some((x) => x.name === c)) throw new CopyPlanError(`copy-store has no rule for ${s.name}.${c}: SQLite has the column, PostgreSQL does not`)
    }
    const single = s.columns.filter((c) => c.primary).map((c) => c.name)
    const key = single.length > 0 ? single : (s.primaryKeys[0]?.columns.map((c) => c.name) ?? [])
    if (key.length === 0) throw new CopyPlanError(`copy-store has no rule for table ${s.name}: it has no primary key to copy it in order by`)
    const keyType = columns.find((c) => c.name === key[0])!.type
    return { name: s.name, key, columns, identity: key.length === 1 && keyType === "bigint" ? key[0] : undefined }
  })
}
