/**
 * Opening the SQLite file: read-write (created, tuned) for what writes, read-only (nothing
 * written, a read-only copy will do) for what only reads; either refuses a store whose schema
 * is behind this skygge. Migrating is its own step (`migrateSqliteFile`, run by `skygge migrate`
 * and before the writing commands), never hidden in opening.
 * What cannot be opened fails with one line naming the file and what to do.
 */
import Database from "better-sqlite3"
import { drizzle } from "drizzle-orm/better-sqlite3"
import { migrate } from "drizzle-orm/better-sqlite3/migrator"
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { StoreOpenError } from "../StoreOpenError.js"
import { inProject } from "../../ProjectRoot.js"

export { StoreOpenError }

// better-sqlite3 reads this once, when its addon loads (at the first open): URI file names let a
// read-only open fall back to `immutable=1` (see openReadOnly).
process.env.SQLITE_USE_URI ??= "1"

export const sqliteMigrationsFolder = inProject("drizzle", "sqlite")

export interface SqliteOptions {
  /** A file path, or `:memory:`. */
  readonly filename: string
  /** `FULL` (default) survives power loss after commit; `NORMAL` only a process crash. */
  readonly synchronous?: "FULL" | "NORMAL" | "OFF"
  /** Page cache per connection (default 64 MiB): bounds the memory of any import, however large the file. */
  readonly cacheMiB?: number
  /** Memory-mapped reads (default 0, off). Mapped pages count as resident memory of the process. */
  readonly mmapMiB?: number
  /**
   * How long a statement waits for another connection's write lock before it fails with "database is locked"
   * (default 10 s). better-sqlite3 waits synchronously: the whole process waits with it.
   */
  readonly busyTimeoutSeconds?: number
  /** Open an existing store for reading only: nothing written (a read-only copy can be queried). */
  readonly readOnly?: boolean
  /**
   * WAL pages between automatic checkpoints (SQLite's default: 1,000, about 4 MiB). A bulk import raises it:
   * each checkpoint syncs the WAL and the file, and most of an import's commit time was those syncs.
   */
  readonly walCheckpointPages?: number
}

/**
 * Open (creating the folder and file if need be) and tune a migrated SQLite database; or open it
 * read-only. `:memory:` is the exception that migrates here: that database lives only in this
 * handle, so no separate step could migrate it.
 */
export const openSqlite = (options: SqliteOptions): Database.Database =>
  opening(options, () => {
    if (options.readOnly === true) return openReadOnly(options)
    return openReadWrite(options, (db) => (options.filename === ":memory:" ? void migrateSqlite(db) : checkSchema(db, options.filename, false)))
  })

/**
 * Apply the migrations the store at `options.filename` lacks (creating it if need be) and close it:
 * the tags of those applied, oldest first (none when it is up to date).
 */
export const migrateSqliteFile = (options: Pick<SqliteOptions, "filename">): ReadonlyArray<string> =>
  opening(options, () => {
    if (options.filename === ":memory:") return [] // migrated by the open that creates it (see openSqlite)
    let applied: ReadonlyArray<string> = []
    openReadWrite(options, (db) => void (applied = migrateSqlite(db))).close()
    return applied
  })

/** Apply the pending migrations to an open database: the tags of those applied, oldest first. */
export const migrateSqlite = (db: Database.Database): ReadonlyArray<string> => {
  const before = new Set(appliedStamps(db))
  migrate(drizzle(db), { migrationsFolder: sqliteMigrationsFolder })
  const after = new Set(appliedStamps(db))
  return journal().filter((entry) => after.has(entry.when) && !before.has(entry.when)).map((entry) => entry.tag)
}

const opening = <A>(options: Pick<SqliteOptions, "filename" | "readOnly">, open: () => A): A => {
  const file = options.filename
  if (file !== ":memory:" && existsSync(file) && statSync(file).isDirectory()) {
    throw new StoreOpenError({ message: `store ${file} is a directory: store.url must name a file in it (e.g. sqlite:${file.replace(/\/$/, "")}/skygge.db)` })
  }
  try {
    return open()
  } catch (e) {
    throw e instanceof StoreOpenError ? e : new StoreOpenError({ message: describeOpenError(file, e, options.readOnly === true) })
  }
}

const busyTimeoutMs = (options: SqliteOptions) => (options.busyTimeoutSeconds ?? 10) * 1000

