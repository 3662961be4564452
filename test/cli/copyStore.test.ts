/**
 * `skygge copy-store` through the real command: a SQLite shadow built by `skygge import` (future
 * validity, so activations and outbox records exist; a refused line) moves to a fresh PostgreSQL
 * database, verified table by table, and the store services answer the same on both; mirrored rows
 * keep their overlaps on PostgreSQL; a copy killed half-way resumes without duplicating; a password
 * never shows; a database holding other data is refused untouched.
 */
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { decodeMirrorRow, type MirrorRow, type RowShape } from "../../src/domain/core/Mirror.js"
import { ActivationStore } from "../../src/store/Activations.js"
import { MirrorStore } from "../../src/store/Mirror.js"
import { OutboxStore } from "../../src/store/Outbox.js"
import { PgStoreLive } from "../../src/store/pg/PgStoreLive.js"
import { migrateSqliteStore, SqliteStoreLive } from "../../src/store/sqlite/SqliteStoreLive.js"
import { Store } from "../../src/store/Store.js"
import type { StoreServices } from "../../src/store/StoreServices.js"
import { pgTestDatabases } from "../support/pg.js"
import { bin, CLI_BUDGET_MS, skygge } from "./skygge.js"

const databases = pgTestDatabases()
const dir = mkdtempSync(join(tmpdir(), "skygge-copy-store-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const TABLES = ["activations", "anomalies", "cluster_members", "cluster_singletons", "erasure_salt", "erasures", "events", "objects", "outbox", "outbox_cursors", "push_inbox", "refused", "resync_reports", "rows", "seen_messages", "source_cursors", "work_items"]

/** NDJSON operations over `objects` objects: each asserted, changed (some with a future start or end), some retracted; one line refused. */
const operations = (objects: number) => {
  const lines: Array<string> = []
  for (let i = 0; i < objects; i++) {
    const base = { objectType: i % 2 === 0 ? "vej" : "adresse", objectId: `o${String(i).padStart(7, "0")}` }
    lines.push(JSON.stringify({ op: "assert", ...base, registreringstid: "2020-01-01", virkningFra: "2020-01-01", virkningTil: null, data: { navn: `N${i}`, æøå: "Grøndal" }, eventId: `a-${i}` }))
    if (i % 3 === 0) lines.push(JSON.stringify({ op: "assert", ...base, registreringstid: "2021-01-01", virkningFra: "2098-01-01", virkningTil: "2099-01-01", data: { navn: `M${i}` }, eventId: `b-${i}` }))
    if (i % 7 === 0) lines.push(JSON.stringify({ op: "retract", ...base, registreringstid: "2022-01-01", virkningFra: "2022-01-01", virkningTil: null, eventId: `c-${i}` }))
  }
  lines.push("{ not json")
  return lines.join("\n") + "\n"
}

const importStore = async (name: string, objects: number) => {
  const file = join(dir, `${name}.db`)
  const ops = join(dir, `${name}.ndjson`)
  writeFileSync(ops, operations(objects))
  const r = await skygge(["import", ops], { SKYGGE_STORE_URL: `sqlite:${file}` })
  expect(r.code, r.stderr).toBe(2) // done, one line refused
  return file
}

const run = <A>(layer: Layer.Layer<StoreServices, unknown>, body: Effect.Effect<A, unknown, StoreServices>) => Effect.runPromise(Effect.provide(body, Layer.orDie(layer)))

/** What the store services answer, read the same way on either backend. */
const answers = (ids: ReadonlyArray<readonly [string, string]>) =>
  Effect.gen(function* () {
    const store = yield* Store
    const histories = []
    for (const [type, id] of ids) histories.push(yield* store.history(type, id))
    return {
      histories,
      events: yield* store.events(0, 100_000),
      refused: yield* store.refused(0, 1000),
      stats: yield* store.stats,
      outbox: yield* Effect.flatMap(OutboxStore, (o) => o.after(0, 100_000)),
      activations: yield* Effect.flatMap(ActivationStore, (a) => a.list({ from: null, to: null, limit: 100_000 })),
      anomalies: yield* Effect.flatMap(MirrorStore, (m) => m.anomalies({ after: 0, limit: 1000 }))
    }
  })

/** The verification table's lines, by table. */
const table = (stdout: string) => new Map(stdout.trim().split("\n").slice(1).map((l) => {
  const [name, rows, checksum, ok] = l.trim().split(/\s+/)
  return [name!, { rows: rows!, checksum: checksum!, ok: ok! }] as const
}))

const withPassword = (url: string, password: string) => url.replace("postgres://postgres@", `postgres://postgres:${password}@`)

const query = async <R extends pg.QueryResultRow>(url: string, text: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text)).rows
  } finally {
    await client.end()
  }
}

