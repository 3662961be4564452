/**
 * The legacy PULL path as a user runs it: the real `skygge run --config FILE`
 * child process against the register simulator over HTTP, its shadow read
 * through the engine's own HTTP API. What the register sees of it (requests
 * per event, per poll round, across a restart) and where a first start begins.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { type DafSimulator, startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { freePort } from "../../support/net.js"

const bin = fileURLToPath(new URL("../../../bin/skygge.js", import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Running {
  readonly child: ChildProcess
  /** Everything it wrote to stderr (its log lines). */
  readonly stderr: () => string
}

/** `skygge run --config FILE`, its stderr kept. */
const runSkygge = (configFile: string, env: Record<string, string>): Running => {
  const child = spawn(process.execPath, [bin, "run", "--config", configFile], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } })
  let err = ""
  child.stderr!.on("data", (d) => (err += String(d)))
  return { child, stderr: () => err }
}

const stop = async (running: Running | undefined) => {
  if (running === undefined || running.child.exitCode !== null || running.child.signalCode !== null) return
  running.child.kill("SIGTERM")
  await once(running.child, "exit")
}

describe("Datafordeler PULL through skygge run", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c()
    cleanups.length = 0
  })

  /** A simulator, a config file with one source (`paths` gives its pull / graphql settings) and a way to start `skygge run` on it. */
  const setUp = async (paths: (sim: DafSimulator) => Record<string, unknown>, options: { readonly inlineRows?: boolean; readonly env?: Record<string, string> } = {}) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-pull-"))
    const sim = await startDafSimulator({ seed: 61, inlineRows: options.inlineRows ?? false })
    const port = await freePort()
    const configFile = join(dir, "skygge.json")
    const write = (p: Record<string, unknown>) =>
      writeFileSync(
        configFile,
        JSON.stringify({
          store: { url: `sqlite:${join(dir, "skygge.db")}`, synchronous: "NORMAL" },
          api: { host: "127.0.0.1", port },
          log: { level: "Warn" },
          sources: [{ kind: "datafordeler", name: "dar", ...p, entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } } }]
        })
      )
    write(paths(sim))
    const running: Array<Running> = []
    cleanups.push(async () => {
      for (const r of running) await stop(r)
      await sim.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const start = () => {
      const r = runSkygge(configFile, options.env ?? {})
      running.push(r)
      return r
    }
    const api = `http://127.0.0.1:${port}`
    /** A path's cursor as `GET /v1/sources` shows it, once the engine answers. */
    const cursor = async (path = "dar"): Promise<string | undefined> => {
      const res = await fetch(`${api}/v1/sources`).catch(() => undefined)
      if (res === undefined || res.status !== 200) return undefined
      const body = (await res.json()) as { cursors: Array<{ source: string; cursor: string }> }
      return body.cursors.find((c) => c.source === path)?.cursor
    }
    const waitFor = async <A>(what: () => Promise<A | undefined>, ms: number): Promise<A | undefined> => {
      const deadline = Date.now() + ms
      for (;;) {
        const a = await what()
        if (a !== undefined || Date.now() > deadline) return a
        await sleep(100)
      }
    }
    /** Objects whose history over the engine's API differs from the register's. */
    const diff = async (): Promise<Array<string>> => {
      const out: Array<string> = []
      for (const id of sim.ids()) {
        const want = sim.rows(id).map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])).sort()
        const res = await fetch(`${api}/v1/objects/dar.adresse/${id}/history`)
        const rows = res.status === 200 ? ((await res.json()) as { rows: Array<{ registreringFra: string; registreringTil: string | null; virkningFra: string | null; virkningTil: string | null; data: unknown }> }).rows : []
        const got = rows.map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])).sort()
        if (JSON.stringify(want) !== JSON.stringify(got)) out.push(`${id}: register ${want.length} rows, shadow ${got.length}`)
      }
      return out
    }
    const converge = async (ms: number) => {
      const deadline = Date.now() + ms
      let d = await diff()
      while (d.length > 0 && Date.now() < deadline) {
        await sleep(250)
        d = await diff()
      }
      return d
    }
    return { sim, start, cursor, waitFor, converge, write, api }
  }

  it("mirrors the rows events carry while a page still streams, and ends equal to the register, its window read again without anomalies", async () => {
    const startAt = new Date(Date.now() - 10 * 60_000).toISOString()
    // Inline rows mirrored 5 at a time (a test-only setting); each window read again whole (its overlap).
    const { sim, start, cursor, waitFor, converge, api } = await setUp(
      (sim) => ({ pull: { url: sim.baseUrl, startAt, pageSize: 1000, lagSeconds: 0.2, overlapSeconds: 600, pollSeconds: 0.5, timeoutSeconds: 60 } }),
      { inlineRows: true, env: { SKYGGE_TEST_INLINE_CHUNK_ROWS: "5" } }
    )
    sim.randomChanges(20)
    const firstPart = sim.events()
    const early = [...sim.ids()]
    // Every object changed again, later in the page: its rows carried by the first part are closed by the second.
    sim.change(early)
    const hold = sim.holdPull(firstPart)
    const running = start()
    const history = async (id: string) => {
      const res = await fetch(`${api}/v1/objects/dar.adresse/${id}/history`).catch(() => undefined)
      return res?.status === 200 ? ((await res.json()) as { rows: Array<unknown> }).rows : []
    }
    // While the page's second part is held, objects of its first part are in the shadow, the cursor where it began.
    expect(await waitFor(async () => ((await history(early[0]!)).length > 0 ? true : undefined), 30_000), running.stderr()).toBe(true)
    expect(hold.held()).toBe(1)
    const atStart = await cursor()
    expect(atStart, running.stderr()).toBe(startAt.replace(/\.(\d{3})Z$/, ".$1000Z"))
    hold.release()
    expect(await converge(20_000), running.stderr()).toEqual([])
    // The window read again (its overlap) mirrors the first part's rows after the second part's closes: no reopen.
    const pulls = sim.requests().pull
    expect(await waitFor(async () => (sim.requests().pull >= pulls + 2 && (await cursor()) !== atStart ? true : undefined), 30_000), running.stderr()).toBe(true)
    expect(await converge(1000), running.stderr()).toEqual([])
    const anomalies = (await (await fetch(`${api}/v1/anomalies`)).json()) as { anomalies: Array<{ kind: string; detail: string }> }
    expect(anomalies.anomalies).toEqual([])
    expect(sim.requests().rest).toBe(0)
    expect(running.stderr()).not.toMatch(/level=ERROR/)
  }, 90_000)

  it("costs the register one PULL request per poll round and at most one REST request per event, re-reading its overlap and restarting without fetching again", async () => {
    const pollSeconds = 1
    const { sim, start, cursor, waitFor, converge } = await setUp((sim) => ({ pull: { url: sim.baseUrl, lagSeconds: 0.2, overlapSeconds: 3, pollSeconds, maxAttempts: 3, maxBackoffSeconds: 0.2 } }))
    const began = Date.now()
    let running = start()
    expect(await waitFor(cursor, 30_000), running.stderr()).toBeDefined()
    for (let round = 0; round < 6; round++) {
      sim.randomChanges(5)
      await sleep(300)
    }
    expect(await converge(20_000), running.stderr()).toEqual([])
    // Steady state: several more rounds, each re-reading events in its overlap.
    await sleep(4000)
    const events = sim.events()
    const first = sim.requests()
    const rounds = (Date.now() - began) / (pollSeconds * 1000)
    expect(first.rest, "REST fetches").toBeLessThanOrEqual(events)
    expect(first.pull, "PULL requests").toBeLessThanOrEqual(Math.ceil(rounds) + 2)
    expect(first.other + first.graphql).toBe(0)

    // A restart re-reads the overlap before its cursor: what the store already shows is not fetched again.
    await stop(running)
    const restarted = Date.now()
    running = start()
    expect(await waitFor(cursor, 30_000), running.stderr()).toBeDefined()
    await sleep(4000)
    expect(await converge(1000), running.stderr()).toEqual([])
    const second = sim.requests()
    expect(second.rest - first.rest, "REST fetches after the restart").toBe(0)
    expect(second.pull - first.pull, "PULL requests after the restart").toBeLessThanOrEqual(Math.ceil((Date.now() - restarted) / (pollSeconds * 1000)) + 2)
    expect(running.stderr()).not.toMatch(/level=ERROR/)
  }, 90_000)

  /** Wait for a started `skygge run` to exit; its code. */
  const exited = async (r: Running, ms: number): Promise<number | null | "running"> => {
    if (r.child.exitCode !== null) return r.child.exitCode
    const timer = sleep(ms).then(() => "running" as const)
    return Promise.race([once(r.child, "exit").then(([code]) => code as number | null), timer])
  }

  it("a first start reads PULL events from pull.startAt (saying so), with no full load; one older than the service keeps events is refused at start, naming it", async () => {
    const pull = (sim: DafSimulator, startAt: string) => ({ pull: { url: sim.baseUrl, startAt, lagSeconds: 0.2, overlapSeconds: 1, pollSeconds: 0.5 } })
    const startAt = new Date(Date.now() - 10 * 60_000).toISOString()
    const { sim, start, cursor, waitFor, converge, write } = await setUp((sim) => pull(sim, startAt))
    // The subscription's events from before the first start.
    sim.randomChanges(25)
    const first = start()
    expect(await waitFor(cursor, 30_000), first.stderr()).toBeDefined()
    expect(await converge(20_000), first.stderr()).toEqual([])
    expect(first.stderr()).toContain(`first start: events are read from pull.startAt (${startAt.replace(/\.(\d{3})Z$/, ".$1000Z")})`)
    expect(first.stderr()).toMatch(/no full load is configured/)
    await stop(first)

    // A path with a cursor goes on from it: an old startAt left in the file does not stop a restart.
    const old = new Date(Date.now() - 61 * 86_400_000).toISOString()
    write(pull(sim, old))
    const again = start()
    expect(await waitFor(cursor, 30_000), again.stderr()).toBeDefined()
    sim.randomChanges(5)
    expect(await converge(20_000), again.stderr()).toEqual([])
    await stop(again)

    // A first start from before what the service keeps (60 days by default) would lose events silently: refused.
    const fresh = await setUp((sim) => pull(sim, old))
    const refused = fresh.start()
    expect(await exited(refused, 30_000), refused.stderr()).toBe(1)
    expect(refused.stderr()).toMatch(/sources 'dar' pull\.startAt: .* is older than the service keeps events \(fullLoad\.retentionDays 60/)
    expect(refused.stderr()).not.toMatch(/\n\s+at /) // one line, no stack trace
  }, 90_000)

  it("a first start reads GraphQL events after graphql.startAfterEventId (saying so); one whose next events the service no longer keeps is refused at start", async () => {
    const graphql = (sim: DafSimulator, startAfterEventId: number) => ({ graphql: { url: sim.graphqlUrl, register: "DAR", startAfterEventId, pollSeconds: 0.2 } })
    const { sim, start, cursor, waitFor, converge } = await setUp((sim) => graphql(sim, 0))
    sim.randomChanges(25)
    const running = start()
    expect(await waitFor(() => cursor("dar:graphql"), 30_000), running.stderr()).toBeDefined()
    expect(await converge(20_000), running.stderr()).toEqual([])
    expect(running.stderr()).toContain("first start: events are read after graphql.startAfterEventId (0)")
    await stop(running)

    const fresh = await setUp((sim) => graphql(sim, 3))
    fresh.sim.randomChanges(25)
    fresh.sim.forgetRowEvents(10)
    const refused = fresh.start()
    expect(await exited(refused, 30_000), refused.stderr()).toBe(1)
    expect(refused.stderr()).toMatch(/sources 'dar' graphql\.startAfterEventId: 3 is older than the service keeps events \(its oldest is 11\)/)
  }, 90_000)
})
