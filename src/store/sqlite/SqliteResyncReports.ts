/** Resync reports on SQLite. */
import type Database from "better-sqlite3"
import type { ResyncReport, ResyncReportsShape } from "../ResyncReports.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"

interface ReportRecord {
  id: number
  source: string
  resource: string
  object_type: string
  started_at: string
  finished_at: string
  dry_run: number
  checked: number
  missing: number
  changed: number
  extra: number
  repaired: number
  revived: number
  error: string | null
}

const toReport = (r: ReportRecord): ResyncReport => ({
  id: r.id,
  source: r.source,
  resource: r.resource,
  objectType: r.object_type,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  dryRun: r.dry_run === 1,
  checked: r.checked,
  missing: r.missing,
  changed: r.changed,
  extra: r.extra,
  repaired: r.repaired,
  revived: r.revived,
  error: r.error
})

export const makeSqliteResyncReports = (db: Database.Database): ResyncReportsShape => {
  const q = onFirstUse(db, {
    insert: () =>
      db.prepare(
        `INSERT INTO resync_reports (source, resource, object_type, started_at, finished_at, dry_run, checked, missing, changed, extra, repaired, revived, error)
         VALUES (@source, @resource, @objectType, @startedAt, @finishedAt, @dryRun, @checked, @missing, @changed, @extra, @repaired, @revived, @error)`
      ),
    all: () => db.prepare<[number], ReportRecord>("SELECT * FROM resync_reports ORDER BY id DESC LIMIT ?"),
    bySource: () => db.prepare<[string, number], ReportRecord>("SELECT * FROM resync_reports WHERE source = ? ORDER BY id DESC LIMIT ?")
  })
  return {
    record: (report) =>
      attempt("ResyncReports.record", () => {
        const id = Number(q.insert.run({ ...report, dryRun: report.dryRun ? 1 : 0 }).lastInsertRowid)
        return { ...report, id }
      }),
    list: ({ source, limit }) => attempt("ResyncReports.list", () => (source === undefined ? q.all.all(limit) : q.bySource.all(source, limit)).map(toReport))
  }
}
