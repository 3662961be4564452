/**
 * Opening the SQLite file: read-write (created, tuned, migrated) for what writes,
 * read-only (no migration, no write, a read-only copy will do) for what only reads.
 * What cannot be opened fails with one line naming the file and what to do.
 */
import Database from "better-sqlite3"
import { drizzle } from "drizzle-orm/better-sqlite3"
import { migrate } from "drizzle-orm/better-sqlite3/migrator"
import { Data } from "effect"
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

// better-sqlite3 reads this once, when its addon loads (at the first open): URI file names let a
// read-only open fall back to `immutable=1` (see openReadOnly).
process.env.SQLITE_USE_URI ??= "1"

export const sqliteMigrationsFolder = fileURLToPath(new URL("../../../drizzle/sqlite", import.meta.url))

export interface SqliteOptions {
  /** A file path, or `:memory:`. */
  readonly filename: string
  /** `FULL` (default) survives power loss after commit; `NORMAL` only a process crash. */
  readonly synchronous?: "FULL" | "NORMAL" | "OFF"
  /** Page cache per connection (default 64 MiB): bounds the memory of any import, however large the file. */
  readonly cacheMiB?: number
  /** Memory-mapped reads (default 0, off). Mapped pages count as resident memory of the process. */
  readonly mmapMiB?: number
  /** Open an existing store for reading only: no migration, nothing written (a read-only copy can be queried). */
  readonly readOnly?: boolean
}

/** The store file cannot be opened; the message names the file and what to do. */
export class StoreOpenError extends Data.TaggedError("StoreOpenError")<{ readonly message: string }> {}

/** Open (creating the folder and file if need be), tune and migrate a SQLite database; or open it read-only. */
export const openSqlite = (options: SqliteOptions): Database.Database => {
  const file = options.filename
  if (file !== ":memory:" && existsSync(file) && statSync(file).isDirectory()) {
    throw new StoreOpenError({ message: `store ${file} is a directory: store.url must name a file in it (e.g. sqlite:${file.replace(/\/$/, "")}/skygge.db)` })
  }
  try {
    const db = options.readOnly === true ? openReadOnly(file) : openReadWrite(options)
    db.pragma(`cache_size = -${(options.cacheMiB ?? 64) * 1024}`)
    db.pragma(`mmap_size = ${(options.mmapMiB ?? 0) * 1024 * 1024}`)
    return db
  } catch (e) {
    throw e instanceof StoreOpenError ? e : new StoreOpenError({ message: describeOpenError(file, e, options.readOnly === true) })
  }
}

const openReadWrite = (options: SqliteOptions) => {
  if (options.filename !== ":memory:") mkdirSync(dirname(resolve(options.filename)), { recursive: true })
  const db = new Database(options.filename)
  try {
    db.pragma("journal_mode = WAL")
    db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`)
    db.pragma("busy_timeout = 10000")
    db.pragma("temp_store = MEMORY")
    migrate(drizzle(db), { migrationsFolder: sqliteMigrationsFolder })
    return db
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
const openReadOnly = (file: string) => {
  if (!existsSync(file)) throw new StoreOpenError({ message: `no store at ${file}: check store.url, or create it with skygge run or skygge import` })
  let db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    db.pragma("busy_timeout = 10000")
    checkSchema(db, file)
    return db
  } catch (e) {
    db.close()
    const code = (e as { code?: unknown }).code
    const wal = `${file}-wal`
    if (!(code === "SQLITE_READONLY_DIRECTORY" || code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY_CANTINIT")) throw e
    if (existsSync(wal) && statSync(wal).size > 0) throw e
    db = new Database(`${pathToFileURL(resolve(file)).href}?immutable=1`, { readonly: true, fileMustExist: true })
    try {
      checkSchema(db, file)
      return db
    } catch (e2) {
      db.close()
      throw e2
    }
  }
}

const journalEntries = () => (JSON.parse(readFileSync(`${sqliteMigrationsFolder}/meta/_journal.json`, "utf8")) as { entries: Array<unknown> }).entries.length

/** Reading cannot migrate: a store an older skygge wrote must be opened for writing once first. */
const checkSchema = (db: Database.Database, file: string) => {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get() !== undefined
  const applied = hasTable ? (db.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n : 0
  const known = journalEntries()
  if (applied < known) {
    throw new StoreOpenError({
      message: `store ${file} has ${applied} of the ${known} migrations this skygge needs, and reading does not migrate: run a writing command on it once (skygge run or skygge import)`
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
