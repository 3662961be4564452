/**
 * Erasure through the real command (issue 18): `skygge erase … --config FILE` on a SQLite file — the erased
 * value is in neither the database file nor its -wal afterwards (secure_delete, WAL truncated) — and on
 * PostgreSQL — no table's text holds it; and, on both backends, a SIGKILL at a random moment of an erasure of a large history
 * leaves each object either wholly erased with its log entry, or untouched.
 */
import { Effect, Option } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { Erasures } from "../../src/store/Erasures.js"
import { TEST_BACKENDS, testStores } from "../support/testStores.js"
import { sleep } from "../support/wait.js"
import { CLI_BUDGET_MS, bin, skygge } from "./skygge.js"
import { spawn } from "node:child_process"
import { once } from "node:events"

const VALUE = "Xylophagous-Quincunx-4242"
const PERSON = "31129912345"
const stores = testStores()
const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-erase-"))
  dirs.push(dir)
  return dir
}

const op = (objectId: string, i: number, name: string) =>
  JSON.stringify({
    op: "assert", objectType: "person", objectId, registreringstid: new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString(),
    virkningFra: null, virkningTil: null, data: { name, i }, eventId: `${objectId}-${i}`
  })

/** The person's history (with the value), a stale line (refused, its raw text kept), and a bystander. */
const seedFile = (dir: string) => {
  const file = join(dir, "ops.ndjson")
  const lines = [...Array.from({ length: 50 }, (_, i) => op(PERSON, i + 1, `${VALUE} v${i}`)), op(PERSON, 0, `${VALUE} stale`), op("bystander", 1, "Bystander")]
  writeFileSync(file, lines.join("\n") + "\n")
  return file
}

const config = (dir: string, store: Record<string, unknown>) => {
  const file = join(dir, "skygge.json")
  writeFileSync(file, JSON.stringify({ store }))
  return file
}

