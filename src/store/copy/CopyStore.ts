/**
 * Moving a SQLite shadow to PostgreSQL (`skygge copy-store`): every table of the schema (CopyPlan),
 * read from the SQLite file in key order a page at a time (constant memory, whatever the size) inside
 * one read transaction — a snapshot, so a copy is of one instant even if something writes meanwhile —
 * and written to PostgreSQL a batch per statement (one transaction each), ids kept.
 *
 * Resumable without a progress note: batches commit in key order, so a copy cut short holds, per
 * table, exactly the source's first rows up to its largest key. The next run checks that (the
 * target's count equals the source's count up to that key, and that key is the source's) and goes
 * on after it; a target holding anything else is refused. Afterwards every sequence is moved past
 * the copied ids (and the outbox's past SQLite's AUTOINCREMENT high-water mark, so a pruned outbox
 * never hands out a seq a publisher's cursor has passed).
 *
 * Verified by a count and a sha256 per table, computed alike on both sides over each row's
 * canonical text (its values as strings, booleans as true/false) in key order, streamed; after a
 * copy, against the file as it is then (a new read transaction), so writes during the copy show.
 */
import type Database from "better-sqlite3"
import { createHash } from "node:crypto"
import { existsSync, statSync } from "node:fs"
import { Data, Effect, type Redacted } from "effect"
import type pg from "pg"
import { openSqlite } from "../sqlite/SqliteOpen.js"
import { migratePg, openPgPool, redactPgUrl } from "../pg/PgOpen.js"
import { copyPlan, type CopyTable, type CopyType } from "./CopyPlan.js"

export class CopyStoreError extends Data.TaggedError("CopyStoreError")<{ readonly message: string }> {}

export interface CopyOptions {
  /** The SQLite file. */
  readonly from: string
  /** A postgres:// URL. */
  readonly to: string
  /** The target's password when its URL has none. */
  readonly password?: Redacted.Redacted | undefined
  /** Rows per page read and per batch written (default 5,000). */
  readonly batchSize?: number
  /** Only verify (nothing is migrated or written). */
  readonly verifyOnly?: boolean
  /** Called with the migrations applied to the target (before anything is copied). */
  readonly onMigrated?: (tags: ReadonlyArray<string>) => void
  /** Called as a table's copy starts, after each batch, and when it is done. */
  readonly onProgress?: (p: CopyProgress) => void
}

export interface CopyProgress {
  readonly table: string
  /** Rows of the table in the target now. */
  readonly copied: number
  readonly total: number
  /** Rows found in the target from an earlier run (at the start of the table). */
  readonly resumedAt: number
  readonly phase: "start" | "batch" | "done"
}

export interface TableCheck {
  readonly table: string
  readonly sourceRows: number
  readonly targetRows: number
  readonly sourceChecksum: string
  readonly targetChecksum: string
  readonly ok: boolean
}

export interface CopyReport {
  /** Rows written by this run. */
  readonly copied: number
  readonly seconds: number
  readonly checks: ReadonlyArray<TableCheck>
}

type Value = string | number | boolean | null
type Row = ReadonlyArray<Value>

const quote = (name: string) => `"${name}"`
const keyList = (t: CopyTable) => t.key.map(quote).join(", ")
const keyTuple = (t: CopyTable) => `(${keyList(t)})`
const placeholders = (n: number, from = 1, pgStyle = false) => Array.from({ length: n }, (_, i) => (pgStyle ? `$${from + i}` : "?")).join(", ")

/** A value as both sides hash it. */
const canonical = (type: CopyType, v: Value): string | null => {
  if (v === null || v === undefined) return null
  if (type === "boolean") return v === true || v === 1 || v === "t" ? "true" : "false"
  return String(v)
}
const canonicalRow = (t: CopyTable, row: Row) => JSON.stringify(t.columns.map((c, i) => canonical(c.type, row[i] ?? null)))

/** A value as PostgreSQL takes it in an array parameter. */
const toPg = (type: CopyType, v: Value): Value => (v === null ? null : type === "boolean" ? v === 1 || v === true : v)

