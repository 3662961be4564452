/**
 * Two engines on one PostgreSQL, through the real door: two `skygge run --config FILE` processes (one
 * file, their ports and member names from the environment) with one outbox webhook, written to through
 * both APIs. An activation due
 * while both run fires once; every outbox record reaches the webhook exactly once while both run (one
 * publisher in the cluster, not two); SIGKILL of the process holding `activations`, and an activation
 * that falls due afterwards fires once, on the other, whose takeover time is printed; after dedup by id
 * every record was published, in order per object.
 */
import { createServer } from "node:http"
import { once } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { expect, it, onTestFailed } from "vitest"
import { applicationName } from "../../src/cluster/Leadership.js"
import { singletonLockOn } from "../../src/store/pg/AdvisoryLocks.js"
import { useCleanups } from "../support/cleanups.js"
import { freePort } from "../support/net.js"
import { pgTestDatabases } from "../support/pg.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { sleep, waitFor, waitForReady } from "../support/wait.js"
import { CLI_BUDGET_MS } from "./skygge.js"

const cleanups = useCleanups()
const TOKEN = "cluster-test-token"
const databases = pgTestDatabases()

interface Received {
  readonly id: string
  readonly objectId: string
  readonly type: string
  readonly seq: number
}

it("two engines on one database: activations fire once, before and after the scheduler's holder is killed; the outbox is published once, in order", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-cluster-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const url = await databases.create()

  // The webhook: every POST kept, in arrival order.
  const received: Array<Received> = []
  const hook = createServer((req, res) => {
    let body = ""
    req.on("data", (d: Buffer) => (body += d.toString()))
    req.on("end", () => {
      const event = JSON.parse(body) as { id: string; objectid: string; type: string; sequence: string }
      received.push({ id: event.id, objectId: event.objectid, type: event.type, seq: Number(event.sequence) })
      res.writeHead(204).end()
    })
  })
  hook.listen(0, "127.0.0.1")
  await once(hook, "listening")
  cleanups.push(() => new Promise<void>((r) => hook.close(() => r())))
  const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`

  const configFile = join(dir, "skygge.json")
  writeFileSync(configFile, JSON.stringify({
    store: { url, poolSize: 3 },
    api: { host: "127.0.0.1", writeTokens: [TOKEN] },
    log: { level: "Info" },
    cluster: { lockCheckSeconds: 0.5, lockTimeoutSeconds: 1, acquireSeconds: 0.3 },
    activations: { pollSeconds: 2, lateAfterSeconds: 30 },
    outbox: { webhookUrls: [hookUrl] }
  }))
  const ports = [await freePort(), await freePort()]
  const names = ["one", "two"]
  const logs: Array<Array<string>> = [[], []]
  const engines = [0, 1].map((i) => startSkygge(configFile, { env: { SKYGGE_API_PORT: String(ports[i]), SKYGGE_CLUSTER_MEMBER_NAME: names[i]! }, stderr: logs[i]! }))
  for (const e of engines) cleanups.push(() => killIfRunning(e))
  onTestFailed(() => logs.forEach((l, i) => console.log(`--- skygge run ${names[i]}:\n${l.join("")}`)))
  await Promise.all(ports.map((p) => waitForReady(p)))

  const db = new pg.Client({ connectionString: url })
  await db.connect()
  cleanups.push(() => db.end())
  /**
   * The member name holding a singleton (from the lock connection's application_name), or null. In this
   * test's database only: another test's engines hold locks of the same names in theirs (pg_locks lists
   * every database's), and were read here as the holder (CI: "waiting for the survivor" timed out).
   */
  const holderOf = async (singleton: string): Promise<string | null> => {
    const row = (await db.query<{ app: string }>(
      `SELECT a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE ${singletonLockOn("$1")}`,
      [singleton]
    )).rows[0]
    return row === undefined ? null : names.find((n) => row.app.startsWith(applicationName(`${n}/`))) ?? row.app
  }
  /** Operations written through an engine's API (the survivor's, once one is killed). */
  const register = async (port: number, ops: ReadonlyArray<Record<string, unknown>>) => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/registrations`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(ops)
    })
    expect(res.status, await res.text()).toBe(200)
  }
  const op = (objectId: string, eventId: string, virkningFra: string | null, data: Record<string, unknown>) =>
    ({ op: "assert", objectType: "person", objectId, registreringstid: new Date().toISOString(), virkningFra, virkningTil: null, data, eventId })
  const activation = async (objectId: string) =>
    (await db.query<{ status: string; n: string }>("SELECT status, count(*) OVER () AS n FROM activations WHERE object_id = $1", [objectId])).rows
  const outboxIds = async () => (await db.query<{ id: string; object_id: string; seq: string }>("SELECT id, object_id, seq FROM outbox ORDER BY seq")).rows

  // Each singleton held by one of the two.
  await waitFor("activations and the publisher to be held", async () => (await holderOf("activations")) !== null && (await holderOf(`outbox:webhook:${new URL(hookUrl).origin}/hook`)) !== null, 10_000)

  // 1. While both run: changes of several objects, and an activation due in a few seconds.
  const soon = new Date(Date.now() + 3000).toISOString()
  await register(ports[0]!, [op("p1", "e1", soon, { v: 1 }), op("q1", "e2", null, { v: 1 }), op("q2", "e3", null, { v: 1 })])
  await register(ports[1]!, [op("q1", "e4", null, { v: 2 }), op("q2", "e5", null, { v: 2 })])
  const diagnose = async (e: unknown) => {
    console.log(JSON.stringify((await db.query("SELECT pid, application_name, state, wait_event_type, wait_event, left(query, 150) AS q FROM pg_stat_activity WHERE datname = current_database()")).rows))
    console.log(JSON.stringify((await db.query("SELECT id, object_id, at, status, now() FROM activations")).rows))
    throw e
  }
  await waitFor("p1's activation to fire", async () => (await activation("p1"))[0]?.status === "fired", 15_000).catch(diagnose)
  const all1 = await outboxIds()
  await waitFor("the webhook to receive every record", () => new Set(received.map((r) => r.id)).size >= all1.length, 10_000)
  await sleep(1000) // a second publisher, were there one, would have sent them again by now
  expect(await activation("p1")).toEqual([{ status: "fired", n: "1" }])
  expect(all1.filter((r) => r.object_id === "p1")).toHaveLength(2) // created, validity-started: once
  expect(received.map((r) => r.id).sort()).toEqual(all1.map((r) => r.id).sort()) // each exactly once: one publisher in the cluster

  // 2. SIGKILL the scheduler's holder; an activation falling due after the kill fires once, on the other.
  const holder = await holderOf("activations")
  const killed = names.indexOf(holder!)
  expect(killed).toBeGreaterThanOrEqual(0)
  const survivor = names[1 - killed]!
  const later = new Date(Date.now() + 2500).toISOString()
  await register(ports[1 - killed]!, [op("p2", "e6", later, { v: 1 }), op("q1", "e7", null, { v: 3 })])
  const killedAt = Date.now()
  engines[killed]!.kill("SIGKILL")
  await once(engines[killed]!, "exit")
  await waitFor("the survivor to hold activations", async () => (await holderOf("activations")) === survivor, 10_000)
  const takeoverMs = Date.now() - killedAt
  console.log(`cluster: SIGKILL of ${holder} (holding activations) → ${survivor} holds it after ${takeoverMs} ms (cluster.acquireSeconds 0.3)`)
  expect(takeoverMs).toBeLessThan(5000)
  await waitFor("p2's activation to fire", async () => (await activation("p2"))[0]?.status === "fired", 15_000).catch(diagnose)
  expect(await activation("p2")).toEqual([{ status: "fired", n: "1" }])
  expect((await outboxIds()).filter((r) => r.object_id === "p2")).toHaveLength(2)
  // Fired by the survivor (the only engine left), which leads what the dead one held.
  expect(await holderOf(`outbox:webhook:${new URL(hookUrl).origin}/hook`)).toBe(survivor)

  // 3. Every record published (after dedup by id), in order per object.
  const all = await outboxIds()
  await waitFor("the webhook to receive every record", () => new Set(received.map((r) => r.id)).size >= all.length, 10_000)
  const firstSeen = [...new Map(received.map((r) => [r.id, r] as const)).values()]
  expect(firstSeen.map((r) => r.id).sort()).toEqual(all.map((r) => r.id).sort())
  for (const objectId of new Set(all.map((r) => r.object_id))) {
    expect(firstSeen.filter((r) => r.objectId === objectId).map((r) => r.id), objectId).toEqual(all.filter((r) => r.object_id === objectId).map((r) => r.id))
  }
  const duplicates = received.length - firstSeen.length
  console.log(`cluster: ${all.length} outbox records, ${received.length} deliveries (${duplicates} redelivered after the kill, deduplicated by id)`)
}, CLI_BUDGET_MS)
