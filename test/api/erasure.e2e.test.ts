/**
 * Erasure over HTTP on a running `skygge run --config FILE` (issue 18), on both backends: the erase scope
 * (a write or read token is 403, an erase token erases and does nothing else), the erasure log on the read
 * scope without the id, 410 for the erased object, a later registration refused unless `allowNew`, and a
 * webhook receiver on loopback that gets the `erased` notification and none of the object's notifications
 * that were still undelivered when it was erased.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { TEST_BACKENDS, testStores } from "../support/testStores.js"
import { waitFor, waitForReady } from "../support/wait.js"

const READ = "read-token-erasure-1"
const WRITE = "write-token-erasure-2"
const ERASE = "erase-token-erasure-3"
const VALUE = "Zygomorphic-Kestrel-9090"
const PERSON = "24047912345"
const stores = testStores()

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A webhook receiver that refuses (503) until told to accept; it keeps the bodies it accepted. */
const receiver = async () => {
  const state = { accepting: false, attempts: 0, accepted: [] as Array<{ type: string; objectid: string }> }
  const server: Server = createServer((req, res) => {
    let body = ""
    req.on("data", (d) => (body += String(d)))
    req.on("end", () => {
      state.attempts++
      if (!state.accepting) return void res.writeHead(503).end()
      const parsed = JSON.parse(body) as unknown
      for (const e of Array.isArray(parsed) ? parsed : [parsed]) state.accepted.push(e as { type: string; objectid: string })
      res.writeHead(204).end()
    })
  })
  const port = await freePort()
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r))
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${port}/hook`, state }
}

const operation = (id: string, eventId: string, name: string) =>
  JSON.stringify({ op: "assert", objectType: "person", objectId: id, registreringstid: new Date().toISOString(), virkningFra: null, virkningTil: null, data: { name }, eventId })

describe.each(TEST_BACKENDS)("erasure over HTTP on skygge run (%s)", (backend) => {
  it("needs the erase scope, logs without the id, answers 410, refuses the object later unless allowNew, and tells subscribers instead of delivering", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-erasure-http-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const store = await stores(backend, dir)
    const port = await freePort()
    const hook = await receiver()
    const file = join(dir, "skygge.json")
    writeFileSync(file, JSON.stringify({
      store: store.config,
      api: { port, readTokens: [READ], writeTokens: [WRITE], eraseTokens: [ERASE] },
      outbox: { webhookUrls: [hook.url], maxBackoffSeconds: 1, prefix: "test" }
    }))
    const stderr: Array<string> = []
    const child = startSkygge(file, { stderr })
    cleanups.push(() => killIfRunning(child))
    await waitForReady(port)
    const base = `http://127.0.0.1:${port}`
    const call = (method: string, path: string, token: string | undefined, body?: string, contentType = "application/json") =>
      fetch(`${base}${path}`, {
        method,
        headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": contentType } : {}) },
        ...(body !== undefined ? { body } : {})
      })
    const register = (lines: ReadonlyArray<string>) => call("POST", "/v1/registrations", WRITE, lines.join("\n") + "\n", "application/x-ndjson")

    expect((await register([operation(PERSON, "e1", `${VALUE} 1`), operation(PERSON, "e2", `${VALUE} 2`), operation("bystander", "b1", "Bystander")])).status).toBe(200)
    // The subscriber is down: the notifications wait in the outbox.
    await waitFor("a refused delivery", () => hook.state.attempts > 0).catch((e: unknown) => {
      throw new Error(`${String(e)}; the engine said: ${stderr.join("").split("\n").filter((l) => /level=(WARN|ERROR)/.test(l)).slice(-15).join("\n")}`)
    })

    const erase = (token: string | undefined, objectId: string, extra: Record<string, unknown> = {}) =>
      call("POST", "/v1/erasures", token, JSON.stringify({ objectType: "person", objectId, reason: "DPO case 21", ...extra }))
    expect((await erase(undefined, PERSON)).status).toBe(401)
    expect((await erase(WRITE, PERSON)).status).toBe(403)
    expect((await erase(READ, PERSON)).status).toBe(403)
    expect((await call("POST", "/v1/erasures", ERASE, JSON.stringify({ objectType: "person", objectId: PERSON, reason: "" }))).status).toBe(400)
    // An erase token neither reads nor writes.
    expect((await call("GET", "/v1/erasures", ERASE)).status).toBe(403)
    expect((await call("POST", "/v1/registrations", ERASE, operation("x", "x1", "x"), "application/x-ndjson")).status).toBe(403)
    const erased = await erase(ERASE, PERSON)
    expect(erased.status).toBe(201)
    const record = (await erased.json()) as { id: number; erasedBy: string; touched: Record<string, number> }
    expect(record).toMatchObject({ id: 1, touched: { rows: 2, events: 2, outbox: 2 } })
    expect(record.erasedBy).toMatch(/^token sha256:[0-9a-f]{12}$/)

    // Every question about it, as of any time, says it was erased.
    const point = await call("GET", `/v1/objects/person/${PERSON}?registreringstid=2000-01-01`, READ)
    expect(point.status).toBe(410)
    expect(await point.json()).toMatchObject({ _tag: "Erased", erasure: 1 })
    expect((await call("GET", `/v1/objects/person/${PERSON}/history`, READ)).status).toBe(410)
    expect(await (await call("GET", "/v1/objects/person?format=ndjson", READ)).text()).not.toContain(VALUE)
    expect(await (await call("GET", "/v1/changes?since=2000-01-01", READ)).text()).not.toContain(VALUE)

    // The log, on the read scope, names nobody.
    const log = await call("GET", "/v1/erasures", READ)
    expect(log.status).toBe(200)
    const logText = await log.text()
    expect(JSON.parse(logText)).toMatchObject({ erasures: [{ id: 1, reason: "DPO case 21", objectType: "person", allowNew: false }] })
    expect(logText).not.toContain(PERSON)

    // A later registration is refused, saying why; with allowNew (another object) one is accepted.
    const again = await register([operation(PERSON, "e3", `${VALUE} 3`)])
    expect(again.status).toBe(422)
    expect(JSON.stringify(await again.json())).toMatch(/object erased \(erasure 1/)
    expect(await (await call("GET", "/v1/refused", READ)).text()).not.toContain(VALUE)
    expect((await register([operation("renewed", "r1", "Renewed 1")])).status).toBe(200)
    expect((await erase(ERASE, "renewed", { allowNew: true })).status).toBe(201)
    expect((await register([operation("renewed", "r2", "Renewed 2")])).status).toBe(200)

    // The subscriber comes back: it is told of the erasures, never of the erased object's changes.
    hook.state.accepting = true
    await waitFor("the erased notifications", () => hook.state.accepted.filter((e) => e.type === "test.person.erased").length === 2, 30_000)
    await waitFor("the bystander's and the renewed object's", () => hook.state.accepted.some((e) => e.objectid === "renewed" && e.type === "test.person.created"), 30_000)
    const about = hook.state.accepted.filter((e) => e.objectid === PERSON).map((e) => e.type)
    expect(about).toEqual(["test.person.erased"])
    expect(hook.state.accepted.some((e) => e.objectid === "bystander" && e.type === "test.person.created")).toBe(true)
    // Neither the id nor the data reached the log.
    const logged = stderr.join("")
    expect(logged).not.toContain(PERSON)
    expect(logged).not.toContain(VALUE)
  }, 180_000)
})
