/**
 * GraphQL events the decoder refuses (an `eventaction` that is not i, u or d)
 * are recorded once and passed: the cursor moves past them like past any read
 * event. Read as if they were not there, a page made only of them ended the
 * round where it began — the cursor never moved again (every event after them
 * unread until the service forgot them) and each round recorded them again —
 * and one at the end of the feed was recorded again every poll. The real
 * `skygge run` against the register simulator, through a proxy that spoils
 * chosen events.
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

/** A proxy to the simulator's GraphQL whose events in `bad` say `eventaction: "x"`; counts the requests (each poll asks at least once). */
const spoilingProxy = async (sim: DafSimulator, bad: ReadonlySet<number>): Promise<{ url: string; requests: () => number; server: Server }> => {
  let requests = 0
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString("utf8")
        requests++
        const upstream = await fetch(sim.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body })
        const answer = (await upstream.json()) as { data?: Record<string, { nodes?: Array<{ eventid: number; eventaction: string }> }> }
        const events = answer.data?.[`${sim.register}_Events`]
        if (events?.nodes !== undefined) {
          for (const n of events.nodes) if (bad.has(n.eventid)) n.eventaction = "x"
        }
        res.writeHead(upstream.status, { "content-type": "application/json" })
        res.end(JSON.stringify(answer))
      })().catch(() => res.destroy())
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`, requests: () => requests, server }
}

describe("Datafordeler GraphQL: refused events", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c()
    cleanups.length = 0
  })

  const setUp = async (bad: (last: number) => ReadonlyArray<number>) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-refused-"))
    const sim = await startDafSimulator({ seed: 29 })
    sim.randomChanges(20)
    const last = sim.rowEvents()
    const spoiled = new Set(bad(last))
    const proxy = await spoilingProxy(sim, spoiled)
    const port = await freePort()
    const configFile = join(dir, "skygge.json")
    writeFileSync(
      configFile,
      JSON.stringify({
        store: { url: `sqlite:${join(dir, "skygge.db")}`, synchronous: "NORMAL" },
        api: { host: "127.0.0.1", port },
        log: { level: "Error" },
        sources: [{
          kind: "datafordeler",
          name: "dar",
          graphql: { url: proxy.url, register: "DAR", startAfterEventId: 0, pageSize: 2, pollSeconds: 0.1, maxAttempts: 2, maxBackoffSeconds: 0.1 },
          entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
        }]
      })
    )
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
    const cursor = async (): Promise<number | undefined> => {
      const res = await fetch(`${api}/v1/sources`).catch(() => undefined)
      if (res?.status !== 200) return undefined
      const c = ((await res.json()) as { cursors: Array<{ source: string; cursor: string }> }).cursors.find((x) => x.source === "dar:graphql")?.cursor
      return c === undefined ? undefined : Number(c)
    }
    const refusals = async () => {
      const body = (await (await fetch(`${api}/v1/refused?limit=1000`)).json()) as { refused: Array<{ reason: string }> }
      return body.refused.map((r) => r.reason).filter((r) => /eventaction .x./.test(r)).sort()
    }
    return { sim, last, spoiled, proxy, cursor, refusals, stderr: () => stderr }
  }

  it("a page made only of refused events is passed: the cursor reaches the last event, each refused event recorded once", async () => {
    const { sim, last, spoiled, cursor, refusals, stderr } = await setUp(() => [3, 4])
    const deadline = Date.now() + 30_000
    while ((await cursor()) !== last && Date.now() < deadline) await sleep(100)
    expect(await cursor(), stderr()).toBe(last)
    expect(await refusals()).toEqual([...spoiled].map((id) => `GraphQL event ${id}: eventaction 'x' is not i, u or d`).sort())
    expect(sim.ids().length).toBeGreaterThan(0)
  }, 60_000)

  it("a refused event at the end of the feed is recorded once, not again every poll", async () => {
    const { last, proxy, cursor, refusals, stderr } = await setUp((last) => [last])
    const deadline = Date.now() + 30_000
    // Every event before it read (the cursor passes them), then ten polls more (counted, not timed).
    while (((await cursor()) ?? 0) < last - 1 && Date.now() < deadline) await sleep(100)
    expect(await cursor(), stderr()).toBeGreaterThanOrEqual(last - 1)
    const seen = proxy.requests()
    while (proxy.requests() < seen + 10 && Date.now() < deadline) await sleep(50)
    expect(proxy.requests(), stderr()).toBeGreaterThanOrEqual(seen + 10)
    expect(await refusals()).toEqual([`GraphQL event ${last}: eventaction 'x' is not i, u or d`])
    expect(await cursor()).toBe(last)
  }, 60_000)
})
