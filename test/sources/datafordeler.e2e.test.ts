/**
 * The Datafordeler PULL source end to end over real HTTP against the register
 * simulator: events visible late and stamped in the past, REST lagging the
 * events, 5xx answers. After random change streams the shadow must equal the
 * register row for row, and as-of questions must get the register's answers.
 */
import { Effect, Fiber, Logger, LogLevel, Option, Schema } from "effect"
import type { ChildProcess } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { fromEpochMillis, type Instant } from "../../src/domain/Instant.js"
import { DafSourceSchema } from "../../src/sources/datafordeler/DafConfig.js"
import { runPullSource } from "../../src/sources/datafordeler/PullSource.js"
import { type DafSimulator, startDafSimulator } from "../../src/sources/datafordeler/simulator/DafSimulator.js"
import { type OpenStore, openStore } from "../support/engine.js"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"

const logLevel = process.env.SKYGGE_TEST_LOG === "1" ? LogLevel.Debug : LogLevel.Error
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const diff = (engine: OpenStore, sim: DafSimulator): Array<string> => {
  const out: Array<string> = []
  for (const id of sim.ids()) {
    const want = sim.rows(id).map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])).sort()
    const got = Effect.runSync(engine.store.history("dar.adresse", id)).map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])).sort()
    if (JSON.stringify(want) !== JSON.stringify(got)) out.push(`${id}: register ${want.length} rows, shadow ${got.length}`)
  }
  return out
}

describe("Datafordeler PULL against the register simulator", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c()
    cleanups.length = 0
  })

  /** A simulator, a store, and the PULL source running in-process between them (stopped after the test). */
  const setUp = async (simOptions: Parameters<typeof startDafSimulator>[0], pull: Record<string, unknown>, rest?: (base: string) => string) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-"))
    const sim = await startDafSimulator(simOptions)
    const engine = openStore(join(dir, "skygge.db"))
    cleanups.push(async () => {
      await sim.close()
      engine.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const source = Schema.decodeUnknownSync(DafSourceSchema)({
      kind: "datafordeler",
      name: "dar",
      pull: { url: sim.baseUrl, lagSeconds: 0.2, overlapSeconds: 1, pollSeconds: 0.1, ...pull },
      entities: { Adresse: { objectType: "dar.adresse", rest: (rest ?? ((base) => `${base}/rest/adresse?id={id}`))(sim.baseUrl) } }
    })
    const fiber = Effect.runFork(runPullSource(source, undefined).pipe(Effect.provide(engine.context), Logger.withMinimumLogLevel(logLevel)))
    cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined))
    await sleep(300) // the first start sets its cursor to now − lag
    return { sim, engine }
  }

  it.each([3, 8])("random change streams with late events, lagging REST and 5xx end equal to the register (seed %i)", async (seed) => {
    // REST lags longer than an event stays in the overlapping windows: only waiting for the rows to show the event keeps the change.
    const { sim, engine } = await setUp({ seed, faults: { error5xxRate: 0.05, restLagMs: 3000, commitDelayMs: 400 } }, { pageSize: 7, maxAttempts: 6, maxBackoffSeconds: 0.5 })
    for (let round = 0; round < 12; round++) {
      sim.randomChanges(5)
      await sleep(80)
    }
    const deadline = Date.now() + 30_000
    while (diff(engine, sim).length > 0 && Date.now() < deadline) await sleep(200)
    expect(diff(engine, sim)).toEqual([])
    expect(sim.ids().length).toBeGreaterThan(5)
    // Closes happened (updates, corrections, invalidations), and the mirror obeyed every one.
    expect(sim.ids().some((id) => sim.rows(id).some((r) => r.registreringTil !== null))).toBe(true)
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
    // As-of answers agree with the register at a past registration time.
    const some = sim.ids()[0]!
    const first = sim.rows(some)[0]!
    const asOf = Effect.runSync(engine.store.asOf({ objectType: "dar.adresse", objectId: some, registreringstid: first.registreringFra, virkningstid: (first.virkningFra ?? fromEpochMillis(0)) as Instant }))
    expect(Option.map(asOf, (r) => r.data)).toEqual(Option.some(first.data))
  }, 60_000)

  it("uses the rows events carry inline (Objektdata) without fetching, pages streamed", async () => {
    // Nothing answers at the REST URL: a fetch would park the window and the shadow would never catch up.
    const { sim, engine } = await setUp({ seed: 13, inlineRows: true, faults: { commitDelayMs: 300 } }, { pageSize: 4, maxAttempts: 2, maxBackoffSeconds: 0.2 }, (base) => `${base}/nowhere?id={id}`)
    for (let round = 0; round < 8; round++) {
      sim.randomChanges(5)
      await sleep(60)
    }
    const deadline = Date.now() + 20_000
    while (diff(engine, sim).length > 0 && Date.now() < deadline) await sleep(200)
    expect(diff(engine, sim)).toEqual([])
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
  }, 40_000)

  it("loses nothing and doubles nothing when skygge run is killed hard (SIGKILL) mid-stream and started again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-kill-"))
    const sim = await startDafSimulator({ seed: 21, faults: { error5xxRate: 0.05, restLagMs: 300, commitDelayMs: 300 } })
    const dbFile = join(dir, "skygge.db")
    const configFile = join(dir, "skygge.json")
    writeFileSync(
      configFile,
      JSON.stringify({
        store: { url: `sqlite:${dbFile}`, synchronous: "NORMAL" },
        api: { host: "127.0.0.1", port: await freePort() },
        log: { level: "Error" },
        sources: [
          {
            kind: "datafordeler",
            name: "dar",
            pull: { url: sim.baseUrl, pageSize: 5, lagSeconds: 0.2, overlapSeconds: 1, pollSeconds: 0.1, maxAttempts: 6, maxBackoffSeconds: 0.5 },
            entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
          }
        ]
      })
    )
    let child: ChildProcess | undefined
    const engine = openStore(dbFile)
    cleanups.push(async () => {
      await killIfRunning(child)
      await sim.close()
      engine.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const start = () => startSkygge(configFile)
    child = start()
    await sleep(1500) // started, cursor set
    for (let round = 0; round < 10; round++) {
      sim.randomChanges(6)
      await sleep(100)
    }
    child.kill("SIGKILL")
    await once(child, "exit")
    // Changes while it is down are read from the cursor on.
    for (let round = 0; round < 5; round++) sim.randomChanges(6)
    child = start()
    const deadline = Date.now() + 40_000
    while (diff(engine, sim).length > 0 && Date.now() < deadline) await sleep(250)
    expect(diff(engine, sim)).toEqual([])
    expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
    child.kill("SIGTERM")
    const [code] = (await once(child, "exit")) as [number | null]
    expect(code).toBe(0)
  }, 90_000)
})

