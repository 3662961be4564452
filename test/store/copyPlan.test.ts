/**
 * copy-store's plan is derived from the two drizzle schemas: every table with its key, an integer key
 * as the identity whose sequence moves, `rows.mirrored` derived; a table or column one schema has and
 * no rule covers stops it, named.
 */
import { pgTable, text as pgText } from "drizzle-orm/pg-core"
import { describe, expect, it } from "vitest"
import { copyPlan } from "../../src/store/copy/CopyPlan.js"
import * as pgSchema from "../../src/store/pg/schema.js"
import * as sqliteSchema from "../../src/store/sqlite/schema.js"

describe("copy-store's plan", () => {
  it("covers every table of the schema, keyed as its primary key", () => {
    const plan = copyPlan()
    expect(Object.fromEntries(plan.map((t) => [t.name, [t.key.join(","), t.identity ?? "-"]]))).toEqual({
      rows: ["id", "id"],
      events: ["seq", "seq"],
      objects: ["object_type,object_id", "-"],
      refused: ["id", "id"],
      activations: ["id", "id"],
      outbox: ["seq", "seq"],
      outbox_cursors: ["publisher", "-"],
      work_items: ["source,resource,object_id", "-"],
      cluster_members: ["id", "-"],
      cluster_singletons: ["name", "-"],
      seen_messages: ["source,message_id", "-"],
      resync_reports: ["id", "id"],
      anomalies: ["id", "id"],
      source_cursors: ["source", "-"],
      push_inbox: ["id", "id"],
      erasures: ["id", "id"],
      erasure_salt: ["id", "-"]
    })
    const rows = plan.find((t) => t.name === "rows")!
    expect(rows.columns.find((c) => c.name === "mirrored")).toMatchObject({ type: "boolean", sqlite: expect.stringContaining("NOT EXISTS (SELECT 1 FROM events") })
    expect(plan.find((t) => t.name === "work_items")!.columns.filter((c) => c.type === "boolean").map((c) => c.name)).toEqual(["dirty", "confirming"])
  })

  it("stops, naming it, at a table or a column no rule covers", () => {
    const extraTable = { ...pgSchema, audit: pgTable("audit", { id: pgText("id").primaryKey() }) }
    expect(() => copyPlan(sqliteSchema, extraTable)).toThrow("copy-store has no rule for table audit: PostgreSQL has it, SQLite does not")
    const extraColumn = { ...pgSchema, sourceCursors: pgTable("source_cursors", { source: pgText("source").primaryKey(), cursor: pgText("cursor").notNull(), updatedAt: pgText("updated_at").notNull(), owner: pgText("owner") }) }
    expect(() => copyPlan(sqliteSchema, extraColumn)).toThrow("copy-store has no rule for source_cursors.owner: PostgreSQL has the column, SQLite does not")
  })
})
