/**
 * One engine per SQLite store. `skygge run` holds an exclusive lock on a small file beside the store
 * (`<store>.engine-lock`) for as long as it runs, so a second engine on the same file stops at once
 * with a clear message instead of racing the first for its cursors, activations and outbox. The lock is
 * the operating system's (SQLite's own file locking, in exclusive locking mode): it goes with the process
 * however the process ends — SIGKILL too — so there is nothing stale to clean up. Commands that import
 * or read beside a running engine do not take it: that is supported. Several engines need PostgreSQL.
 */
import Database from "better-sqlite3"
import { Effect, type Scope } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { StoreOpenError } from "../StoreOpenError.js"

export const engineLockFile = (filename: string): string => `${filename}.engine-lock`

/** Hold the store's engine lock until the scope closes; fails, saying why, when another engine holds it. */
export const holdSqliteEngineLock = (filename: string): Effect.Effect<void, StoreOpenError, Scope.Scope> =>
  filename === ":memory:"
    ? Effect.void
    : Effect.asVoid(
        Effect.acquireRelease(
          Effect.try({
            try: () => {
              const file = engineLockFile(filename)
              mkdirSync(dirname(file), { recursive: true })
              // A second or so of patience: an engine being restarted may still be on its way out.
              const db = new Database(file, { timeout: 1500 })
              try {
                db.pragma("journal_mode = DELETE")
                db.pragma("locking_mode = EXCLUSIVE")
                // In exclusive locking mode the lock a write takes is kept until the connection closes.
                db.exec("BEGIN EXCLUSIVE")
                db.exec("CREATE TABLE IF NOT EXISTS engine (pid INTEGER NOT NULL, started_at TEXT NOT NULL)")
                db.exec("DELETE FROM engine")
                db.prepare("INSERT INTO engine (pid, started_at) VALUES (?, ?)").run(process.pid, new Date().toISOString())
                db.exec("COMMIT")
                return db
              } catch (e) {
                db.close()
                throw e
              }
            },
            catch: (e) =>
              new StoreOpenError({
                message: (e as { code?: unknown }).code === "SQLITE_BUSY"
                  ? `store ${filename} is in use by another skygge run (it holds ${engineLockFile(filename)}): one engine per SQLite file — stop the other, or use PostgreSQL for several engines`
                  : `cannot lock store ${filename} for this engine (${engineLockFile(filename)}): ${e instanceof Error ? e.message : String(e)}`
              })
          }),
          (db) => Effect.sync(() => db.close())
        )
      )
