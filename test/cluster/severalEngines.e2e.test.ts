/**
 * Three real `skygge run` processes on one PostgreSQL database and the real broker, as an operations team
 * runs them (one configuration file; port and member name from the environment), killed with SIGKILL
 * while they work:
 *  - an IntArk stream with faults while a process is killed in a loop (the holder of a singleton among
 *    them), or stalled (SIGSTOP) past the member timeout and let go on: every person converges, no object
 *    is fetched by two processes at once while none stalls, nothing abandoned;
 *  - a Datafordeler GraphQL path whose leader is killed mid-stream: the register mirrored row for row,
 *    no anomalies, its cursor never seen moving backwards;
 *  - activations due while the scheduler's holder is dead fire once after the takeover, each outbox record
 *    is published once (by id) and in order per object; the takeover time is printed and bounded.
 */
import { Effect } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { driveRandomChanges, startFsSimulator } from "../../src/sources/intark/simulator/FsSimulator.js"
import { type DafSimulator, startDafSimulator } from "../../src/sources/datafordeler/simulator/DafSimulator.js"
import type { OpenStore } from "../support/engine.js"
import { type ClusterView, type Engines, startEngines } from "../support/engines.js"
import { skygge } from "../cli/skygge.js"
import { brokerNames, declareDeadLetter, deleteBrokerObjects, fsSourceConfig, waitConverged, waitForConsumer } from "../support/intark.js"
import { freePort } from "../support/net.js"
import { RABBIT_URL } from "../support/rabbit.js"
import { testStores } from "../support/testStores.js"
import { sleep } from "../support/wait.js"

const newStore = testStores()

/** Short times, so that a test sees several takeovers in seconds (the defaults are for production). */
const FAST_CLUSTER = { heartbeatSeconds: 0.5, memberTimeoutSeconds: 3, lockCheckSeconds: 0.5, lockTimeoutSeconds: 1, acquireSeconds: 0.3 }

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups.length = 0
})

/** A folder, a PostgreSQL store, a configuration file every engine shares, and three engines on it. */
const cluster = async (config: (store: Record<string, unknown>) => Record<string, unknown>, stderr?: Array<string>) => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-cluster-"))
  const store = await newStore("postgres", dir)
  const configFile = join(dir, "skygge.json")
  writeFileSync(configFile, JSON.stringify({ api: { host: "127.0.0.1" }, log: { level: "Error" }, cluster: FAST_CLUSTER, ...config(store.config) }))
  const engine: OpenStore = await store.open()
  const engines: Engines = await startEngines(configFile, 3, stderr === undefined ? {} : { stderr })
  cleanups.push(async () => {
    await engines.stopAll()
    await engine.close()
    rmSync(dir, { recursive: true, force: true })
  })
  for (let i = 0; i < engines.size; i++) await engines.ready(i)
  return { engines, engine, configFile }
}

/** Until `ok` holds (checked every 100 ms) or `ms` pass; whether it held. */
const until = async (ok: () => Promise<boolean> | boolean, ms: number) => {
  const deadline = Date.now() + ms
  for (;;) {
    if (await ok()) return true
    if (Date.now() > deadline) return false
    await sleep(100)
  }
}

