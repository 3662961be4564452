/**
 * `/ready` is what a load balancer asks: it follows the store (one trivial statement, cheap however large the
 * store) — 503 naming Store.ping while PostgreSQL cannot be reached, 200 again once it can — and `/health`
 * stays 200 throughout (the process is alive; restarting it would not help). Through the real `skygge run`
 * on PostgreSQL behind a loopback proxy that the test can close to new and existing connections.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, connect as tcpConnect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, expect, it } from "vitest"
import { freePort } from "../support/net.js"
import { pgTestDatabases } from "../support/pg.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { waitFor, waitForReady } from "../support/wait.js"

const databases = pgTestDatabases()
const dir = mkdtempSync(join(tmpdir(), "skygge-ready-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A TCP proxy to PostgreSQL that, while `open` is false, drops every connection (new ones at once). */
const gate = async (target: URL) => {
  const sockets = new Set<Socket>()
  let open = true
  const server = createServer((client) => {
    if (!open) return void client.destroy()
    const upstream = tcpConnect(Number(target.port), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("error", () => undefined).on("close", () => {
        client.destroy()
        upstream.destroy()
        sockets.delete(s)
      })
    }
    client.pipe(upstream).pipe(client)
  })
  const port = await freePort()
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r))
  return {
    port,
    shut: () => {
      open = false
      for (const s of sockets) s.destroy()
    },
    reopen: () => void (open = true),
    close: () => new Promise<void>((r) => server.close(() => r()))
  }
}

it("/ready answers 503 naming Store.ping while PostgreSQL is unreachable and 200 once it is back; /health stays 200", async () => {
  const url = new URL(await databases.create())
  const proxy = await gate(url)
  const port = await freePort()
  const file = join(dir, "skygge.json")
  writeFileSync(file, JSON.stringify({ store: { url: `postgres://${url.username}@127.0.0.1:${proxy.port}${url.pathname}`, poolSize: 2 }, api: { port }, log: { level: "Error" } }))
  const child = startSkygge(file)
  try {
    await waitForReady(port, 60_000)
    const base = `http://127.0.0.1:${port}`
    expect(await (await fetch(`${base}/ready`)).json()).toEqual({ status: "ready" })
    proxy.shut()
    let answer: { status: number; body: string } | undefined
    await waitFor("/ready to answer 503", async () => {
      const res = await fetch(`${base}/ready`)
      answer = { status: res.status, body: await res.text() }
      return res.status === 503
    })
    expect(JSON.parse(answer!.body)).toMatchObject({ _tag: "StoreUnavailable", operation: "Store.ping" })
    expect((await fetch(`${base}/health`)).status).toBe(200)
    proxy.reopen()
    await waitForReady(port, 20_000)
  } finally {
    await killIfRunning(child)
    await proxy.close()
  }
}, 90_000)
