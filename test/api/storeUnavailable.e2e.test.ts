/**
 * A store that cannot take a write, seen through the real door: `skygge run --config FILE` answers a
 * registration it cannot commit with 503 naming the store operation (never the data), applies none of it,
 * and takes the same request once the store can write again — nothing half-applied, nothing lost that the
 * client was not told about. The store is made busy for real: another process's connection holds its
 * write lock longer than the engine waits for it (`store.busyTimeoutSeconds`, set to 1 s here: SQLite waits in the
 * engine's one thread, so every write the engine tries meanwhile waits that long).
 */
import Database from "better-sqlite3"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "vitest"
import { useCleanups } from "../support/cleanups.js"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { waitForReady } from "../support/wait.js"

const cleanups = useCleanups()

it("answers a write its store cannot commit with 503 naming the operation, applies nothing of it, and takes it again later", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-busy-"))
  const dbFile = join(dir, "skygge.db"), configFile = join(dir, "skygge.json")
  const port = await freePort()
  writeFileSync(configFile, JSON.stringify({ store: { url: `sqlite:${dbFile}`, busyTimeoutSeconds: 1 }, api: { host: "127.0.0.1", port }, log: { level: "Error" } }))
  const stderr: Array<string> = []
  const child = startSkygge(configFile, { stderr })
  cleanups.push(async () => {
    await killIfRunning(child)
    rmSync(dir, { recursive: true, force: true })
  })
  await waitForReady(port)
  const api = `http://127.0.0.1:${port}`
  const secret = "Søndergade 7, personal"
  const body = JSON.stringify({ op: "assert", objectType: "adresse", objectId: "a-1", registreringstid: "2026-01-01T00:00:00Z", virkningFra: null, virkningTil: null, data: { navn: secret }, eventId: "busy-1" })
  const post = () => fetch(`${api}/v1/registrations`, { method: "POST", headers: { "content-type": "application/json" }, body })

  // Another process holds the write lock (WAL: readers go on, writers wait, then give up).
  const other = new Database(dbFile)
  other.pragma("busy_timeout = 0")
  other.exec("BEGIN IMMEDIATE")
  let released = false
  cleanups.push(() => {
    if (!released) other.exec("ROLLBACK")
    other.close()
  })
  const asked = performance.now()
  const refused = await post()
  expect(refused.status).toBe(503)
  // It waited for the lock as long as configured (1 s), not the default 10 s.
  const waited = (performance.now() - asked) / 1000
  expect(waited).toBeGreaterThanOrEqual(0.9)
  expect(waited).toBeLessThan(9)
  const error = (await refused.json()) as { _tag: string; operation: string; message: string }
  expect(error).toMatchObject({ _tag: "StoreUnavailable", operation: "Store.ingest" })
  expect(error.message).toMatch(/store operation Store\.ingest failed: database is locked/)
  expect(error.message).not.toContain(secret)
  // Reads still answer meanwhile, and nothing of the refused write is there.
  expect((await fetch(`${api}/v1/objects/adresse/a-1/history`)).status).toBe(404)

  other.exec("ROLLBACK")
  released = true
  const accepted = await post()
  expect(accepted.status).toBe(200)
  const history = (await (await fetch(`${api}/v1/objects/adresse/a-1/history`)).json()) as { rows: Array<{ data: unknown }> }
  expect(history.rows.map((r) => r.data)).toEqual([{ navn: secret }])
  expect(stderr.join("")).not.toContain(secret)
}, 60_000)
