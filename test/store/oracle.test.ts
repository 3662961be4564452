/**
 * The store alone (no HTTP) against ../shared/oracle: operations and 3,000 point
 * answers computed by MariaDB's SQL:2011 system-versioned, application-time tables.
 */
import { Effect, Option } from "effect"
import { createReadStream, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { instant } from "../../src/domain/Instant.js"
import { ingestNdjson } from "../../src/ingest/Ingest.js"
import { Store, type StoreShape } from "../../src/store/Store.js"
import { makeSqliteStore, openSqlite } from "../../src/store/sqlite/SqliteStore.js"
import { migrateSqliteFile } from "../../src/store/sqlite/SqliteOpen.js"

const oracle = (name: string) => fileURLToPath(new URL(`../fixtures/oracle/${name}`, import.meta.url))

describe("store against the MariaDB oracle", () => {
  let dir: string
  let db: ReturnType<typeof openSqlite>
  let store: StoreShape
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skygge-oracle-"))
    migrateSqliteFile({ filename: join(dir, "skygge.db") })
    db = openSqlite({ filename: join(dir, "skygge.db"), synchronous: "OFF" })
    store = makeSqliteStore(db)
  })
  afterAll(() => {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("imports the oracle's operations from a file and answers every point as MariaDB does", async () => {
    const summary = await Effect.runPromise(
      ingestNdjson(createReadStream(oracle("ops.ndjson")), { source: "oracle", batchSize: 97, maxLineBytes: 1 << 20, timeZone: "UTC" }).pipe(
        Effect.provideService(Store, store)
      )
    )
    expect(summary.refused).toBeGreaterThan(0)
    expect(summary.duplicate).toBeGreaterThan(0)
    for (const refusal of summary.refusals) expect(refusal.reason).toMatch(/stale registration/)

    const lines = readFileSync(oracle("expected.tsv"), "utf8").split("\n").filter((l) => l.length > 0)
    expect(lines.length).toBe(3000)
    const disagreements: Array<string> = []
    for (const line of lines) {
      const [objectId, r, v, expected] = line.split("\t") as [string, string, string, string]
      const row = await Effect.runPromise(store.asOf({ objectType: "thing", objectId, registreringstid: instant(r), virkningstid: instant(v) }))
      const actual = Option.match(row, { onNone: () => "<none>", onSome: (found) => JSON.stringify(found.data) })
      const want = expected === "<none>" ? "<none>" : JSON.stringify(JSON.parse(expected))
      if (actual !== want) disagreements.push(`${line} → ${actual}`)
    }
    expect(disagreements).toEqual([])
  })
})
