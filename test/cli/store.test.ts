/**
 * The store as the CLI meets it on disk: a file that is not a database, a directory, a read-only
 * store. Each stops with one line naming the file and what to do; reading commands open the store
 * read-only, so a read-only copy (file and folder) can be queried and is left as it was.
 */
import { createHash } from "node:crypto"
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/net.js"
import { CLI_BUDGET_MS, repo, skygge, skyggeEach } from "./skygge.js"

const fixture = fileURLToPath(new URL("../fixtures/worked-examples.ndjson", import.meta.url))
const store = (file: string) => ({ SKYGGE_STORE_URL: `sqlite:${file}` })
const hash = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex")

// Root writes through file modes: as root, the read-only store is read as nobody, as anyone else would.
const asOther = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}

/** Every reading command, with the arguments it needs. */
const READS: ReadonlyArray<ReadonlyArray<string>> = [
  ["get", "vej", "yyyy", "--registreringstid", "2017-01-05", "--virkningstid", "2017-03-01", "--json"],
  ["history", "vej", "yyyy", "--json"],
  ["snapshot", "vej", "--json"],
  ["changes", "--since", "2017-01-01", "--until", "2017-02-01", "--json"],
  ["refused"],
  ["anomalies"],
  ["activations"],
  ["sources"],
  ["resync-reports"],
  ["erasures"]
]

const oneLine = (stderr: string) => {
  const lines = stderr.trim().split("\n")
  expect(lines, stderr).toHaveLength(1)
  return lines[0]!
}

describe("the store on disk, through the CLI", () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skygge-cli-store-"))
    chmodSync(dir, 0o755)
  })
  afterAll(() => {
    for (const d of readdirSync(dir)) chmodSync(join(dir, d), 0o755)
    rmSync(dir, { recursive: true, force: true })
  })

  it("a file that is not a database, or a directory: one line naming it and what to do, for reading and writing commands", async () => {
    const corrupt = join(dir, "corrupt.db")
    writeFileSync(corrupt, "this is not a SQLite database\n".repeat(100))
    const folder = join(dir, "folder.db")
    mkdirSync(folder)
    const [readCorrupt, writeCorrupt, readFolder, writeFolder] = await Promise.all([
      skygge(["history", "vej", "yyyy"], store(corrupt)),
      skygge(["import", fixture], store(corrupt)),
      skygge(["snapshot", "vej"], store(folder)),
      skygge(["import", fixture], store(folder))
    ])
    for (const r of [readCorrupt, writeCorrupt]) {
      expect(r.code).toBe(1)
      expect(oneLine(r.stderr)).toMatch(new RegExp(`^skygge: store ${corrupt} is not a readable SQLite database \\(file is not a database\\): .*restore it from a backup`))
    }
    for (const r of [readFolder, writeFolder]) {
      expect(r.code).toBe(1)
      expect(oneLine(r.stderr)).toBe(`skygge: store ${folder} is a directory: store.url must name a file in it (e.g. sqlite:${folder}/skygge.db)`)
    }
    // The engine too: after its start line, the reason, and no claim that it stopped cleanly.
    const run = await skygge(["run"], { ...store(corrupt), SKYGGE_API_PORT: String(await freePort()) })
    expect(run.code).toBe(1)
    const lines = run.stderr.trim().split("\n")
    expect(lines.at(-1)).toMatch(new RegExp(`^skygge: store ${corrupt} is not a readable SQLite database`))
    expect(run.stderr).not.toMatch(/\n\s+at |skygge stopped/)
  }, CLI_BUDGET_MS)

  it("a read-only store (file and folder): every reading command answers from it and leaves it as it was; a writing command says what it needs", async () => {
    const original = join(dir, "original", "skygge.db")
    const imported = await skygge(["import", fixture], store(original))
    expect(imported.code).toBe(0)
    // A copy as a backup or a mounted snapshot has it: the database alone, in WAL mode, in a folder nobody may write.
    const folder = join(dir, "readonly")
    mkdirSync(folder)
    const copy = join(folder, "skygge.db")
    copyFileSync(original, copy)
    expect(readFileSync(copy)[18]).toBe(2) // the header says WAL
    chmodSync(copy, 0o444)
    chmodSync(folder, 0o555)
    const before = hash(copy)

    const answers = await skyggeEach(READS.map((args) => () => skygge(args, store(copy), asOther)))
    answers.forEach((r, i) => expect({ command: READS[i]!.join(" "), code: r.code, stderr: r.stderr }).toEqual({ command: READS[i]!.join(" "), code: 0, stderr: "" }))
    const [get, history, snapshot, changes] = answers
    expect(JSON.parse(get!.stdout)).toMatchObject({ data: { navn: "Åbakke" } })
    expect((JSON.parse(history!.stdout) as { rows: Array<unknown> }).rows).toHaveLength(3)
    expect(snapshot!.stdout.trim().split("\n")).toHaveLength(2)
    expect(changes!.stdout.trim().split("\n")).toHaveLength(3)
    expect(hash(copy)).toBe(before)
    expect(readdirSync(folder)).toEqual(["skygge.db"]) // no -wal, no -shm

    const write = await skygge(["import", fixture], store(copy), asOther)
    expect(write.code).toBe(1)
    expect(oneLine(write.stderr)).toMatch(new RegExp(`^skygge: store ${copy} is read-only \\(.*\\): a writing command needs write access to the file and its folder`))
    expect(hash(copy)).toBe(before)
  }, 240_000)

  it("skygge migrate: a fresh file gets every migration, a second run is up to date, and the store then opens for reading", async () => {
    const file = join(dir, "migrated", "skygge.db")
    const config = join(dir, "migrate.json")
    writeFileSync(config, JSON.stringify({ store: { url: `sqlite:${file}` } }))
    const journal = JSON.parse(readFileSync(join(repo, "drizzle", "sqlite", "meta", "_journal.json"), "utf8")) as { entries: Array<{ tag: string }> }
    const first = await skygge(["migrate", "--config", config])
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" })
    expect(first.stdout.trim().split("\n")).toEqual(journal.entries.map((e) => `applied ${e.tag}`))
    const again = await skygge(["migrate", "--config", config])
    expect({ code: again.code, stdout: again.stdout, stderr: again.stderr }).toEqual({ code: 0, stdout: "store is up to date\n", stderr: "" })
    // Reading never migrates: it opens only a store migrated to this skygge's schema, as this one now is (empty: not found).
    const get = await skygge(["get", "vej", "yyyy", "--config", config])
    expect(get.code).toBe(3)
    expect(oneLine(get.stderr)).toMatch(/^skygge: no row of vej\/yyyy in force at registreringstid /)
  })

  it("reading a store that does not exist says so and creates nothing", async () => {
    const absent = join(dir, "absent", "skygge.db")
    const r = await skygge(["refused"], store(absent))
    expect(r.code).toBe(1)
    expect(oneLine(r.stderr)).toBe(`skygge: no store at ${absent}: check store.url, or create it with skygge run or skygge import`)
    expect(readdirSync(dir)).not.toContain("absent")
  })
})
