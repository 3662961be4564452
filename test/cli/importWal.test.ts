/**
 * `skygge import` on SQLite checkpoints its write-ahead log every 64 MiB rather than SQLite's 4 (fewer syncs: most of
 * an import's commit time), and leaves no log behind when it ends: the real command, its files watched from outside.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { CLI_BUDGET_MS, skygge } from "./skygge.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe("skygge import's write-ahead log", () => {
  it("grows past SQLite's 4 MiB between checkpoints during the import, and is folded in and gone when it ends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-importwal-"))
    dirs.push(dir)
    const db = join(dir, "shadow.db")
    const file = join(dir, "ops.ndjson")
    // 20,000 objects with a few hundred bytes each: some 15 MB of pages, four times SQLite's default checkpoint.
    const lines = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({
        op: "assert", objectType: "adresse", objectId: `obj-${String(i).padStart(6, "0")}`, registreringstid: "2026-01-01T00:00:00.000000Z",
        virkningFra: "2026-01-01T00:00:00.000000Z", virkningTil: null, data: { vejnavn: `Vej ${i}`, note: "x".repeat(300) }, eventId: `e-${i}`
      }))
    writeFileSync(file, lines.join("\n") + "\n")
    let largestWal = 0
    const watch = setInterval(() => {
      try {
        largestWal = Math.max(largestWal, statSync(`${db}-wal`).size)
      } catch {
        // not there (yet, or any more)
      }
    }, 10)
    const result = await skygge(["import", file], { SKYGGE_STORE_URL: `sqlite:${db}`, SKYGGE_LOG_LEVEL: "Warn" }).finally(() => clearInterval(watch))
    expect(result.stderr).not.toMatch(/level=(WARN|ERROR)/)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("20,000 applied")
    // With SQLite's checkpoints it stays near 7 MiB (4 MiB and one transaction); this import writes some 30 MiB of pages.
    expect(largestWal).toBeGreaterThan(16 * 1024 * 1024)
    expect(existsSync(`${db}-wal`)).toBe(false)
    // Every row is in the file itself, read back by the real command.
    const got = await skygge(["get", "adresse", "obj-019999", "--json"], { SKYGGE_STORE_URL: `sqlite:${db}` })
    expect(got.code).toBe(0)
    expect(JSON.parse(got.stdout)).toMatchObject({ objectId: "obj-019999", data: { vejnavn: "Vej 19999" } })
  }, CLI_BUDGET_MS)
})