const tune = (db: Database.Database, options: SqliteOptions) => {
  db.pragma(`cache_size = -${(options.cacheMiB ?? 64) * 1024}`)
  db.pragma(`mmap_size = ${(options.mmapMiB ?? 0) * 1024 * 1024}`)
  return db
}

const openReadWrite = (options: SqliteOptions, prepare: (db: Database.Database) => void) => {
  if (options.filename !== ":memory:") mkdirSync(dirname(resolve(options.filename)), { recursive: true })
  const db = new Database(options.filename)
  try {
    db.pragma("journal_mode = WAL")
    db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`)
    db.pragma(`busy_timeout = ${busyTimeoutMs(options)}`)
    db.pragma("temp_store = MEMORY")
    // Deleted and overwritten content is zeroed, not left in free space (an erasure must reach the bytes: issue 18).
    db.pragma("secure_delete = ON")
    if (options.walCheckpointPages !== undefined) db.pragma(`wal_autocheckpoint = ${options.walCheckpointPages}`)
    prepare(db)
    return tune(db, options)
  } catch (e) {
    db.close()
    throw e
  }
}

/**
 * A WAL database opened read-only still needs its `-shm` file, which SQLite cannot create in a
 * read-only folder. With no `-wal` beside it no writer has anything uncommitted to the file, so it
 * is then opened `immutable` (read as it is, without locks).
 */
const openReadOnly = (options: SqliteOptions) => {
  const file = options.filename
  if (!existsSync(file)) throw new StoreOpenError({ message: `no store at ${file}: check store.url, or create it with skygge run or skygge import` })
  let db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs(options)}`)
    checkSchema(db, file, true)
    return tune(db, options)
  } catch (e) {
    db.close()
    const code = (e as { code?: unknown }).code
    const wal = `${file}-wal`
    if (!(code === "SQLITE_READONLY_DIRECTORY" || code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY_CANTINIT")) throw e
    if (existsSync(wal) && statSync(wal).size > 0) throw e
    db = new Database(`${pathToFileURL(resolve(file)).href}?immutable=1`, { readonly: true, fileMustExist: true })
    try {
      checkSchema(db, file, true)
      return tune(db, options)
    } catch (e2) {
      db.close()
      throw e2
    }
  }
}

/** The migrations this skygge knows, oldest first; `when` is what drizzle records as `created_at`. Read once. */
let known: ReadonlyArray<{ readonly tag: string; readonly when: number }> | undefined
const journal = () => (known ??= (JSON.parse(readFileSync(`${sqliteMigrationsFolder}/meta/_journal.json`, "utf8")) as { entries: Array<{ tag: string; when: number }> }).entries)

/** The `created_at` stamps of the migrations applied to the database (none before the first). */
const appliedStamps = (db: Database.Database): ReadonlyArray<number> => {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get() !== undefined
  return hasTable ? (db.prepare("SELECT created_at AS stamp FROM __drizzle_migrations").all() as Array<{ stamp: number | string }>).map((r) => Number(r.stamp)) : []
}

/** Opening does not migrate: a store an older skygge wrote (or a new file) must be migrated first. */
const checkSchema = (db: Database.Database, file: string, readOnly: boolean) => {
  const applied = appliedStamps(db).length
  const known = journal().length
  if (applied < known) {
    throw new StoreOpenError({
      message: readOnly
        ? `store ${file} has ${applied} of the ${known} migrations this skygge needs, and reading does not migrate: run skygge migrate on it once (a writing command, skygge run or skygge import, migrates too)`
        : `store ${file} has ${applied} of the ${known} migrations this skygge needs: migrate it first (skygge migrate)`
    })
  }
}

const describeOpenError = (file: string, e: unknown, readOnly: boolean): string => {
  const code = String((e as { code?: unknown }).code ?? "")
  const reason = e instanceof Error ? e.message : String(e)
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
    return `store ${file} is not a readable SQLite database (${reason}): point store.url at the store, or restore it from a backup (move this file away to start an empty one)`
  }
  if (code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM") {
    return `store ${file} is read-only (${reason}): a writing command needs write access to the file and its folder (for the -wal and -shm files beside it); reading commands (get, history, snapshot, changes, …) work on a read-only copy`
  }
  if (code === "SQLITE_CANTOPEN" || code === "EACCES") {
    return `cannot open store ${file} (${reason}): check that it and its folder exist and are ${readOnly ? "readable" : "writable"} by this user`
  }
  return `cannot open store ${file}: ${reason}`
}