/** A key read from PostgreSQL (bigints come as text) as SQLite compares it. */
const keyForSqlite = (t: CopyTable, key: Row): Row => key.map((v, i) => (t.columns.find((c) => c.name === t.key[i])!.type === "text" ? v : Number(v)))

interface SqliteReads {
  readonly first: Database.Statement<[number], Row>
  readonly after: Database.Statement<Array<Value>, Row>
  readonly count: Database.Statement<[], { n: number }>
  readonly countUpTo: Database.Statement<Array<Value>, { n: number }>
  readonly at: Database.Statement<Array<Value>, Row>
}

const sqliteReads = (db: Database.Database, t: CopyTable): SqliteReads => {
  const select = `SELECT ${t.columns.map((c) => c.sqlite).join(", ")} FROM ${quote(t.name)}`
  const order = `ORDER BY ${keyList(t)}`
  const tuple = `(${placeholders(t.key.length)})`
  return {
    first: db.prepare<[number], Row>(`${select} ${order} LIMIT ?`).raw(true),
    after: db.prepare<Array<Value>, Row>(`${select} WHERE ${keyTuple(t)} > ${tuple} ${order} LIMIT ?`).raw(true),
    count: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${quote(t.name)}`),
    countUpTo: db.prepare<Array<Value>, { n: number }>(`SELECT count(*) AS n FROM ${quote(t.name)} WHERE ${keyTuple(t)} <= ${tuple}`),
    at: db.prepare<Array<Value>, Row>(`${select} WHERE ${keyTuple(t)} = ${tuple}`).raw(true)
  }
}

const sqlitePage = (t: CopyTable, reads: SqliteReads, after: Row | undefined, limit: number): ReadonlyArray<Row> =>
  after === undefined ? reads.first.all(limit) : reads.after.all(...after, limit)

const keyOf = (t: CopyTable, row: Row): Row => t.key.map((k) => row[t.columns.findIndex((c) => c.name === k)]!)

/** The PostgreSQL side of one table: pages in key order (as raw arrays), its largest key, counts, the batch insert. */
const pgReads = (t: CopyTable) => {
  const select = `SELECT ${t.columns.map((c) => quote(c.name)).join(", ")} FROM ${quote(t.name)}`
  const order = `ORDER BY ${keyList(t)}`
  return {
    page: (after: Row | undefined, limit: number) =>
      after === undefined
        ? { text: `${select} ${order} LIMIT $1`, values: [limit] as Array<Value>, rowMode: "array" as const }
        : { text: `${select} WHERE ${keyTuple(t)} > (${placeholders(t.key.length, 1, true)}) ${order} LIMIT $${t.key.length + 1}`, values: [...after, limit], rowMode: "array" as const },
    last: { text: `${select} ORDER BY ${t.key.map((k) => `${quote(k)} DESC`).join(", ")} LIMIT 1`, rowMode: "array" as const },
    count: `SELECT count(*)::bigint AS n FROM ${quote(t.name)}`,
    insert: `INSERT INTO ${quote(t.name)} (${t.columns.map((c) => quote(c.name)).join(", ")}) SELECT * FROM unnest(${t.columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(", ")})`
  }
}

const failed = (doing: string) => (e: unknown) =>
  e instanceof CopyStoreError ? e : new CopyStoreError({ message: `${doing}: ${e instanceof Error ? e.message : String(e)}` })

const query = <R extends pg.QueryResultRow = pg.QueryResultRow>(pool: pg.Pool, q: string | pg.QueryConfig<Array<Value>>, doing: string) =>
  Effect.tryPromise({ try: () => pool.query<R>(q as pg.QueryConfig), catch: failed(doing) })

const pgCount = (pool: pg.Pool, t: CopyTable) =>
  Effect.map(query<{ n: string }>(pool, pgReads(t).count, `counting ${t.name} in the target`), (r) => Number(r.rows[0]!.n))

/**
 * Best effort against copying a store an engine is writing: a process with the file open for writing
 * leaves its write-ahead log non-empty (the last one to close folds it in and removes it; readers leave
 * it empty). A crashed writer leaves one too: opening the store once for writing folds it in.
 */
const refuseWhileWritten = (file: string) => {
  const wal = `${file}-wal`
  const size = existsSync(wal) ? statSync(wal).size : 0
  if (size > 0) {
    throw new CopyStoreError({
      message:
        `${file} is being written (its write-ahead log ${wal} holds ${size} bytes): stop skygge run and anything else writing it, then copy. ` +
        `If nothing runs (a process stopped without closing it), skygge migrate on it once folds the log in`
    })
  }
}

/** The source in one read transaction: everything read from it is of one instant. */
const openSource = (file: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        refuseWhileWritten(file)
        const db = openSqlite({ filename: file, readOnly: true })
        try {
          db.exec("BEGIN")
          db.prepare("SELECT count(*) FROM sqlite_master").get() // the snapshot starts at the first read
        } catch (e) {
          db.close()
          throw e
        }
        return db
      },
      catch: failed(`cannot read ${file}`)
    }),
    (db) =>
      Effect.sync(() => {
        if (db.inTransaction) db.exec("COMMIT")
        db.close()
      })
  )

const sourceTotals = (db: Database.Database, plan: ReadonlyArray<CopyTable>) => plan.map((t) => sqliteReads(db, t).count.get()!.n)

/**
 * Per table: where a copy resumes (the target's largest key, undefined when empty), after checking the
 * target holds exactly the source's rows up to it.
 */
const resumePoint = (db: Database.Database, pool: pg.Pool, t: CopyTable, target: string) =>
  Effect.gen(function* () {
    const reads = sqliteReads(db, t)
    const held = yield* pgCount(pool, t)
    if (held === 0) return { after: undefined, held }
    const last = (yield* query<Array<Value>>(pool, pgReads(t).last as pg.QueryConfig<Array<Value>>, `reading ${t.name} in the target`)).rows[0] as unknown as Row
    const key = keyForSqlite(t, keyOf(t, last))
    const inSource = reads.at.get(...key)
    const upTo = reads.countUpTo.get(...key)!.n
    // The count up to the last key, and that last row itself, must be the source's.
    if (inSource === undefined || upTo !== held || canonicalRow(t, inSource) !== canonicalRow(t, last)) {
      return yield* new CopyStoreError({
        message:
          `target ${target} holds other data: its table ${t.name} has ${held} rows up to key (${key.join(", ")}), ` +
          (inSource === undefined ? "a key the source does not have" : upTo !== held ? `where the source has ${upTo}` : "and the row there is not the source's") +
          `. copy-store copies into an empty database (or one an earlier copy-store of this same file left unfinished): create a new database, or drop this one's tables`
      })
    }
    return { after: key, held }
  })