describe("skygge copy-store", () => {
  it("copies an imported shadow whole: every table ok, the store answers the same on both, new ids continue after the copied ones; the password never shows", async () => {
    const file = await importStore("small", 300)
    const url = await databases.create()
    const password = "s3cret-Pa55word"
    const r = await skygge(["copy-store", "--from", `sqlite:${file}`, "--to", withPassword(url, password)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout + r.stderr).not.toContain(password)
    expect(r.stderr).toContain("postgres://postgres:***@")
    const checks = table(r.stdout)
    expect([...checks.keys()]).toEqual(TABLES)
    for (const [name, c] of checks) expect(c.ok, name).toBe("ok")
    expect(Number(checks.get("activations")!.rows)).toBeGreaterThan(0)
    expect(Number(checks.get("refused")!.rows)).toBe(1)

    const ids = Array.from({ length: 300 }, (_, i) => [i % 2 === 0 ? "vej" : "adresse", `o${String(i).padStart(7, "0")}`] as const)
    const onSqlite = await run(SqliteStoreLive({ filename: file, readOnly: true }), answers(ids))
    const onPg = await run(PgStoreLive({ url }), answers(ids))
    expect(onPg).toEqual(onSqlite)
    expect(onSqlite.outbox.length).toBeGreaterThan(300)

    // Operation rows are not mirrored; the sequences moved past the copied ids.
    expect(await query(url, "SELECT count(*)::int AS n FROM rows WHERE mirrored")).toEqual([{ n: 0 }])
    const maxima = await query<{ rows: string; outbox: string; events: string }>(url, "SELECT (SELECT max(id) FROM rows)::text AS rows, (SELECT max(seq) FROM outbox)::text AS outbox, (SELECT max(seq) FROM events)::text AS events")
    const next = await query<{ rows: string; outbox: string; events: string }>(url, "SELECT nextval('rows_id_seq')::text AS rows, nextval('outbox_seq_seq')::text AS outbox, nextval('events_seq_seq')::text AS events")
    expect(next[0]).toEqual({ rows: String(Number(maxima[0]!.rows) + 1), outbox: String(Number(maxima[0]!.outbox) + 1), events: String(Number(maxima[0]!.events) + 1) })

    // Run again: nothing to copy, still ok; --verify-only writes nothing and agrees.
    const again = await skygge(["copy-store", "--from", `sqlite:${file}`, "--to", url])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/copied 0 rows/)
    const verify = await skygge(["copy-store", "--from", `sqlite:${file}`, "--to", url, "--verify-only"], { SKYGGE_STORE_PASSWORD: password })
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout + verify.stderr).not.toContain(password)
    expect(table(verify.stdout)).toEqual(checks)
  }, CLI_BUDGET_MS)

  it("mirrored rows (event ids never in events) are marked mirrored, so a register's overlapping current rows are copied as they are; a pruned outbox's seq goes on after its last", async () => {
    const file = join(dir, "mirrored.db")
    await Effect.runPromise(migrateSqliteStore({ filename: file }))
    const shape: RowShape = { id: "id", registreringFra: "registreringfra", registreringTil: "registreringtil", virkningFra: "virkningfra", virkningTil: "virkningtil", identity: [], volatile: [] }
    const row = (registreringfra: string, virkningfra: string, navn: string): MirrorRow => {
      const decoded = decodeMirrorRow({ id: "v1", registreringfra, registreringtil: null, virkningfra, virkningtil: null, navn }, shape, "UTC")
      if ("reason" in decoded) throw new Error(decoded.reason)
      return decoded
    }
    // Two current rows of one object whose virkning overlap: stored as upstream has them, an anomaly recorded.
    await run(
      SqliteStoreLive({ filename: file }),
      Effect.flatMap(MirrorStore, (m) =>
        m.mirror("test", "page-1", [{ objectType: "dar.vej", objectId: "v1", rows: [row("2020-01-01", "2020-01-01", "A"), row("2020-02-01", "2020-06-01", "B")], complete: true, identity: [], checkOverlaps: true }])
      )
    )
    // The outbox pruned empty (as after every publisher delivered): AUTOINCREMENT still remembers its last seq.
    const pruned = new Database(file)
    const lastSeq = pruned.prepare("SELECT max(seq) AS seq FROM outbox").get() as { seq: number }
    expect(lastSeq.seq).toBeGreaterThan(0)
    pruned.prepare("DELETE FROM outbox").run()
    pruned.close()
    const url = await databases.create()
    const r = await skygge(["copy-store", "--from", `sqlite:${file}`, "--to", url])
    expect(r.code, r.stderr).toBe(0)
    for (const [name, c] of table(r.stdout)) expect(c.ok, name).toBe("ok")
    expect(await query(url, "SELECT count(*)::int AS n FROM rows WHERE mirrored AND registrering_til IS NULL")).toEqual([{ n: 2 }])
    // … so the copy's outbox goes on after it: a publisher's cursor never passes a new record.
    expect(await query(url, "SELECT nextval('outbox_seq_seq')::int AS seq")).toEqual([{ seq: lastSeq.seq + 1 }])
    const ids = [["dar.vej", "v1"]] as const
    expect(await run(PgStoreLive({ url }), answers(ids))).toEqual(await run(SqliteStoreLive({ filename: file, readOnly: true }), answers(ids)))
  }, CLI_BUDGET_MS)

  it("refuses a database holding other data (writing nothing to it), a store another process is writing, and URLs of the wrong kind", async () => {
    const [a, b] = await Promise.all([importStore("a", 20), importStore("b", 30)])
    const url = await databases.create()
    expect((await skygge(["copy-store", "--from", `sqlite:${a}`, "--to", url])).code).toBe(0)
    const before = await query(url, "SELECT (SELECT count(*) FROM rows)::int AS rows, (SELECT count(*) FROM events)::int AS events")
    const r = await skygge(["copy-store", "--from", `sqlite:${b}`, "--to", url])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^skygge: target postgres:\/\/postgres@127\.0\.0\.1:5432\/\S+ holds other data: its table \w+ has \d+ rows up to key/m)
    expect(await query(url, "SELECT (SELECT count(*) FROM rows)::int AS rows, (SELECT count(*) FROM events)::int AS events")).toEqual(before)
    // A store another process is writing (an engine left running) is refused, best effort: its log is not empty.
    const writer = new Database(b)
    writer.pragma("journal_mode = WAL")
    writer.prepare("INSERT INTO source_cursors (source, cursor, updated_at) VALUES ('datafordeler:dar', 'c1', '2026-12-01T00:00:00.000000Z')").run()
    const [notPg, notSqlite, written] = await Promise.all([
      skygge(["copy-store", "--from", `sqlite:${a}`, "--to", "mysql://x:pw@y/z"]),
      skygge(["copy-store", "--from", url, "--to", url]),
      skygge(["copy-store", "--from", `sqlite:${b}`, "--to", await databases.create()])
    ]).finally(() => writer.close())
    expect(written.code).toBe(1)
    expect(written.stderr).toMatch(new RegExp(`^skygge: ${b} is being written \\(its write-ahead log ${b}-wal holds \\d+ bytes\\): stop skygge run`, "m"))
    expect(notPg.code).toBe(1)
    expect(notPg.stderr.trim()).toBe("skygge: --to 'mysql://***@y/z' is not understood: expected sqlite:PATH or postgres://user@host:5432/database")
    expect(notSqlite.code).toBe(1)
    expect(notSqlite.stderr).toMatch(/^skygge: --from 'postgres:\/\/\S+' is not a SQLite store file: expected sqlite:PATH$/m)
  }, CLI_BUDGET_MS)

  it("a source written to during the copy: the copy holds the snapshot it began with, and the verification says the table differs (exit 1)", async () => {
    const file = await importStore("written", 300)
    const url = await databases.create()
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, "copy-store", "--from", `sqlite:${file}`, "--to", url, "--batch-size", "2"])
      let stdout = ""
      let stderr = ""
      let written = false
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString()
        if (written || !/^\w+: [\d,]+ of/m.test(stderr)) return
        written = true
        // Another writer (an engine left running) commits while the copy reads its snapshot.
        const db = new Database(file)
        db.pragma("busy_timeout = 10000")
        db.prepare("INSERT INTO source_cursors (source, cursor, updated_at) VALUES ('datafordeler:dar', 'c1', '2026-12-01T00:00:00.000000Z')").run()
        db.close()
      })
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })
    expect(result.code, result.stderr).toBe(1)
    expect(table(result.stdout).get("source_cursors")).toMatchObject({ rows: "1≠0", ok: "DIFFERS" })
    expect(result.stderr).toMatch(/^skygge: the copy differs from the source in source_cursors: was the source written to since the copy began/m)
  }, CLI_BUDGET_MS)

  it("a copy killed half-way resumes where it stopped: it completes, verifies ok and holds each row once", async () => {
    const file = await importStore("large", 3_000) // ≈ 4.4k events: nine batches of 500 to be killed among
    const url = await databases.create()
    const args = [bin, "copy-store", "--from", `sqlite:${file}`, "--to", url, "--batch-size", "500"]
    const killed = await new Promise<{ stderr: string; signal: NodeJS.Signals | null }>((resolve, reject) => {
      const child = spawn(process.execPath, args)
      let stderr = ""
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString()
        // After the first batch of the events table (activations may be done already, or not).
        if (/^events: [\d,]+ of/m.test(stderr)) child.kill("SIGKILL")
      })
      child.on("error", reject)
      child.on("close", (_code, signal) => resolve({ stderr, signal }))
    })
    expect(killed.signal, killed.stderr).toBe("SIGKILL")
    const partial = await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM events")
    const r = await skygge(["copy-store", "--from", `sqlite:${file}`, "--to", url, "--batch-size", "500"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`^events: resuming after ${partial[0]!.n.toLocaleString("en-US")} of`, "m"))
    for (const [name, c] of table(r.stdout)) expect(c.ok, name).toBe("ok")
    expect(await query(url, "SELECT count(*)::int AS n FROM (SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1) d")).toEqual([{ n: 0 }])
    process.stderr.write(`copy-store, resumed: ${r.stderr.split("\n").find((l) => l.startsWith("copied "))}\n`)
  }, CLI_BUDGET_MS * 2)
})
