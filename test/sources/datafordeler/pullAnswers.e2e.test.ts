/**
 * What PULL pages answer, through the real `skygge run`.
 *
 * A PULL page the service (or a gateway in front of it) answers with `200` but
 * not with a whole JSON array — cut off half-way yet ended cleanly at the HTTP
 * level, or a maintenance page — is no page: read as a short one, it would end
 * the window and move the cursor past every event it did not hold (lost: the
 * next window overlaps only `overlapSeconds` of it). The real `skygge run`
 * against the register simulator, through a proxy that spoils the first PULL
 * answer; once the cursor has passed every change, the shadow must hold them all.
 *
 * An envelope that cannot be read is refused — once: windows overlap (and a
 * parked one is read again), and each used to record it again.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createServer, type Server } from "node:http"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { type DafSimulator, startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { freePort } from "../../support/net.js"

const bin = fileURLToPath(new URL("../../../bin/skygge.js", import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A proxy to the simulator whose PULL answers are `spoil(body, n)` instead (n: answers before it), sent whole with `200`. */
const spoilingProxy = async (target: string, spoil: (body: string, n: number) => string): Promise<{ url: string; answers: () => number; server: Server }> => {
  let spoiled = 0
  const server = createServer((req, res) => {
    void (async () => {
      const upstream = await fetch(`${target}${req.url ?? "/"}`, { headers: { accept: req.headers.accept ?? "*/*" } })
      const body = await upstream.text()
      const isPull = (req.url ?? "").startsWith("/system/EventMessages/")
      const out = isPull && upstream.status === 200 ? spoil(body, spoiled++) : body
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" })
      res.end(out)
    })().catch(() => res.destroy())
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, answers: () => spoiled, server }
}

describe("Datafordeler PULL answers through skygge run", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c()
    cleanups.length = 0
  })

  /** The first PULL answer spoiled by `spoil` (the others too, with `every`). */
  const run = async (spoil: (body: string) => string, format: "json" | "xml" = "json", options: { readonly every?: boolean; readonly overlapSeconds?: number } = {}) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-cut-"))
    const sim: DafSimulator = await startDafSimulator({ seed: 73 })
    const proxy = await spoilingProxy(sim.baseUrl, (body, n) => (n === 0 || options.every === true ? spoil(body) : body))
    const port = await freePort()
    const configFile = join(dir, "skygge.json")
    const startAt = new Date(Date.now() - 10 * 60_000).toISOString()
    writeFileSync(
      configFile,
      JSON.stringify({
        store: { url: `sqlite:${join(dir, "skygge.db")}`, synchronous: "NORMAL" },
        api: { host: "127.0.0.1", port },
        log: { level: "Warn" },
        sources: [{
          kind: "datafordeler",
          name: "dar",
          pull: { url: proxy.url, format, startAt, lagSeconds: 0.2, overlapSeconds: options.overlapSeconds ?? 1, pollSeconds: 0.5, maxAttempts: 3, maxBackoffSeconds: 0.2 },
          entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
        }]
      })
    )
    // The subscription's events, all before the first start: the first window holds them in one page.
    sim.randomChanges(40)
    const after = Date.now() + 1
    const child: ChildProcess = spawn(process.execPath, [bin, "run", "--config", configFile], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", (d) => (stderr += String(d)))
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        await once(child, "exit")
      }
      await new Promise((r) => proxy.server.close(r))
      await sim.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const api = `http://127.0.0.1:${port}`
    // The cursor moves in the transaction of the window's last rows: once past every change, all must be there.
    const deadline = Date.now() + 30_000
    for (;;) {
      const res = await fetch(`${api}/v1/sources`).catch(() => undefined)
      const body = res?.status === 200 ? ((await res.json()) as { cursors: Array<{ source: string; cursor: string }> }) : undefined
      const cursor = body?.cursors.find((c) => c.source === "dar")?.cursor
      if (cursor !== undefined && Date.parse(cursor) > after) break
      if (Date.now() > deadline) throw new Error(`the PULL cursor never passed the changes\n${stderr}`)
      await sleep(100)
    }
    expect(proxy.answers()).toBeGreaterThan(0)
    const missing: Array<string> = []
    for (const id of sim.ids()) {
      const res = await fetch(`${api}/v1/objects/dar.adresse/${id}/history`)
      const rows = res.status === 200 ? ((await res.json()) as { rows: Array<unknown> }).rows : []
      if (rows.length !== sim.rows(id).length) missing.push(`${id}: register ${sim.rows(id).length} rows, shadow ${rows.length}`)
    }
    return { missing, stderr: () => stderr, api, pulls: proxy.answers }
  }

  it("a page cut off half-way (the HTTP answer itself complete) is asked again, not taken as the window's last", async () => {
    // Cut just after the first envelope: the objects of every later one are named nowhere else.
    const { missing, stderr } = await run((body) => body.slice(0, body.indexOf('},{"Id"') + 1))
    expect(missing, stderr()).toEqual([])
  }, 60_000)

  it("a 200 that is not a JSON array (a gateway's maintenance page, an error object) is asked again, not taken as an empty window", async () => {
    const html = await run(() => "<html><body>Down for maintenance</body></html>")
    expect(html.missing, html.stderr()).toEqual([])
  }, 60_000)

  it("a 200 with a JSON object instead of the array of envelopes is asked again, not taken as an empty window", async () => {
    const object = await run(() => JSON.stringify({ message: "try later" }))
    expect(object.missing, object.stderr()).toEqual([])
  }, 60_000)

  it("an XML page cut off half-way is asked again, not taken as the window's last", async () => {
    const { missing, stderr } = await run((body) => body.slice(0, body.indexOf("</Envelope>") + "</Envelope>".length), "xml")
    expect(missing, stderr()).toEqual([])
  }, 60_000)

  it("a 200 with an empty body is asked again, not taken as an empty window", async () => {
    const empty = await run(() => "")
    expect(empty.missing, empty.stderr()).toEqual([])
  }, 60_000)

  it("an envelope refused is recorded once, not again in every window that overlaps it", async () => {
    // One envelope without its beskedtype, in every answer; every window reads it again (the overlap reaches back past all).
    const spoil = (body: string) => {
      const page = JSON.parse(body) as Array<{ Message: { Grunddatabesked: { Hændelsesbesked: { Beskedkuvert: { Filtreringsdata: Record<string, unknown> } } } } }>
      if (page.length > 0) delete page[0]!.Message.Grunddatabesked.Hændelsesbesked.Beskedkuvert.Filtreringsdata.beskedtype
      return JSON.stringify(page)
    }
    const { stderr, api, pulls } = await run(spoil, "json", { every: true, overlapSeconds: 3600 })
    // Five windows more (counted, not timed).
    const seen = pulls()
    const deadline = Date.now() + 30_000
    while (pulls() < seen + 5 && Date.now() < deadline) await sleep(50)
    expect(pulls(), stderr()).toBeGreaterThanOrEqual(seen + 5)
    const body = (await (await fetch(`${api}/v1/refused?limit=1000`)).json()) as { refused: Array<{ reason: string }> }
    expect(body.refused.map((r) => r.reason).filter((r) => /no Filtreringsdata\.beskedtype/.test(r))).toHaveLength(1)
  }, 60_000)
})
