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
import { createServer, type Server } from "node:http"
import { describe, expect, it } from "vitest"
import { type DafSimulator, startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { useCleanups } from "../../support/cleanups.js"
import { waitFor } from "../../support/wait.js"
import { runSkygge } from "./skyggeRun.js"

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
  const cleanups = useCleanups()

  const setUp = async (bad: (last: number) => ReadonlyArray<number>) => {
    const sim = await startDafSimulator({ seed: 29 })
    sim.randomChanges(20)
    const last = sim.rowEvents()
    const spoiled = new Set(bad(last))
    const proxy = await spoilingProxy(sim, spoiled)
    cleanups.push(async () => {
      await new Promise((r) => proxy.server.close(r))
      await sim.close()
    })
    const running = await runSkygge({
      graphql: { url: proxy.url, register: "DAR", startAfterEventId: 0, pageSize: 2, pollSeconds: 0.1, maxAttempts: 2, maxBackoffSeconds: 0.1 },
      entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
    }, "Error")
    cleanups.push(running.close)
    const cursor = async (): Promise<number | undefined> => {
      const c = await running.cursor("dar:graphql")
      return c === undefined ? undefined : Number(c)
    }
    const refusals = async () => {
      const body = (await (await fetch(`${running.api}/v1/refused?limit=1000`)).json()) as { refused: Array<{ reason: string }> }
      return body.refused.map((r) => r.reason).filter((r) => /eventaction .x./.test(r)).sort()
    }
    return { sim, last, spoiled, proxy, cursor, refusals, stderr: running.stderr }
  }

  it("a page made only of refused events is passed: the cursor reaches the last event, each refused event recorded once", async () => {
    const { sim, last, spoiled, cursor, refusals, stderr } = await setUp(() => [3, 4])
    await waitFor("the cursor to reach the last event", async () => (await cursor()) === last, 30_000)
    expect(await cursor(), stderr()).toBe(last)
    expect(await refusals()).toEqual([...spoiled].map((id) => `GraphQL event ${id}: eventaction 'x' is not i, u or d`).sort())
    expect(sim.ids().length).toBeGreaterThan(0)
  }, 60_000)

  it("a refused event at the end of the feed is recorded once, not again every poll", async () => {
    const { last, proxy, cursor, refusals, stderr } = await setUp((last) => [last])
    // Every event before it read (the cursor passes them), then ten polls more (counted, not timed).
    await waitFor("the cursor to pass the events before it", async () => ((await cursor()) ?? 0) >= last - 1, 30_000)
    const seen = proxy.requests()
    await waitFor("ten more polls", () => proxy.requests() >= seen + 10, 30_000)
    expect(stderr()).not.toMatch(/level=ERROR/)
    expect(await refusals()).toEqual([`GraphQL event ${last}: eventaction 'x' is not i, u or d`])
    expect(await cursor()).toBe(last)
  }, 60_000)
})