describe("skygge erase on SQLite", () => {
  it("leaves the erased value in neither the database file nor its WAL, answers queries that it was erased, and logs it without the id", async () => {
    const dir = tempDir()
    const cfg = config(dir, { url: `sqlite:${join(dir, "skygge.db")}` })
    expect((await skygge(["import", seedFile(dir), "--config", cfg])).code).toBe(2) // one refused (stale)
    const db = join(dir, "skygge.db")
    const bytes = () => Buffer.concat([readFileSync(db), existsSync(`${db}-wal`) ? readFileSync(`${db}-wal`) : Buffer.alloc(0)])
    expect(bytes().includes(VALUE)).toBe(true)
    expect((await skygge(["erase", "person", PERSON, "--config", cfg])).stderr).toMatch(/--reason is required/)
    const erased = await skygge(["erase", "person", PERSON, "--reason", "DPO case 17", "--config", cfg, "--json"])
    expect(erased.code, erased.stderr).toBe(0)
    expect(JSON.parse(erased.stdout)).toMatchObject({ id: 1, erasedBy: "cli", touched: { rows: 50, events: 50, refused: 1 } })
    expect(bytes().includes(VALUE)).toBe(false)
    expect(bytes().includes(Buffer.from(VALUE, "utf16le"))).toBe(false)
    const get = await skygge(["get", "person", PERSON, "--registreringstid", "2020-01-01T00:30:00Z", "--config", cfg])
    expect(get.code).toBe(4)
    expect(get.stderr).toMatch(/was erased \(erasure 1/)
    expect((await skygge(["history", "person", PERSON, "--config", cfg])).code).toBe(4)
    const log = await skygge(["erasures", "--config", cfg, "--json"])
    expect(log.stdout).toContain("DPO case 17")
    expect(log.stdout).not.toContain(PERSON)
    expect((await skygge(["get", "person", "bystander", "--config", cfg, "--json"])).stdout).toContain("Bystander")
    // A later import of the person is refused, its payload not kept.
    const later = join(dir, "later.ndjson")
    writeFileSync(later, op(PERSON, 99, `${VALUE} again`) + "\n")
    expect((await skygge(["import", later, "--config", cfg])).code).toBe(2)
    const refused = await skygge(["refused", "--config", cfg, "--json"])
    expect(refused.stdout).toMatch(/object erased \(erasure 1/)
    expect(refused.stdout).not.toContain(VALUE)
    expect(bytes().includes(VALUE)).toBe(false)
    // Lifted: it may come back.
    expect((await skygge(["erase", "--lift", "person", PERSON, "--config", cfg])).code).toBe(0)
    expect((await skygge(["import", later, "--config", cfg])).code).toBe(0)
  }, CLI_BUDGET_MS)
})

describe("skygge erase on PostgreSQL", () => {
  it("leaves the erased value in no table's text", async () => {
    const dir = tempDir()
    const store = await stores("postgres", dir)
    const cfg = config(dir, store.config)
    expect((await skygge(["import", seedFile(dir), "--config", cfg])).code).toBe(2)
    const client = new pg.Client({ connectionString: store.config.url as string })
    await client.connect()
    try {
      const tables = (await client.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")).rows.map((r) => r.name)
      const holding = async (text: string) => {
        const found: Array<string> = []
        for (const t of tables) if (Number((await client.query(`SELECT count(*) AS n FROM "${t}" x WHERE x::text LIKE $1`, [`%${text}%`])).rows[0].n) > 0) found.push(t)
        return found
      }
      expect(await holding(VALUE)).toEqual(expect.arrayContaining(["rows", "events", "refused"]))
      const erased = await skygge(["erase", "person", PERSON, "--reason", "DPO case 18", "--config", cfg, "--json"])
      expect(erased.code, erased.stderr).toBe(0)
      expect(await holding(VALUE)).toEqual([])
      // The id stays only in the outbox's `erased` notification (subscribers must learn which object), until delivered and pruned.
      expect(await holding(PERSON)).toEqual(["outbox"])
      expect((await skygge(["get", "person", PERSON, "--config", cfg])).code).toBe(4)
      expect((await skygge(["erasures", "--config", cfg])).stdout).toContain("DPO case 18")
    } finally {
      await client.end()
    }
  }, CLI_BUDGET_MS)
})

describe("skygge erase killed", () => {
  it.each(TEST_BACKENDS)("is all or nothing under SIGKILL on %s: each object wholly erased with its log entry, or untouched", async (backend) => {
    const dir = tempDir()
    const store = await stores(backend, dir)
    const cfg = config(dir, backend === "sqlite" ? { ...store.config, synchronous: "FULL" } : store.config)
    const objects = Array.from({ length: 8 }, (_, k) => `p${k}`)
    const file = join(dir, "many.ndjson")
    writeFileSync(file, objects.flatMap((id) => Array.from({ length: 4000 }, (_, i) => op(id, i + 1, `${VALUE} ${id} ${i}`))).join("\n") + "\n")
    expect((await skygge(["import", file, "--config", cfg])).code).toBe(0)
    // The first erasure runs to its end: how long a whole run takes (start-up, compiling the sources, most of it).
    const started = Date.now()
    expect((await skygge(["erase", "person", objects[0]!, "--reason", "kill test", "--config", cfg])).code).toBe(0)
    const whole = Date.now() - started
    let killed = 0
    for (const id of objects.slice(1)) {
      const child = spawn(process.execPath, [bin, "erase", "person", id, "--reason", "kill test", "--config", cfg], { stdio: "ignore" })
      // Killed at a random moment of the run's last part, where the erasure's transaction is.
      await Promise.race([sleep(whole * (0.75 + Math.random() * 0.35)), once(child, "exit")])
      if (child.exitCode === null) {
        child.kill("SIGKILL")
        killed++
      }
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit")
    }
    const opened = await store.open()
    try {
      const log = await Effect.runPromise(Effect.provide(Effect.flatMap(Erasures, (e) => e.list(0, 100)), opened.context))
      let erasedCount = 0
      for (const id of objects) {
        const rows = await Effect.runPromise(opened.store.history("person", id))
        const erasure = await Effect.runPromise(Effect.provide(Effect.flatMap(Erasures, (e) => e.find("person", id)), opened.context))
        if (Option.isSome(erasure)) {
          erasedCount++
          expect(rows, `${id}: erased, no row left under its id`).toEqual([])
          const tombstones = await Effect.runPromise(opened.store.history("person", erasure.value.pseudonym))
          expect(tombstones.length).toBe(4000)
          expect(tombstones.every((r) => JSON.stringify(r.data) === '{"_erased":true}')).toBe(true)
          expect(erasure.value.touched).toMatchObject({ rows: 4000, events: 4000 })
        } else {
          expect(rows.length, `${id}: untouched`).toBe(4000)
          expect(rows.every((r) => JSON.stringify(r.data).includes(VALUE))).toBe(true)
        }
      }
      expect(log.length).toBe(erasedCount)
      console.log(`SIGKILL test (${backend}): ${killed} of ${objects.length - 1} erasures killed, ${erasedCount} of ${objects.length} completed`)
    } finally {
      await opened.close()
    }
  }, CLI_BUDGET_MS)
})
