/**
 * The store alone (no HTTP) against ../shared/oracle: operations and 3,000 point
 * answers computed by MariaDB's SQL:2011 system-versioned, application-time tables.
 */
import { Effect, Option } from "effect"
import { createReadStream, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { instant } from "../../../src/domain/core/Instant.js"
import { ingestNdjson } from "../../../src/ingest/Ingest.js"
import { Store } from "../../../src/store/Store.js"
import { sharedStore, type StoreBackend } from "./backend.js"

const oracle = (name: string) => fileURLToPath(new URL(`../../fixtures/oracle/${name}`, import.meta.url))

export const oracleContract = (backend: StoreBackend) =>
  describe(`${backend.name}: store against the MariaDB oracle`, () => {
    const run = sharedStore(backend)

    it("imports the oracle's operations from a file and answers every point as MariaDB does", async () => {
      const summary = await run(ingestNdjson(createReadStream(oracle("ops.ndjson")), { source: "oracle", batchSize: 97, maxLineBytes: 1 << 20, timeZone: "UTC" }))
      expect(summary.refused).toBeGreaterThan(0)
      expect(summary.duplicate).toBeGreaterThan(0)
      for (const refusal of summary.refusals) expect(refusal.reason).toMatch(/stale registration/)

      const lines = readFileSync(oracle("expected.tsv"), "utf8").split("\n").filter((l) => l.length > 0)
      expect(lines.length).toBe(3000)
      const disagreements: Array<string> = []
      for (const line of lines) {
        const [objectId, r, v, expected] = line.split("\t") as [string, string, string, string]
        const row = await run(Effect.flatMap(Store, (store) => store.asOf({ objectType: "thing", objectId, registreringstid: instant(r), virkningstid: instant(v) })))
        const actual = Option.match(row, { onNone: () => "<none>", onSome: (found) => JSON.stringify(found.data) })
        const want = expected === "<none>" ? "<none>" : JSON.stringify(JSON.parse(expected))
        if (actual !== want) disagreements.push(`${line} → ${actual}`)
      }
      expect(disagreements).toEqual([])
    })
  })
