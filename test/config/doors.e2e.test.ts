/**
 * List-valued settings through the doors a user walks through: a real `skygge run --config FILE`, and one
 * configured by the environment alone, checked from outside — tokens enforced over HTTP, webhooks signed
 * and received by a real HTTP receiver. (Lists were once read as empty from both: the API ran open with
 * tokens configured, and no webhook was ever delivered.)
 */
import type { ChildProcess } from "node:child_process"
import { createHmac } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { waitFor, waitForReady } from "../support/wait.js"

const READ = "read-token-Ø1"
const WRITE = "write-token-Å2"
const SECRET = "webhook-secret-æ3"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-doors-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const run = async (configFile: string | undefined, port: number, env: NodeJS.ProcessEnv = {}): Promise<Array<string>> => {
  const stderr: Array<string> = []
  const child: ChildProcess = startSkygge(configFile, { env, stderr })
  cleanups.push(() => killIfRunning(child))
  await waitForReady(port)
  return stderr
}

/** A webhook receiver on loopback, keeping each request's body and headers. */
const receiver = async () => {
  const received: Array<{ body: string; signature: string | undefined }> = []
  const server: Server = createServer((req, res) => {
    let body = ""
    req.on("data", (d) => (body += String(d)))
    req.on("end", () => {
      received.push({ body, signature: req.headers["x-skygge-signature"] as string | undefined })
      res.writeHead(204).end()
    })
  })
  const port = await freePort()
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r))
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${port}/hook`, received }
}

const operation = (id: string) =>
  JSON.stringify({
    op: "assert",
    objectType: "vej",
    objectId: id,
    registreringstid: "2017-01-04T00:00:00Z",
    virkningFra: "2017-02-01T00:00:00Z",
    virkningTil: null,
    data: { navn: "Åbakke" },
    eventId: `e-${id}`
  })

const post = (base: string, token: string | undefined, id: string) =>
  fetch(`${base}/v1/registrations`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: operation(id) + "\n"
  })

const get = (base: string, path: string, token: string | undefined) =>
  fetch(`${base}${path}`, token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {})

/** What a user with tokens configured must see: nothing readable or writable without the right token. */
const expectTokensEnforced = async (base: string) => {
  for (const path of ["/v1/objects/vej/yyyy/history", "/v1/refused", "/v1/changes?since=2000-01-01", "/v1/sources", "/v1/anomalies"]) {
    expect((await get(base, path, undefined)).status, `${path} without a token`).toBe(401)
    expect((await get(base, path, "wrong")).status, `${path} with a wrong token`).toBe(401)
  }
  expect((await post(base, undefined, "a")).status).toBe(401)
  expect((await post(base, "wrong", "a")).status).toBe(401)
  const forbidden = await post(base, READ, "a")
  expect(forbidden.status).toBe(403)
  expect(((await forbidden.json()) as { message: string }).message).toMatch(/read scope only/)
  // Nothing of the refused writes was applied; the right tokens work.
  expect((await get(base, "/v1/objects/vej/a/history", READ)).status).toBe(404)
  expect((await post(base, WRITE, "a")).status).toBe(200)
  expect(((await (await get(base, "/v1/objects/vej/a/history", READ)).json()) as { rows: Array<unknown> }).rows).toHaveLength(1)
  expect((await get(base, "/v1/objects/vej/a/history", WRITE)).status).toBe(200)
  // Liveness, readiness and metrics hold no register data and stay open.
  for (const path of ["/health", "/ready", "/metrics"]) expect((await get(base, path, undefined)).status, path).toBe(200)
}

const expectSignedDelivery = async (hook: Awaited<ReturnType<typeof receiver>>, objectId: string) => {
  await waitFor("a webhook delivery", () => hook.received.some((r) => r.body.includes(`"${objectId}"`)))
  const delivery = hook.received.find((r) => r.body.includes(`"${objectId}"`))!
  expect(delivery.signature).toBe(`sha256=${createHmac("sha256", SECRET).update(delivery.body).digest("hex")}`)
  expect(JSON.parse(delivery.body)).toMatchObject({ type: "skygge.vej.created", subject: `vej/${objectId}` })
}

describe("list-valued settings through skygge run", () => {
  it("enforces tokens and delivers signed webhooks configured in a file", async () => {
    const dir = tempDir()
    const port = await freePort()
    const hook = await receiver()
    const file = join(dir, "skygge.json")
    writeFileSync(
      file,
      JSON.stringify({
        store: { url: `sqlite:${join(dir, "skygge.db")}` },
        api: { port, readTokens: [READ], writeTokens: [WRITE] },
        outbox: { webhookUrls: [hook.url], webhookSecret: SECRET }
      })
    )
    const stderr = await run(file, port)
    await expectTokensEnforced(`http://127.0.0.1:${port}`)
    await expectSignedDelivery(hook, "a")
    // Secrets never reach the log.
    const log = stderr.join("")
    for (const secret of [READ, WRITE, SECRET]) expect(log).not.toContain(secret)
  })

  it("enforces tokens and delivers signed webhooks configured by the environment alone", async () => {
    const dir = tempDir()
    const port = await freePort()
    const hook = await receiver()
    const other = await receiver()
    await run(undefined, port, {
      SKYGGE_CONFIG: "",
      SKYGGE_STORE_URL: `sqlite:${join(dir, "skygge.db")}`,
      SKYGGE_API_PORT: String(port),
      SKYGGE_API_READ_TOKENS: `${READ}, sha256:${"0".repeat(64)}`,
      SKYGGE_API_WRITE_TOKENS: WRITE,
      SKYGGE_OUTBOX_WEBHOOK_URLS: `${hook.url},${other.url}`,
      SKYGGE_OUTBOX_WEBHOOK_SECRET: SECRET
    })
    await expectTokensEnforced(`http://127.0.0.1:${port}`)
    await expectSignedDelivery(hook, "a")
    await expectSignedDelivery(other, "a")
  })
})
