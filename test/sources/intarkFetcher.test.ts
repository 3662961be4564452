/**
 * The IntArk fetcher survives its store failing (a connection cut, a failover): it stops only for a
 * backoff, and started again takes back the claims the failure cut short — else a live member (its
 * heartbeat fine) would hold them for as long as it lives, since only a gone member's claims return.
 */
import { Context, Effect, Fiber, Logger, LogLevel, Ref } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, expect, it } from "vitest"
import { Membership } from "../../src/cluster/Membership.js"
import { runFetcher } from "../../src/sources/intark/Fetcher.js"
import { fsPerson, startFsSimulator } from "../../src/sources/intark/simulator/FsSimulator.js"
import { StoreError } from "../../src/store/StoreError.js"
import { type Received, WorkQueue } from "../../src/store/WorkQueue.js"
import { useCleanups } from "../support/cleanups.js"
import { openStore } from "../support/engine.js"
import { brokerNames, decodeSource, fsSourceConfig, waitConverged } from "../support/intark.js"
import { connectRabbit, RABBIT_URL } from "../support/rabbit.js"

const cleanups = useCleanups()
// The simulator publishes to the broker: fails (never skips) with how to start it.
beforeAll(async () => (await connectRabbit()).close())

it("a store failure stops the fetcher for a backoff; started again it takes back its own cut-short claims and drains the queue", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-fetcher-"))
  const names = brokerNames()
  const sim = await startFsSimulator({ amqpUrl: RABBIT_URL, exchange: names.exchange, seed: 3 })
  const engine = openStore(join(dir, "skygge.db"))
  cleanups.push(async () => {
    await sim.close({ deleteExchange: true })
    engine.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const source = decodeSource(fsSourceConfig(names, sim, RABBIT_URL))
  const origin = new URL(sim.baseUrl).origin
  const persons = new Set<string>()
  const hints: Array<Received> = []
  for (let i = 0; i < 12; i++) {
    const id = String(900 + i)
    await sim.upsert("personer", id, fsPerson(origin, id, 1))
    persons.add(`personer/${id}`)
    hints.push({ _tag: "Hint", hint: { format: "fs", resource: "personer", id, operation: "create", messageId: null, issuedAt: null, location: null, validFrom: null } })
  }
  await Effect.runPromise(engine.workQueue.record(source.name, hints))

  // The first settle fails (the connection lost as the batch ends): its items stay in flight, claimed.
  const settles = Effect.runSync(Ref.make(0))
  const faulty = {
    ...engine.workQueue,
    settle: (settlements: Parameters<typeof engine.workQueue.settle>[0]) =>
      Effect.flatMap(Ref.getAndUpdate(settles, (n) => n + 1), (n) =>
        n === 0 ? Effect.fail(new StoreError({ operation: "WorkQueue.settle", cause: new Error("Connection terminated unexpectedly") })) : engine.workQueue.settle(settlements))
  }
  const fiber = Effect.runFork(
    runFetcher({ source, authHeaders: {} }).pipe(
      Effect.provide(Membership.layer({ alone: false })),
      Effect.provide(Context.add(engine.context, WorkQueue, faulty)),
      Logger.withMinimumLogLevel(LogLevel.Error)
    )
  )
  cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined))
  await waitConverged(engine, sim, source.name, persons, 15_000)
  // Nothing left in flight: the claims the failure cut short were taken back and settled.
  expect(await Effect.runPromise(engine.workQueue.counts)).toEqual([])
  expect(Effect.runSync(Ref.get(settles))).toBeGreaterThanOrEqual(2)
})
