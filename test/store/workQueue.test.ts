/** The persisted work queue: collapse by object, dedup by message id, poison recorded, in-flight hints, settle outcomes, crash recovery. */
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import type { ChangeHint } from "../../src/domain/ChangeHint.js"
import { instant } from "../../src/domain/Instant.js"
import { makeSqliteStore, openSqlite } from "../../src/store/sqlite/SqliteStore.js"
import { migrateSqliteFile } from "../../src/store/sqlite/SqliteOpen.js"
import { makeSqliteWorkQueue } from "../../src/store/sqlite/SqliteWorkQueue.js"
import type { Received } from "../../src/store/WorkQueue.js"

const run = <A>(e: Effect.Effect<A>) => Effect.runPromise(e)
const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const open = () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-wq-"))
  dirs.push(dir)
  migrateSqliteFile({ filename: join(dir, "s.db") })
  const db = openSqlite({ filename: join(dir, "s.db"), synchronous: "OFF" })
  return { db, wq: makeSqliteWorkQueue(db), store: makeSqliteStore(db) }
}
const hint = (id: string, messageId: string | null, operation: ChangeHint["operation"] = "update"): Received => ({
  _tag: "Hint",
  hint: { format: "fs", resource: "personer", id, operation, messageId, issuedAt: null, location: `personer/${id}`, validFrom: null }
})

describe("work queue", () => {
  it("collapses a burst for one object into one item, drops duplicate message ids, records poison", async () => {
    const { db, wq, store } = open()
    const outcomes = await run(wq.record("fs", [hint("1", "m1"), hint("1", "m2"), hint("1", "m1"), hint("2", null), hint("2", null), { _tag: "Poison", reason: "not JSON", raw: "{x", routingKey: "no.uio.fs.FS-test.personer.update" }]))
    expect(outcomes).toEqual(["queued", "queued", "duplicate", "queued", "queued", "refused"])
    const items = await run(wq.claim("fs", 10))
    expect(items.map((i) => [i.objectId, i.hints, i.state])).toEqual([["1", 2, "in_flight"], ["2", 2, "in_flight"]])
    expect(await run(wq.claim("fs", 10))).toEqual([])
    // Redelivered after a reconnect: still a duplicate.
    expect(await run(wq.record("fs", [hint("1", "m2")]))).toEqual(["duplicate"])
    const refused = await run(store.refused(0, 10))
    expect(refused).toMatchObject([{ source: "fs", reason: "not JSON", input: "{x", field: "no.uio.fs.FS-test.personer.update" }])
    db.close()
  })

  it("fetches again after the fetch in hand when a hint arrives meanwhile; confirms once; retries, abandons, revives; recovers after a crash", async () => {
    const { db, wq } = open()
    await run(wq.record("fs", [hint("1", "a"), hint("2", "b"), hint("3", "c"), hint("4", "d")]))
    const [one, two, three, four] = await run(wq.claim("fs", 10))
    await run(wq.record("fs", [hint("1", "a2")])) // while 1 is in flight
    const later = instant("2999-01-01T00:00:00Z")
    await run(wq.settle([[one!, { _tag: "Done" }], [two!, { _tag: "Confirm", at: later }], [three!, { _tag: "Retry", at: later, error: "HTTP 503" }], [four!, { _tag: "Abandon", error: "HTTP 404 not proven" }]]))
    const due = await run(wq.claim("fs", 10))
    expect(due.map((i) => i.objectId)).toEqual(["1"]) // dirty: again at once
    expect((await run(wq.list("fs", "pending", 10))).map((i) => [i.objectId, i.confirming, i.attempts, i.lastError])).toEqual([
      ["2", true, 0, null],
      ["3", false, 1, "HTTP 503"]
    ])
    expect((await run(wq.list("fs", "abandoned", 10))).map((i) => i.objectId)).toEqual(["4"])
    expect(await run(wq.revive("fs"))).toBe(1)
    // A crash with 1 and 4 in flight: both come back.
    await run(wq.claim("fs", 10))
    expect(await run(wq.recover("fs"))).toBeGreaterThanOrEqual(2)
    expect((await run(wq.counts)).find((c) => c.state === "in_flight")).toBeUndefined()
    db.close()
  })
})
