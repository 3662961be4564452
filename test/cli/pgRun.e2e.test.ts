/**
 * `skygge run` on `store.url: postgres://…`, from outside: it migrates a fresh database at start, takes a
 * registration over HTTP, answers it back as-of, and /metrics shows the store's connection pool; when the
 * server drops its connections it says so once and goes on; a reading command then answers from the same
 * database. The password (in the URL) never reaches its logs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { freePort } from "../support/net.js"
import { pgServer, pgTestDatabases } from "../support/pg.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { waitFor, waitForReady } from "../support/wait.js"
import { CLI_BUDGET_MS, skygge } from "./skygge.js"

const databases = pgTestDatabases()
const dir = mkdtempSync(join(tmpdir(), "skygge-run-pg-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const secret = "Run-Pw-Never-Shown-5d1e"

/** What a server restart does to the database's clients: every connection to it ended. */
const terminateConnections = async (url: URL) => {
  const admin = new pg.Client({ connectionString: `${pgServer}/postgres` })
  await admin.connect()
  try {
    const ended = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [url.pathname.slice(1)])
    expect(ended.rowCount).toBeGreaterThanOrEqual(1)
  } finally {
    await admin.end()
  }
}

describe("skygge run on PostgreSQL", () => {
  it("migrates at start, stores a registration and answers it as-of; /ready and /metrics with the pool", async () => {
    const url = new URL(await databases.create())
    url.password = secret
    const port = await freePort()
    const file = join(dir, "skygge.json")
    writeFileSync(file, JSON.stringify({ store: { url: url.toString(), poolSize: 3 }, api: { port }, activations: { enabled: false } }))
    const stderr: Array<string> = []
    const child = startSkygge(file, { stderr })
    try {
      await waitForReady(port, 90_000)
      const base = `http://127.0.0.1:${port}`
      const operation = {
        op: "assert", objectType: "vej", objectId: "pg-1", registreringstid: "2017-01-04T00:00:00Z",
        virkningFra: "2017-02-01T00:00:00Z", virkningTil: null, data: { navn: "Åbakke" }, eventId: "e-pg-1"
      }
      const posted = await fetch(`${base}/v1/registrations`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: JSON.stringify(operation) + "\n" })
      expect(posted.status, await posted.clone().text()).toBe(200)
      const asOf = await fetch(`${base}/v1/objects/vej/pg-1?registreringstid=2017-01-05T00:00:00Z&virkningstid=2017-03-01T00:00:00Z`)
      expect(asOf.status).toBe(200)
      expect(await asOf.json()).toMatchObject({ objectType: "vej", objectId: "pg-1", data: { navn: "Åbakke" } })
      // Before it was registered: nothing in force.
      expect((await fetch(`${base}/v1/objects/vej/pg-1?registreringstid=2017-01-03T00:00:00Z&virkningstid=2017-03-01T00:00:00Z`)).status).toBe(404)
      expect(await (await fetch(`${base}/ready`)).json()).toEqual({ status: "ready" })
      const metrics = await (await fetch(`${base}/metrics`)).text()
      expect(metrics).toMatch(/^skygge_rows 1$/m)
      const inUse = Number(/^skygge_store_pool_connections\{state="in_use"\} (\d+)$/m.exec(metrics)?.[1])
      const idle = Number(/^skygge_store_pool_connections\{state="idle"\} (\d+)$/m.exec(metrics)?.[1])
      expect(inUse + idle, metrics).toBeGreaterThanOrEqual(1)
      expect(inUse + idle).toBeLessThanOrEqual(3)
      expect(metrics).toMatch(/^skygge_store_pool_waiting \d+$/m)

      // The server drops every connection (a restart, a failover): one warning for the episode, and the next request reconnects.
      await terminateConnections(url)
      await waitFor("the lost connections to be logged", () => stderr.join("").includes("idle connection lost"))
      expect((await fetch(`${base}/v1/objects/vej/pg-1?registreringstid=2017-01-05T00:00:00Z&virkningstid=2017-03-01T00:00:00Z`)).status).toBe(200)
      expect(stderr.join("").match(/idle connection lost/g), stderr.join("")).toHaveLength(1)
    } finally {
      await killIfRunning(child)
    }
    expect(stderr.join("")).not.toContain(secret)

    // A reading command on the same store: opened without migrating, the row as-of.
    const get = await skygge(["get", "vej", "pg-1", "--registreringstid", "2017-01-05", "--virkningstid", "2017-03-01", "--json", "--config", file])
    expect({ code: get.code, stderr: get.stderr }).toEqual({ code: 0, stderr: "" })
    expect(JSON.parse(get.stdout)).toMatchObject({ objectId: "pg-1", data: { navn: "Åbakke" } })
  }, CLI_BUDGET_MS)
})
