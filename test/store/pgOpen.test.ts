/**
 * Opening and migrating a PostgreSQL store, on the real server: migrating is idempotent and safe
 * when two processes start together; opening refuses an unmigrated database; instants keep their
 * microseconds and open ends, and text orders byte for byte (COLLATE "C") as on SQLite; the
 * database refuses two current rows of one object overlapping in virkning.
 */
import { Effect, Exit } from "effect"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { instant } from "../../src/domain/core/Instant.js"
import { migratePg, openPgPool, redactPgUrl } from "../../src/store/pg/PgOpen.js"
import { pgTestDatabases } from "../support/pg.js"
import { runTest } from "./contract/backend.js"

const databases = pgTestDatabases()

describe("PostgreSQL migrations", () => {
  it("applies each migration once: a second run finds nothing to do", async () => {
    const url = await databases.create()
    expect(await runTest(migratePg(url))).toEqual(["0000_core", "0001_virkning_exclusion", "0002_mirrored_rows", "0003_analyst_views", "0004_exclusion_hash_first", "0005_cluster_members", "0006_cluster_singletons", "0007_erasures"])
    expect(await runTest(migratePg(url))).toEqual([])
  })

  it("two migrations started at once take turns: both succeed, one applies, the other finds it done", async () => {
    const url = await databases.create()
    const both = await runTest(Effect.all([migratePg(url), migratePg(url)], { concurrency: 2 }))
    expect([...both].sort((a, b) => b.length - a.length)).toEqual([["0000_core", "0001_virkning_exclusion", "0002_mirrored_rows", "0003_analyst_views", "0004_exclusion_hash_first", "0005_cluster_members", "0006_cluster_singletons", "0007_erasures"], []])
  })

  it("opening refuses a database that is not migrated, saying what to do", async () => {
    const url = await databases.create()
    const exit = await Effect.runPromiseExit(Effect.scoped(openPgPool({ url })))
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toMatch(/has 0 of the \d+ migrations .*migrate it first/)
  })

  it("an unreachable server fails to open with the URL but never the password", async () => {
    const exit = await Effect.runPromiseExit(Effect.scoped(openPgPool({ url: "postgres://skygge:s3cret@127.0.0.1:1/none" })))
    const said = Exit.isFailure(exit) ? JSON.stringify(exit.cause) : ""
    expect(said).toMatch(/cannot open store postgres:\/\/skygge:\*\*\*@127\.0\.0\.1:1\/none/)
    expect(said).not.toMatch(/s3cret/)
    expect(redactPgUrl("postgres://u:pw@h/db")).toBe("postgres://u:***@h/db")
  })
})

describe("PostgreSQL columns", () => {
  it("keep microseconds exactly, open ends NULL, a 7th digit truncated, and byte order of text", async () => {
    const url = await databases.create()
    await runTest(migratePg(url))
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const insert = "INSERT INTO rows (object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at) VALUES ($1, $2, $3, NULL, $4, NULL, '{}', 'e', $3)"
      const fra = instant("2020-01-02T03:04:05.123456Z")
      const truncated = instant("1999-12-31T23:59:59.9999999Z") // the domain truncates; the server would round to the next year
      expect(truncated).toBe("1999-12-31T23:59:59.999999Z")
      for (const id of ["b", "B", "æ", "a", "Z", "10", "9"]) await client.query(insert, ["t", id, fra, truncated])
      const read = await client.query<{ object_id: string; registrering_fra: string; registrering_til: string | null; virkning_fra: string; virkning_til: string | null }>(
        "SELECT object_id, registrering_fra, registrering_til, virkning_fra, virkning_til FROM rows WHERE object_id > $1 ORDER BY object_id",
        ["0"]
      )
      expect(read.rows.map((r) => r.object_id)).toEqual(["10", "9", "B", "Z", "a", "b", "æ"])
      expect(read.rows[0]).toEqual({ object_id: "10", registrering_fra: fra, registrering_til: null, virkning_fra: truncated, virkning_til: null })
      const earlier = await client.query<{ n: string }>("SELECT count(*) AS n FROM rows WHERE registrering_fra < $1", ["2020-01-02T03:04:05.123457Z"])
      expect(earlier.rows[0]?.n).toBe("7")
    } finally {
      await client.end()
    }
  })

  it("forbid two current rows of one object overlapping in virkning, checked at commit", async () => {
    const url = await databases.create()
    await runTest(migratePg(url))
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const insert = (id: string, fra: string | null, til: string | null, registreringTil: string | null = null, mirrored = false) =>
      client.query(
        "INSERT INTO rows (object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at, mirrored) VALUES ('t', $1, '2020-01-01T00:00:00.000000Z', $4, $2, $3, '{}', 'e', '2020-01-01T00:00:00.000000Z', $5) RETURNING id",
        [id, fra, til, registreringTil, mirrored]
      )
    const y = (year: number) => `${year}-01-01T00:00:00.000000Z`
    const refused = (work: Promise<unknown>) => work.then(() => "accepted", (e: { code?: string }) => e.code)
    try {
      await insert("a", y(2020), y(2021))
      await insert("a", y(2021), null) // adjacent: [2020, 2021) and [2021, ∞) do not overlap
      await insert("b", y(2020), y(2021)) // another object
      await insert("a", y(2020), y(2030), y(2022)) // a closed row may overlap
      expect(await refused(insert("a", y(2020).replace("01-01T", "06-01T"), y(2021)))).toBe("23P01") // exclusion_violation
      expect(await refused(insert("a", null, y(2020).replace(".000000Z", ".000001Z")))).toBe("23P01") // an open start overlaps
      // A mirrored upstream's own overlap is stored as it has it (and recorded as an anomaly by the mirror).
      await insert("m", y(2020), y(2022), null, true)
      await insert("m", y(2021), null, null, true)
      // Inside one unit of work the successor may come before the close of what it replaces.
      await client.query("BEGIN")
      const successor = await insert("b", y(2020), y(2022))
      await client.query("UPDATE rows SET registrering_til = '2021-01-01T00:00:00.000000Z' WHERE object_id = 'b' AND id <> $1", [successor.rows[0]!.id])
      await client.query("COMMIT")
      const current = await client.query("SELECT object_id FROM rows WHERE registrering_til IS NULL ORDER BY object_id, virkning_fra")
      expect(current.rows.map((r) => r.object_id)).toEqual(["a", "a", "b", "m", "m"])
    } finally {
      await client.end()
    }
  })
})