const copyTable = (db: Database.Database, pool: pg.Pool, t: CopyTable, total: number, options: CopyOptions, target: string) =>
  Effect.gen(function* () {
    const size = options.batchSize ?? 5000
    const reads = sqliteReads(db, t)
    const pgq = pgReads(t)
    let { after, held } = yield* resumePoint(db, pool, t, target)
    const resumedAt = held
    options.onProgress?.({ table: t.name, copied: held, total, resumedAt, phase: "start" })
    let written = 0
    for (;;) {
      const page = sqlitePage(t, reads, after, size)
      if (page.length === 0) break
      const columns = t.columns.map((c, i) => page.map((r) => toPg(c.type, r[i] ?? null)))
      yield* query(pool, { text: pgq.insert, values: columns as unknown as Array<Value> }, `writing ${t.name} to the target`)
      after = keyOf(t, page[page.length - 1]!)
      held += page.length
      written += page.length
      options.onProgress?.({ table: t.name, copied: held, total, resumedAt, phase: "batch" })
      if (page.length < size) break
    }
    options.onProgress?.({ table: t.name, copied: held, total, resumedAt, phase: "done" })
    return written
  })

/**
 * Move every sequence past the ids copied, so new rows continue after them; for an AUTOINCREMENT
 * table, past SQLite's high-water mark too (it may exceed what is left after pruning).
 */
