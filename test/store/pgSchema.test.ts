/**
 * The PostgreSQL schema mirrors the SQLite one table for table, column for column (the two are
 * written apart, one per dialect, so this keeps them from drifting); and every text column is
 * COLLATE "C", so ids and instants order byte for byte on both.
 */
import { getTableConfig as pgTable, PgTable } from "drizzle-orm/pg-core"
import { getTableConfig as sqliteTable, SQLiteTable } from "drizzle-orm/sqlite-core"
import { describe, expect, it } from "vitest"
import * as pg from "../../src/store/pg/schema.js"
import * as sqlite from "../../src/store/sqlite/schema.js"

/** Columns PostgreSQL has and SQLite does not, each for a reason: rows.mirrored scopes the exclusion constraint (schema.ts). */
const PG_ONLY = new Set(["rows.mirrored"])

const shape = (table: string, columns: ReadonlyArray<{ name: string; notNull: boolean; primary: boolean }>) =>
  columns.filter((c) => !PG_ONLY.has(`${table}.${c.name}`)).map((c) => [c.name, c.notNull, c.primary]).sort()

describe("the PostgreSQL schema", () => {
  const pgTables = (Object.values(pg) as ReadonlyArray<unknown>).filter((t): t is PgTable => t instanceof PgTable).map((t) => pgTable(t))
  const sqliteTables = (Object.values(sqlite) as ReadonlyArray<unknown>).filter((t): t is SQLiteTable => t instanceof SQLiteTable).map((t) => sqliteTable(t))

  it("has SQLite's tables, columns, nullability, primary keys and index names", () => {
    const byName = <T extends { name: string }>(ts: ReadonlyArray<T>) => [...ts].sort((a, b) => a.name.localeCompare(b.name))
    expect(byName(pgTables).map((t) => t.name)).toEqual(byName(sqliteTables).map((t) => t.name))
    for (const [p, s] of byName(pgTables).map((t, i) => [t, byName(sqliteTables)[i]!] as const)) {
      expect({ table: p.name, columns: shape(p.name, p.columns) }).toEqual({ table: s.name, columns: shape(s.name, s.columns) })
      expect(p.indexes.map((i) => i.config.name).sort()).toEqual(s.indexes.map((i) => i.config.name).sort())
    }
  })

  it("compares every text column byte for byte", () => {
    const texts = pgTables.flatMap((t) => t.columns.filter((c) => c.getSQLType().startsWith("text")).map((c) => c.getSQLType()))
    expect(texts.length).toBeGreaterThan(50)
    expect(new Set(texts)).toEqual(new Set(['text COLLATE "C"']))
  })
})
