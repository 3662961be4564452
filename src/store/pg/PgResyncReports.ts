/** Resync reports on PostgreSQL: the statements of the SQLite ones. */
import type pg from "pg"
import type { ResyncReport, ResyncReportsShape } from "../ResyncReports.js"
import { attemptPromise } from "../StoreError.js"

/** A report as read: the bigint columns come as text. */
type ReportRow = Omit<ResyncReport, "id" | "checked" | "missing" | "changed" | "extra" | "repaired" | "revived"> &
  Record<"id" | "checked" | "missing" | "changed" | "extra" | "repaired" | "revived", string>

const toReport = (r: ReportRow): ResyncReport => ({
  id: Number(r.id),
  source: r.source,
  resource: r.resource,
  objectType: r.objectType,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
  dryRun: r.dryRun,
  checked: Number(r.checked),
  missing: Number(r.missing),
  changed: Number(r.changed),
  extra: Number(r.extra),
  repaired: Number(r.repaired),
  revived: Number(r.revived),
  error: r.error
})

const columns =
  'id, source, resource, object_type AS "objectType", started_at AS "startedAt", finished_at AS "finishedAt", dry_run AS "dryRun", checked, missing, changed, extra, repaired, revived, error'

export const makePgResyncReports = (pool: pg.Pool): ResyncReportsShape => ({
  record: (report) =>
    attemptPromise("ResyncReports.record", async () => {
      const inserted = await pool.query<{ id: string }>(
        `INSERT INTO resync_reports (source, resource, object_type, started_at, finished_at, dry_run, checked, missing, changed, extra, repaired, revived, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
        [report.source, report.resource, report.objectType, report.startedAt, report.finishedAt, report.dryRun, report.checked, report.missing, report.changed, report.extra, report.repaired, report.revived, report.error]
      )
      return { ...report, id: Number(inserted.rows[0]!.id) }
    }),
  list: ({ source, limit }) =>
    attemptPromise("ResyncReports.list", async () => {
      const found =
        source === undefined
          ? await pool.query<ReportRow>(`SELECT ${columns} FROM resync_reports ORDER BY id DESC LIMIT $1`, [limit])
          : await pool.query<ReportRow>(`SELECT ${columns} FROM resync_reports WHERE source = $1 ORDER BY id DESC LIMIT $2`, [source, limit])
      return found.rows.map(toReport)
    })
})