const moveSequences = (db: Database.Database, pool: pg.Pool, plan: ReadonlyArray<CopyTable>) =>
  Effect.gen(function* () {
    const hasSequences = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get() !== undefined
    const mark = hasSequences ? db.prepare<[string], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = ?") : undefined
    for (const t of plan) {
      if (t.identity === undefined) continue
      const sequence = (yield* query<{ s: string | null }>(pool, { text: "SELECT pg_get_serial_sequence($1, $2) AS s", values: [t.name, t.identity] }, "finding sequences")).rows[0]!.s
      if (sequence === null) continue
      const copiedMax = Number((yield* query<{ m: string | null }>(pool, `SELECT max(${quote(t.identity)})::text AS m FROM ${quote(t.name)}`, `reading ${t.name}`)).rows[0]!.m ?? 0)
      const highWater = Math.max(copiedMax, mark?.get(t.name)?.seq ?? 0)
      if (highWater > 0) yield* query(pool, { text: "SELECT setval($1, $2::bigint)", values: [sequence, highWater] }, `moving ${sequence}`)
    }
  })

/** sha256 over the canonical text of a table's rows in key order, and their count, on each side. */
const checkTable = (db: Database.Database, pool: pg.Pool, t: CopyTable, size: number) =>
  Effect.gen(function* () {
    const reads = sqliteReads(db, t)
    const source = createHash("sha256")
    let sourceRows = 0
    for (let after: Row | undefined = undefined; ;) {
      const page = sqlitePage(t, reads, after, size)
      for (const r of page) source.update(canonicalRow(t, r) + "\n")
      sourceRows += page.length
      if (page.length < size) break
      after = keyOf(t, page[page.length - 1]!)
    }
    const target = createHash("sha256")
    let targetRows = 0
    const pgq = pgReads(t)
    for (let after: Row | undefined = undefined; ;) {
      const page = (yield* query(pool, pgq.page(after, size) as pg.QueryConfig<Array<Value>>, `reading ${t.name} in the target`)).rows as unknown as ReadonlyArray<Row>
      for (const r of page) target.update(canonicalRow(t, r) + "\n")
      targetRows += page.length
      if (page.length < size) break
      after = keyOf(t, page[page.length - 1]!)
    }
    const sourceChecksum = source.digest("hex")
    const targetChecksum = target.digest("hex")
    return { table: t.name, sourceRows, targetRows, sourceChecksum, targetChecksum, ok: sourceRows === targetRows && sourceChecksum === targetChecksum } satisfies TableCheck
  })

/** Copy (unless `verifyOnly`) and verify: the report; the copy fails with a message saying what to do. */
export const copyStore = (options: CopyOptions): Effect.Effect<CopyReport, CopyStoreError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const plan = yield* Effect.try({ try: () => copyPlan(), catch: failed("copy-store") })
      const target = redactPgUrl(options.to)
      const started = performance.now()
      const db = yield* openSource(options.from)
      const migrated = options.verifyOnly === true ? [] : yield* Effect.mapError(migratePg({ url: options.to, password: options.password }), failed("migrating the target"))
      options.onMigrated?.(migrated)
      const pool = yield* Effect.mapError(openPgPool({ url: options.to, password: options.password, poolSize: 1 }), failed("opening the target"))
      let copied = 0
      if (options.verifyOnly !== true) {
        const totals = sourceTotals(db, plan)
        // Check every table before writing any, so a foreign target is refused untouched.
        for (const t of plan) yield* resumePoint(db, pool, t, target)
        for (const [i, t] of plan.entries()) copied += yield* copyTable(db, pool, t, totals[i]!, options, target)
        yield* moveSequences(db, pool, plan)
        // Verify against the file as it is now, not the snapshot copied: what was written to it
        // meanwhile (an engine left running) shows as a table that differs.
        yield* Effect.try({ try: () => (db.exec("COMMIT"), db.exec("BEGIN")), catch: failed(`reading ${options.from} again`) })
      }
      const seconds = (performance.now() - started) / 1000
      const checks: Array<TableCheck> = []
      for (const t of plan) checks.push(yield* checkTable(db, pool, t, options.batchSize ?? 5000))
      return { copied, seconds, checks }
    })
  )
