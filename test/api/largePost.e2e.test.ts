/**
 * A large POST /v1/registrations is applied batch by batch, and the engine keeps answering its other
 * requests between the batches (a load balancer's /health, queries, and what it does on its own:
 * heartbeats, the broker's connection). Through a real `skygge run` with a configuration file: a poller
 * sees the body's first object stored while its last is not yet, and none of its requests fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { waitForReady } from "../support/wait.js"
import type { ChildProcess } from "node:child_process"

const OPERATIONS = 12_000
const operation = (objectType: string, i: number) => ({
  op: "assert", objectType, objectId: `o-${i}`, registreringstid: "2024-01-01T00:00:00Z", virkningFra: "2024-01-01T00:00:00Z", virkningTil: null,
  data: { navn: `Vej ${i}`, husnr: String(i % 300) }, eventId: `${objectType}-${i}`
})

describe("a large POST through skygge run", () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-large-post-"))
  let child: ChildProcess | undefined
  let base = ""
  beforeAll(async () => {
    const port = await freePort()
    const file = join(dir, "skygge.json")
    // Small batches, so that a body of a few thousand operations is many of them.
    writeFileSync(file, JSON.stringify({ store: { url: `sqlite:${join(dir, "skygge.db")}` }, api: { port }, ingest: { batchSize: 500 }, log: { level: "Error" } }))
    child = startSkygge(file)
    await waitForReady(port, 60_000)
    base = `http://127.0.0.1:${port}`
  })
  afterAll(async () => {
    await killIfRunning(child)
    rmSync(dir, { recursive: true, force: true })
  })

  const postWhilePolling = async (objectType: string, contentType: string, body: string) => {
    let posted = false
    let midway = false
    let failures = 0
    const status = async (i: number) => {
      try {
        const res = await fetch(`${base}/v1/objects/${objectType}/o-${i}`)
        await res.arrayBuffer()
        return res.status
      } catch {
        failures++
        return 0
      }
    }
    const poller = (async () => {
      while (!posted) {
        // The first object before the last: the store only moves forward between the two answers.
        if ((await status(0)) === 200 && (await status(OPERATIONS - 1)) === 404 && !posted) midway = true
      }
    })()
    const res = await fetch(`${base}/v1/registrations`, { method: "POST", headers: { "content-type": contentType }, body })
    const summary = (await res.json()) as { applied: number }
    posted = true
    await poller
    return { status: res.status, applied: summary.applied, midway, failures }
  }

  it("a JSON array: answers between its batches, and applies all of it", async () => {
    const body = JSON.stringify(Array.from({ length: OPERATIONS }, (_, i) => operation("json", i)))
    expect(await postWhilePolling("json", "application/json", body)).toEqual({ status: 200, applied: OPERATIONS, midway: true, failures: 0 })
  })

  it("NDJSON: answers between its batches, and applies all of it", async () => {
    const body = Array.from({ length: OPERATIONS }, (_, i) => JSON.stringify(operation("ndjson", i))).join("\n") + "\n"
    expect(await postWhilePolling("ndjson", "application/x-ndjson", body)).toEqual({ status: 200, applied: OPERATIONS, midway: true, failures: 0 })
  })
})
