/**
 * A real SQLite failure reaches the caller as a typed StoreError naming the
 * operation (not a defect thrown out of a synchronous call): a write to a store
 * opened read-only, and a write to a full disk.
 */
import { Cause, Effect, Exit, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Store } from "../../src/store/Store.js"
import { StoreError } from "../../src/store/StoreError.js"
import { makeSqliteStore } from "../../src/store/sqlite/SqliteStore.js"
import { migrateSqliteFile, openSqlite } from "../../src/store/sqlite/SqliteOpen.js"
import { MigratedSqliteStoreLive, SqliteStoreLive } from "../../src/store/sqlite/SqliteStoreLive.js"
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
})
