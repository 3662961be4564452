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
import { createServer, type Server } from "node:http"
import { describe, expect, it } from "vitest"
import { type DafSimulator, startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { useCleanups } from "../../support/cleanups.js"
import { waitFor } from "../../support/wait.js"
import { runSkygge } from "./skyggeRun.js"

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
  const cleanups = useCleanups()

  /** The first PULL answer spoiled by `spoil` (the others too, with `every`). */
  const run = async (spoil: (body: string) => string, format: "json" | "xml" = "json", options: { readonly every?: boolean; readonly overlapSeconds?: number } = {}) => {
    const sim: DafSimulator = await startDafSimulator({ seed: 73 })
    const proxy = await spoilingProxy(sim.baseUrl, (body, n) => (n === 0 || options.every === true ? spoil(body) : body))
    cleanups.push(async () => {
      await new Promise((r) => proxy.server.close(r))
      await sim.close()
    })
    // The subscription's events, all before the first start: the first window holds them in one page.
    const startAt = new Date(Date.now() - 10 * 60_000).toISOString()
    sim.randomChanges(40)
    const after = Date.now() + 1
    const running = await runSkygge({
      pull: { url: proxy.url, format, startAt, lagSeconds: 0.2, overlapSeconds: options.overlapSeconds ?? 1, pollSeconds: 0.5, maxAttempts: 3, maxBackoffSeconds: 0.2 },
      entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
    })
    cleanups.push(running.close)
    // The cursor moves in the transaction of the window's last rows: once past every change, all must be there.
    await waitFor("the PULL cursor to pass the changes", async () => Date.parse((await running.cursor("dar")) ?? "") > after, 30_000)
    expect(proxy.answers()).toBeGreaterThan(0)
    const missing: Array<string> = []
    for (const id of sim.ids()) {
      const res = await fetch(`${running.api}/v1/objects/dar.adresse/${id}/history`)
      const rows = res.status === 200 ? ((await res.json()) as { rows: Array<unknown> }).rows : []
      if (rows.length !== sim.rows(id).length) missing.push(`${id}: register ${sim.rows(id).length} rows, shadow ${rows.length}`)
    }
    return { missing, stderr: running.stderr, api: running.api, pulls: proxy.answers }
  }

  it("a page cut off half-way (the HTTP answer itself complete) is asked again, not taken as the window's last", async () => {
    // Cut just after the first envelope: the objects of every later one are named nowhere else.
    const { missing, stderr } = await run((body) => body.slice(0, body.indexOf('},{"Id"') + 1))
    expect(missing, stderr()).toEqual([])
  }, 60_000)

  it.each([
    ["a gateway's maintenance page", "<html><body>Down for maintenance</body></html>"],
    ["a JSON object instead of the array of envelopes", JSON.stringify({ message: "try later" })],
    ["an empty body", ""]
  ])("a 200 with %s is asked again, not taken as an empty window", async (_, answer) => {
    const { missing, stderr } = await run(() => answer)
    expect(missing, stderr()).toEqual([])
  }, 60_000)

  it("an XML page cut off half-way is asked again, not taken as the window's last", async () => {
    const { missing, stderr } = await run((body) => body.slice(0, body.indexOf("</Envelope>") + "</Envelope>".length), "xml")
    expect(missing, stderr()).toEqual([])
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
    await waitFor("five more PULL answers", () => pulls() >= seen + 5, 30_000)
    const body = (await (await fetch(`${api}/v1/refused?limit=1000`)).json()) as { refused: Array<{ reason: string }> }
    expect(body.refused.map((r) => r.reason).filter((r) => /no Filtreringsdata\.beskedtype/.test(r))).toHaveLength(1)
  }, 60_000)
})
