/**
 * A real SQLite failure reaches the caller as a typed StoreError naming the
 * operation (not a defect thrown out of a synchronous call): a write to a store
 * opened read-only, a write to a full disk, and a statement that cannot be prepared (statements are
 * prepared on first use, so that is where it fails). Every statement of the store prepares on the
 * migrated schema.
 */
import { Cause, Context, Effect, Exit, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { makeCommitSignal } from "../../src/store/CommitSignal.js"
import { ResyncReports } from "../../src/store/ResyncReports.js"
import { Store } from "../../src/store/Store.js"
import { StoreError } from "../../src/store/StoreError.js"
import { makeSqliteStore } from "../../src/store/sqlite/SqliteStore.js"
import { migrateSqliteFile, openSqlite } from "../../src/store/sqlite/SqliteOpen.js"
import { MigratedSqliteStoreLive, sqliteServices, SqliteStoreLive } from "../../src/store/sqlite/SqliteStoreLive.js"
import { makeEvery } from "../../src/store/sqlite/FirstUse.js"
import { useCleanups } from "../support/cleanups.js"

const cleanups = useCleanups()
const tempFile = () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-store-error-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, "skygge.db")
}

const refusal = (reason: string, raw = "") => ({ input: { reason }, raw })

/** The failure an effect ended with, asserting it failed (not died). */
const failureOf = async <A, E>(effect: Effect.Effect<A, E>): Promise<E> => {
  const exit = await Effect.runPromise(Effect.exit(effect))
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got: ${Cause.pretty(exit.cause)}`)
  return failure.value
}

describe("StoreError", () => {
  it("is what a write to a store opened read-only fails with, through the Store service", async () => {
    const filename = tempFile()
    const ingest = (readOnly: boolean) =>
      Effect.flatMap(Store, (store) => store.ingest("test", [refusal("written")])).pipe(Effect.provide(readOnly ? SqliteStoreLive({ filename, readOnly }) : MigratedSqliteStoreLive({ filename })))
    await Effect.runPromise(ingest(false))
    const error = await failureOf(ingest(true))
    expect(error).toBeInstanceOf(StoreError)
    expect((error as StoreError)._tag).toBe("StoreError")
    expect((error as StoreError).operation).toBe("Store.ingest")
    expect((error as StoreError).message).toMatch(/^store operation Store\.ingest failed: .*readonly/)
  })

  it("is what a full disk fails with; the message names the operation and the cause, never the rows", async () => {
    const filename = tempFile()
    migrateSqliteFile({ filename })
    const db = openSqlite({ filename })
    try {
      const store = makeSqliteStore(db)
      // The file may not grow by a page: the next write that needs one finds the disk full.
      db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true }) as number}`)
      const secret = "personnummer 010203-4567 ".repeat(200)
      const error = await failureOf(store.ingest("test", Array.from({ length: 50 }, (_, i) => refusal(`r${i}`, secret))))
      expect(error._tag).toBe("StoreError")
      expect(error.operation).toBe("Store.ingest")
      expect(error.message).toBe("store operation Store.ingest failed: database or disk is full")
      expect(error.message).not.toContain("personnummer")
      // Nothing of the batch was committed, and the store still answers reads.
      expect((await Effect.runPromise(store.stats)).refused).toBe(0)
    } finally {
      db.close()
    }
  })

  it("is what a statement that cannot be prepared fails with, at its first use, naming the operation", async () => {
    const filename = tempFile()
    migrateSqliteFile({ filename })
    const db = openSqlite({ filename })
    try {
      const services = sqliteServices(db, Effect.runSync(makeCommitSignal))
      db.exec("DROP TABLE resync_reports") // opening prepared nothing, so the services were made regardless
      const error = await failureOf(Context.get(services, ResyncReports).list({ limit: 10 }))
      expect(error._tag).toBe("StoreError")
      expect(error.operation).toBe("ResyncReports.list")
      expect(error.message).toBe("store operation ResyncReports.list failed: no such table: resync_reports")
      // The other services are unaffected.
      expect((await Effect.runPromise(Context.get(services, Store).stats)).rows).toBe(0)
    } finally {
      db.close()
    }
  })

  it("never comes from a statement of the store's SQL: every one prepares on the migrated schema", () => {
    const filename = tempFile()
    migrateSqliteFile({ filename })
    const db = openSqlite({ filename })
    try {
      sqliteServices(db, Effect.runSync(makeCommitSignal))
      // Each service's statements, whether or not an operation of the contract suite runs them.
      expect(makeEvery(db)).toBeGreaterThan(130)
    } finally {
      db.close()
    }
  })
})