describe("several engines on one PostgreSQL", () => {
  it("IntArk: three engines, one killed (SIGKILL) every second or so — the scheduler's holder among them — or stalled (SIGSTOP) past the member timeout: every person converges, no object fetched by two at once, nothing abandoned", async () => {
    const names = brokerNames()
    await declareDeadLetter(names)
    const sim = await startFsSimulator({
      amqpUrl: RABBIT_URL,
      exchange: names.exchange,
      seed: 31,
      faults: { duplicateRate: 0.1, reorderRate: 0.1, apiLagMs: 300, error5xxRate: 0.05, slowRate: 0.3, slowMs: 150 }
    })
    cleanups.push(async () => {
      await sim.close()
      await deleteBrokerObjects(names)
    })
    const { engines, engine } = await cluster((store) => ({ store, sources: [fsSourceConfig(names, sim, RABBIT_URL)] }))
    await waitForConsumer(names.queue)
    const driving = driveRandomChanges(sim, { seed: 31, changes: 400, persons: 120, roles: 60, pauseEvery: 4, pauseMs: 120 })
    let kills = 0, holderKills = 0
    // While no member stalls, no object is fetched by two at once; a stalled one's claims are taken over
    // and, thawed, it may fetch the rest of its batch beside its successor (registering none of it).
    let overlapsBeforeStalls: ReadonlyArray<string> | undefined
    while (kills < 10) {
      await sleep(1000)
      // Every third kill is the scheduler's holder; the others go round the engines.
      const holder = await engines.holderOf("activations")
      const victim = kills % 3 === 0 && holder !== undefined ? holder : kills % engines.size
      if (victim === holder) holderKills++
      if (kills === 4 || kills === 8) {
        // A stall past the member timeout instead: presumed dead, its claims taken over, it comes back
        // with fetches in hand, which must not be registered over its successor's.
        overlapsBeforeStalls ??= sim.overlapping()
        engines.freeze(victim)
        await sleep((FAST_CLUSTER.memberTimeoutSeconds + 1.5) * 1000)
        engines.thaw(victim)
        kills++
        continue
      }
      await engines.kill(victim)
      kills++
      await sleep(200)
      engines.start(victim)
    }
    const touched = await driving
    await waitConverged(engine, sim, names.source, touched, 90_000)
    expect(holderKills, "kills of the singletons' holder").toBeGreaterThan(0)
    expect(overlapsBeforeStalls, "fetches of one object by two processes at once").toEqual([])
    const counts = await Effect.runPromise(engine.workQueue.counts)
    expect(counts.filter((c) => c.n > 0), "work items left (pending, in flight or abandoned)").toEqual([])
  }, 150_000)

  it("Datafordeler: the GraphQL path's leader killed (SIGKILL) mid-stream, three times: mirrored row for row, no anomalies, the cursor never moves backwards", async () => {
    const sim: DafSimulator = await startDafSimulator({ seed: 37, faults: { error5xxRate: 0.05, restLagMs: 300, importMs: 100 } })
    cleanups.push(() => sim.close())
    const { engines, engine } = await cluster((store) => ({
      store,
      sources: [{
        kind: "datafordeler",
        name: "dar",
        graphql: { url: sim.graphqlUrl, register: "DAR", pollSeconds: 0.1, pageSize: 5, maxAttempts: 6, maxBackoffSeconds: 0.3 },
        entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
      }]
    }))
    // The cursor as every running engine reports it, watched throughout: it must never be seen lower than before.
    const seen: Array<number> = []
    let watching = true
    const watcher = (async () => {
      while (watching) {
        for (let i = 0; i < engines.size; i++) {
          if (!engines.running(i)) continue
          const status = await fetch(`http://127.0.0.1:${engines.port(i)}/v1/sources`).then((r) => r.json() as Promise<{ cursors: Array<{ source: string; cursor: string }> }>, () => undefined)
          const c = status?.cursors.find((x) => x.source === "dar:graphql")
          if (c !== undefined) seen.push(Number(c.cursor))
        }
        await sleep(50)
      }
    })()
    const holders: Array<number> = []
    for (let round = 0; round < 3; round++) {
      for (let step = 0; step < 4; step++) {
        sim.randomChanges(6)
        if (step === 2) sim.reimports(2)
        await sleep(150)
      }
      const holder = await engines.holderOf("datafordeler:dar:graphql")
      expect(holder, "a holder of the GraphQL path").toBeDefined()
      holders.push(holder!)
      await engines.kill(holder!)
      sim.randomChanges(4)
      await sleep(300)
      engines.start(holder!)
    }
    const diff = async () => {
      const out: Array<string> = []
      for (const id of sim.ids()) {
        const row = (r: { registreringFra: string; registreringTil: string | null; virkningFra: string | null; virkningTil: string | null; data: unknown }) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])
        const want = sim.rows(id).map(row).sort()
        const got = (await Effect.runPromise(engine.store.history("dar.adresse", id))).map(row).sort()
        if (JSON.stringify(want) !== JSON.stringify(got)) out.push(`${id}: register ${want.length} rows, shadow ${got.length}`)
      }
      return out
    }
    await until(async () => (await diff()).length === 0, 40_000)
    await until(() => seen.length > 0 && seen[seen.length - 1] === sim.rowEvents(), 20_000)
    watching = false
    await watcher
    expect(await diff()).toEqual([])
    expect((await Effect.runPromise(engine.mirror.anomalies({ after: 0, limit: 10 }))).map((a) => `${a.kind}: ${a.detail}`)).toEqual([])
    const backwards = seen.flatMap((c, i) => (i > 0 && c < Math.max(...seen.slice(0, i)) ? [`${Math.max(...seen.slice(0, i))} → ${c}`] : []))
    expect(backwards, "the cursor seen moving backwards").toEqual([])
    expect(seen[seen.length - 1]).toBe(sim.rowEvents())
  }, 120_000)

  it("activations due while the scheduler's holder is frozen fire once, late, after it is killed and another takes over; each outbox record is published once, in order per object; takeover time printed", async () => {
    const received: Array<{ id: string; objectid: string; sequence: string; type: string; late?: boolean }> = []
    const server: Server = createServer((req, res) => {
      let body = ""
      req.on("data", (d) => (body += String(d)))
      req.on("end", () => {
        received.push(JSON.parse(body) as (typeof received)[number])
        res.writeHead(204).end()
      })
    })
    const hookPort = await freePort()
    await new Promise<void>((r) => server.listen(hookPort, "127.0.0.1", r))
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
    const { engines, engine, configFile } = await cluster((store) => ({
      store,
      activations: { lateAfterSeconds: 1, pollSeconds: 5 },
      outbox: { webhookUrls: [`http://127.0.0.1:${hookPort}/hook`], maxBackoffSeconds: 1 }
    }))
    const holder = await (async () => {
      let h: number | undefined
      await until(async () => (h = await engines.holderOf("activations")) !== undefined, 10_000)
      return h
    })()
    expect(holder, "a holder of the activation scheduler").toBeDefined()
    // Objects whose validity starts 2.5 s from now, registered through another engine than the holder.
    const other = (holder! + 1) % engines.size
    const due = new Date(Date.now() + 2500).toISOString()
    const ids = Array.from({ length: 20 }, (_, i) => `p-${i}`)
    const ops = ids.flatMap((id) => [
      { op: "assert", objectType: "person", objectId: id, registreringstid: new Date(Date.now() - 1000).toISOString(), virkningFra: "2020-01-01T00:00:00Z", virkningTil: null, data: { navn: `${id} før` }, eventId: `${id}-1` },
      { op: "assert", objectType: "person", objectId: id, registreringstid: new Date().toISOString(), virkningFra: due, virkningTil: null, data: { navn: `${id} etter` }, eventId: `${id}-2` }
    ])
    const posted = await fetch(`http://127.0.0.1:${engines.port(other)}/v1/registrations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ops) })
    expect(posted.status).toBe(200)
    // The holder freezes before the instant comes (alive, its lock held: nobody else may fire) and stays so past it.
    engines.freeze(holder!)
    await sleep(Math.max(0, Date.parse(due) - Date.now()) + 2000)
    const startedWhileFrozen = received.filter((r) => r.type.endsWith("validity-started")).length
    // Then it dies: another engine takes the scheduler over and fires what fell due meanwhile, late.
    await engines.kill(holder!)
    const killedAt = Date.now()
    let takeoverMs = -1
    await until(async () => {
      const next = await engines.holderOf("activations")
      if (next !== undefined && next !== holder) takeoverMs = Date.now() - killedAt
      return takeoverMs >= 0
    }, 15_000)
    console.log(`activation scheduler taken over ${takeoverMs} ms after its frozen holder was killed (cluster.acquireSeconds ${FAST_CLUSTER.acquireSeconds})`)
    expect(startedWhileFrozen, "activations fired while the scheduler's holder was frozen").toBe(0)
    expect(takeoverMs).toBeGreaterThanOrEqual(0)
    expect(takeoverMs).toBeLessThan(5000)
    const started = () => [...new Map(received.filter((r) => r.type.endsWith("validity-started")).map((r) => [r.id, r])).values()]
    await until(() => started().length >= ids.length, 20_000)
    await sleep(1500) // a second firing would arrive now
    engines.start(holder!)
    await engines.ready(holder!)
    await sleep(1500)
    // Each activation fired once: one validity-started record (distinct ids) per object, late (its holder was dead).
    expect(started().map((r) => r.objectid).sort()).toEqual([...ids].sort())
    expect(started().every((r) => r.late === true)).toBe(true)
    // Each record delivered, in order per object: the sequence numbers of an object, as first received, ascend.
    const firstSeen = new Map<string, Array<number>>()
    for (const r of received) {
      const seqs = firstSeen.get(r.objectid) ?? []
      if (!seqs.includes(Number(r.sequence))) firstSeen.set(r.objectid, [...seqs, Number(r.sequence)])
    }
    for (const [id, seqs] of firstSeen) expect(seqs, `order of ${id}'s notifications`).toEqual([...seqs].sort((a, b) => a - b))
    const byId = new Set(received.map((r) => r.id))
    expect(byId.size, "records delivered (by id) = records in the outbox").toBe(await Effect.runPromise(engine.outbox.size))
    console.log(`outbox: ${received.length} deliveries of ${byId.size} records`)
    // The cluster seen from the command line (no member itself) and over HTTP: three live engines and the
    // dead one, each singleton held by a live engine, the metrics saying so.
    const cli = await skygge(["cluster", "--json", "--config", configFile])
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: "" })
    const view = JSON.parse(cli.stdout) as ClusterView
    expect(view.member).toBeNull()
    const live = view.members.filter((m) => m.live)
    expect(live.map((m) => m.name).sort()).toEqual(["engine-0", "engine-1", "engine-2"])
    expect(view.members.filter((m) => !m.live).map((m) => m.name)).toEqual([`engine-${holder}`])
    expect(view.singletons.map((s) => s.name)).toEqual(expect.arrayContaining(["activations", "outbox:prune"]))
    for (const s of view.singletons) expect(live.map((m) => m.id), `holder of ${s.name}`).toContain(s.holder)
    const http = (await (await fetch(`http://127.0.0.1:${engines.port(other)}/v1/cluster`)).json()) as ClusterView
    expect(http.member).toBe(live.find((m) => m.name === `engine-${other}`)!.id)
    expect(http.singletons).toEqual(view.singletons)
    const metrics = await (await fetch(`http://127.0.0.1:${engines.port(other)}/metrics`)).text()
    expect(metrics).toContain('skygge_cluster_members{state="live"} 3')
    expect(metrics).toContain('skygge_cluster_singleton_held{name="activations"} 1')
  }, 90_000)
})
