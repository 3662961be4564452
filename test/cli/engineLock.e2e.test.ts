/**
 * One engine per SQLite file, through the real command: a second `skygge run` on a store another one is
 * running on stops at once saying why (and that several engines need PostgreSQL), while a command beside
 * the engine still works; once the first is killed hard (SIGKILL: no clean-up runs), a new engine starts
 * on the same file — the lock went with the process.
 */
import { once } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "vitest"
import { useCleanups } from "../support/cleanups.js"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { waitForReady } from "../support/wait.js"
import { CLI_BUDGET_MS, skygge } from "./skygge.js"

const cleanups = useCleanups()

it("refuses a second engine on one SQLite file, and lets one start again after the first was killed hard", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-lock-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const dbFile = join(dir, "data", "skygge.db")
  const config = async () => {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`)
    const port = await freePort()
    writeFileSync(file, JSON.stringify({ store: { url: `sqlite:${dbFile}` }, api: { host: "127.0.0.1", port }, log: { level: "Error" } }))
    return { file, port }
  }
  const first = await config()
  const engine = startSkygge(first.file)
  cleanups.push(() => killIfRunning(engine))
  await waitForReady(first.port)

  const second = await config()
  const stderr: Array<string> = []
  const refused = startSkygge(second.file, { stderr })
  cleanups.push(() => killIfRunning(refused))
  const [code] = (await once(refused, "exit")) as [number | null]
  expect(code).not.toBe(0)
  expect(stderr.join("")).toContain(`store ${dbFile} is in use by another skygge run`)
  expect(stderr.join("")).toContain("PostgreSQL for several engines")

  // Beside the engine, commands still work on its store.
  const beside = await skygge(["refused", "--config", first.file])
  expect(beside.code).toBe(0)

  engine.kill("SIGKILL")
  await once(engine, "exit")
  const again = startSkygge(second.file)
  cleanups.push(() => killIfRunning(again))
  await waitForReady(second.port)
  expect((await fetch(`http://127.0.0.1:${second.port}/ready`)).status).toBe(200)
}, CLI_BUDGET_MS)
