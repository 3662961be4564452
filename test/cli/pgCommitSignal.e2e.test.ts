/**
 * Wake-ups across processes on PostgreSQL, through the real commands: `skygge run` on a PostgreSQL store,
 * told to look at the store by itself only once an hour (activations.pollSeconds), learns of an activation
 * another process wrote (`skygge import` of a row whose validity starts a few seconds later) from that
 * commit's NOTIFY, and fires it on time — not an hour later.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "vitest"
import { useCleanups } from "../support/cleanups.js"
import { freePort } from "../support/net.js"
import { pgTestDatabases } from "../support/pg.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { waitForReady } from "../support/wait.js"
import { CLI_BUDGET_MS, skygge } from "./skygge.js"

const cleanups = useCleanups()
const databases = pgTestDatabases()

it("an engine fires on time an activation another process committed, woken by its NOTIFY (polling once an hour)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-notify-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const url = await databases.create()
  const port = await freePort()
  const configFile = join(dir, "skygge.json")
  writeFileSync(configFile, JSON.stringify({ store: { url }, api: { host: "127.0.0.1", port }, log: { level: "Error" }, activations: { pollSeconds: 3600, lateAfterSeconds: 5 } }))
  const engine = startSkygge(configFile)
  cleanups.push(() => killIfRunning(engine))
  await waitForReady(port)
  // Give the engine's scheduler time to go to sleep on its hour-long poll.
  await new Promise((resolve) => setTimeout(resolve, 1000))

  const startsAt = new Date(Date.now() + 6000).toISOString()
  const file = join(dir, "ops.ndjson")
  writeFileSync(file, `${JSON.stringify({ op: "assert", objectType: "person", objectId: "p1", registreringstid: new Date().toISOString(), virkningFra: startsAt, virkningTil: null, data: { role: "student" }, eventId: "e1" })}\n`)
  const imported = await skygge(["import", file, "--config", configFile])
  expect(imported.code, imported.stderr).toBe(0)

  const activations = async () =>
    ((await (await fetch(`http://127.0.0.1:${port}/v1/activations?status=all`)).json()) as { activations: Array<{ status: string; late: boolean | null; settledAt: string | null }> }).activations
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && (await activations())[0]?.status !== "fired") await new Promise((resolve) => setTimeout(resolve, 250))
  const [fired] = await activations()
  expect(fired).toMatchObject({ status: "fired", late: false })
  // Fired at its instant (woken by the import's commit, then sleeping until the instant), not at a poll.
  expect(Date.parse(fired!.settledAt!) - Date.parse(startsAt)).toBeLessThan(3000)
}, CLI_BUDGET_MS)
