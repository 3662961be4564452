/**
 * What the store contract cannot see of the PostgreSQL adapters: a unit of work that fails rolls
 * back all it wrote and gives its client back to the pool; a claim skips the rows another
 * transaction holds (another process claiming, issue 15) instead of waiting or taking them twice.
 */
import { Effect } from "effect"
import pg from "pg"
import { beforeAll, describe, expect, it } from "vitest"
import { PgStoreLive } from "../../src/store/pg/PgStoreLive.js"
import { migratePg } from "../../src/store/pg/PgOpen.js"
import { StoreError } from "../../src/store/StoreError.js"
import { type Received, WorkQueue } from "../../src/store/WorkQueue.js"
import { pgTestDatabases } from "../support/pg.js"
import { runTest } from "./contract/backend.js"

const databases = pgTestDatabases()
let migrated: string
beforeAll(async () => {
  migrated = await databases.create()
  await runTest(migratePg(migrated))
})

const hint = (id: string, messageId: string | null): Received => ({
  _tag: "Hint",
  hint: { format: "fs", resource: "personer", id, operation: "update", messageId, issuedAt: null, location: null, validFrom: null }
})

/** A hint the database refuses (operation is NOT NULL): the batch it is in fails. */
const refusedByTheDatabase: Received = { _tag: "Hint", hint: { ...(hint("x", "mx") as Extract<Received, { _tag: "Hint" }>).hint, operation: null as never } }

const onPgStore = <A, E>(body: (url: string) => Effect.Effect<A, E, WorkQueue>) =>
  Effect.flatMap(Effect.promise(() => databases.create(migrated)), (url) => Effect.provide(body(url), PgStoreLive({ url, poolSize: 2 })))

describe("PostgreSQL work queue", () => {
  it("a batch that fails is a StoreError and leaves nothing behind; its client goes back to the pool", () =>
    runTest(onPgStore(() => Effect.gen(function* () {
      const wq = yield* WorkQueue
      for (let i = 0; i < 3; i++) { // more failures than the pool has clients
        const failed = yield* Effect.flip(wq.record("fs", [hint("1", "m1"), refusedByTheDatabase]))
        expect(failed).toBeInstanceOf(StoreError)
        expect(failed.message).toMatch(/^store operation WorkQueue\.record failed: null value in column "operation"/)
      }
      // m1 was not kept as seen, nor 1 queued: the batch rolled back as a whole.
      expect(yield* wq.counts).toEqual([])
      expect(yield* wq.record("fs", [hint("1", "m1")])).toEqual(["queued"])
      expect((yield* wq.claim("fs", 10, "m")).map((i) => i.objectId)).toEqual(["1"])
    }))))

  it("a claim skips the rows another transaction holds, and takes them once they are free", () =>
    runTest(onPgStore((url) => Effect.gen(function* () {
      const wq = yield* WorkQueue
      yield* wq.record("fs", [hint("1", null), hint("2", null), hint("3", null)])
      const other = new pg.Client({ connectionString: url })
      yield* Effect.acquireRelease(Effect.promise(() => other.connect()), () => Effect.promise(() => other.end()))
      yield* Effect.promise(async () => {
        await other.query("BEGIN")
        await other.query("SELECT * FROM work_items WHERE object_id = '2' FOR UPDATE")
      })
      expect((yield* wq.claim("fs", 10, "m")).map((i) => i.objectId)).toEqual(["1", "3"])
      yield* Effect.promise(() => other.query("ROLLBACK"))
      expect((yield* wq.claim("fs", 10, "m")).map((i) => i.objectId)).toEqual(["2"])
    }).pipe(Effect.scoped))))

  it("claims at once from two connections take each item once", () =>
    runTest(onPgStore(() => Effect.gen(function* () {
      const wq = yield* WorkQueue
      yield* wq.record("fs", Array.from({ length: 20 }, (_, i) => hint(String(i).padStart(2, "0"), null)))
      const [a, b] = yield* Effect.all([wq.claim("fs", 12, "m"), wq.claim("fs", 12, "m")], { concurrency: 2 })
      const ids = [...a!, ...b!].map((i) => i.objectId)
      expect(new Set(ids).size).toBe(ids.length) // none taken twice
      expect(ids.length).toBeGreaterThanOrEqual(12) // and the first to lock took its twelve
    }))))
})
