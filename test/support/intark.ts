/** An IntArk source on the real broker against the FS simulator: names, config, running the engine, and comparing the shadow. */
import { Effect, Exit, Fiber, Logger, LogLevel, Option, Schema } from "effect"
import type { ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import { expect } from "vitest"
import { Leadership } from "../../src/cluster/Leadership.js"
import { fromEpochMillis } from "../../src/domain/core/Instant.js"
import { canonicalJson } from "../../src/domain/core/Operation.js"
import { type IntarkSource, IntarkSourceSchema } from "../../src/sources/intark/IntarkConfig.js"
import { startIntarkSource } from "../../src/sources/intark/IntarkSourceLive.js"
import { Membership } from "../../src/cluster/Membership.js"
import { type FsSimulator, ORIGIN_HEADER } from "../../src/sources/intark/simulator/FsSimulator.js"
import type { OpenStore } from "./engine.js"
import { killIfRunning } from "./process.js"
import { connectRabbit } from "./rabbit.js"

export const OBJECT_TYPES = { personer: "fs.person", personroller: "fs.personrolle" } as const

/** Unique exchange and queue names for one test, and a dead-letter exchange with a queue to read it. */
export const brokerNames = () => {
  const tag = `skygge-test-${randomBytes(4).toString("hex")}`
  return { source: tag.replace("skygge-test-", "fs-"), exchange: `${tag}-fs`, queue: `${tag}-q`, deadLetterExchange: `${tag}-dlx`, deadLetterQueue: `${tag}-dlq` }
}

export const declareDeadLetter = async (names: ReturnType<typeof brokerNames>) => {
  const connection = await connectRabbit()
  const ch = await connection.createChannel()
  await ch.assertExchange(names.deadLetterExchange, "topic", { durable: true })
  await ch.assertQueue(names.deadLetterQueue, { durable: true })
  await ch.bindQueue(names.deadLetterQueue, names.deadLetterExchange, "#")
  await connection.close()
}

export const deleteBrokerObjects = async (names: ReturnType<typeof brokerNames>) => {
  const connection = await connectRabbit()
  const ch = await connection.createChannel()
  await ch.deleteQueue(names.queue)
  await ch.deleteQueue(names.deadLetterQueue)
  await ch.deleteExchange(names.exchange)
  await ch.deleteExchange(names.deadLetterExchange)
  await connection.close()
}

/** The teardown of a test that runs `skygge run` (the child `running()` returns) against the FS simulator in `dir`. */
export const stopSkyggeRun = (running: () => ChildProcess | undefined, sim: FsSimulator, names: ReturnType<typeof brokerNames>, dir: string) => async () => {
  await killIfRunning(running())
  await sim.close()
  await deleteBrokerObjects(names)
  rmSync(dir, { recursive: true, force: true })
}

/** A source config as a user would write it (decoded, so defaults apply). */
export const fsSourceConfig = (names: ReturnType<typeof brokerNames>, sim: FsSimulator, amqpUrl: string, overrides: Record<string, unknown> = {}) => ({
  kind: "intark",
  name: names.source,
  format: "fs",
  amqp: {
    url: amqpUrl,
    queue: names.queue,
    declare: true,
    exchange: names.exchange,
    bindings: ["no.uio.fs.FS-prod.personer.*", "no.uio.fs.FS-prod.personroller.*"],
    deadLetterExchange: names.deadLetterExchange,
    prefetch: 200,
    heartbeatSeconds: 5,
    reconnectMaxSeconds: 1
  },
  provider: {
    baseUrl: sim.baseUrl,
    concurrency: 8,
    timeoutSeconds: 5,
    maxAttempts: 100,
    maxBackoffSeconds: 1,
    confirmAfterSeconds: 1,
    deletion: { header: { ...ORIGIN_HEADER } }
  },
  resources: {
    personer: { objectType: OBJECT_TYPES.personer },
    personroller: { objectType: OBJECT_TYPES.personroller, validFrom: "periode.fraDato", validTo: "periode.tilDato" }
  },
  ...overrides
})

export const decodeSource = (config: unknown): IntarkSource => Schema.decodeUnknownSync(IntarkSourceSchema)(config)

const testLogLevel = process.env.SKYGGE_TEST_LOG === "1" ? LogLevel.Debug : LogLevel.Error

/** Run one source in-process on the given store, as a cluster member of its own, until the returned stop is called (the member leaves). */
export const runSource = (engine: OpenStore, source: IntarkSource) => {
  const fiber = Effect.runFork(
    Effect.scoped(Effect.zipRight(startIntarkSource(source), Effect.never)).pipe(
      Effect.provide(Membership.layer({ alone: false })),
      Effect.provide(engine.context),
      Effect.provide(Leadership.layerAlone),
      Logger.withMinimumLogLevel(testLogLevel)
    )
  )
  return async () => {
    const exit = await Effect.runPromise(Fiber.interrupt(fiber))
    if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) throw new Error(`source failed: ${String(exit.cause)}`)
  }
}

/**
 * Differences between the shadow and the provider's final state (empty when equal). A person
 * (no validity fields) is compared as of now on both axes — its earlier states stay in history
 * with closed validity; a person role must be exactly one current row over its `periode`.
 */
export const shadowDiff = async (engine: OpenStore, sim: FsSimulator, ids: Iterable<string>): Promise<Array<string>> => {
  const final = sim.finalState()
  const now = fromEpochMillis(Date.now())
  const diffs: Array<string> = []
  for (const key of ids) {
    const [resource, id] = key.split("/") as [keyof typeof OBJECT_TYPES, string]
    const objectType = OBJECT_TYPES[resource]
    const shown =
      resource === "personer"
        ? Option.toArray(await Effect.runPromise(engine.store.asOf({ objectType, objectId: id, registreringstid: now, virkningstid: now })))
        : (await Effect.runPromise(engine.store.history(objectType, id))).filter((row) => row.registreringTil === null)
    const want = final.get(key)
    if (want === undefined) {
      if (shown.length > 0) diffs.push(`${key}: deleted upstream, ${shown.length} rows in force in the shadow`)
    } else if (shown.length !== 1 || canonicalJson(shown[0]!.data) !== canonicalJson(want)) {
      diffs.push(`${key}: shadow has ${shown.length} rows in force${shown.length > 0 ? ` (${canonicalJson(shown[0]!.data).slice(0, 80)}…)` : ""}`)
    }
  }
  return diffs
}

/** Wait until no work is pending and the shadow equals the provider; then assert it (so a timeout shows the differences). */
export const waitConverged = async (engine: OpenStore, sim: FsSimulator, source: string, ids: Iterable<string>, timeoutMs = 60_000) => {
  const all = [...ids]
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const counts = (await Effect.runPromise(engine.workQueue.counts)).filter((c) => c.source === source && c.n > 0)
    const open = counts.some((c) => c.state === "pending" || c.state === "in_flight")
    if (!open && (await shadowDiff(engine, sim, all)).length === 0) break
    if (Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, 200))
  }
  // Both in one assertion, so that a shadow left different says whether its work was abandoned or settled.
  const abandoned = (await Effect.runPromise(engine.workQueue.counts)).filter((c) => c.source === source && c.state === "abandoned")
  const differences = await shadowDiff(engine, sim, all)
  expect({ differences, abandoned }, differences.length === 0 ? undefined : await explain(engine, sim, source, differences)).toEqual({ differences: [], abandoned: [] })
}

/** For a failing convergence: what the simulator did and answered, and what the shadow recorded, for the first few objects that differ. */
const explain = async (engine: OpenStore, sim: FsSimulator, source: string, differences: ReadonlyArray<string>): Promise<string> => {
  const keys = differences.slice(0, 3).map((d) => d.slice(0, d.indexOf(":")))
  const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect)
  const events = await run(engine.store.events(0, 1_000_000))
  const refused = await run(engine.store.refused(0, 1_000_000))
  const items = []
  for (const state of ["pending", "in_flight", "abandoned"] as const) items.push(...(await run(engine.workQueue.list(source, state, 100_000))))
  const lines: Array<string> = []
  for (const key of keys) {
    const [resource, id] = key.split("/") as [keyof typeof OBJECT_TYPES, string]
    lines.push(`--- ${key}`, "simulator:", ...sim.trace(key).map((l) => `  ${l}`), "events recorded:")
    for (const e of events.filter((e) => e.operation.objectType === OBJECT_TYPES[resource] && e.operation.objectId === id)) {
      lines.push(`  seq ${e.seq} ${e.operation.op} registreringstid ${e.operation.registreringstid} ${e.outcome} (received ${e.receivedAt}, ${e.eventId})`)
    }
    for (const r of refused.filter((r) => r.objectId === id)) lines.push(`  refused at ${r.receivedAt}: ${r.reason}`)
    for (const i of items.filter((i) => i.resource === resource && i.objectId === id)) lines.push(`  work item: ${JSON.stringify(i)}`)
  }
  return lines.join("\n")
}

/** Registrations of an object never go backwards: accepted events, in arrival order, per object. */
export const registrationsNeverBackwards = async (engine: OpenStore) => {
  const latest = new Map<string, string>()
  const backwards: Array<string> = []
  for (const event of await Effect.runPromise(engine.store.events(0, 1_000_000))) {
    const key = `${event.operation.objectType}/${event.operation.objectId}`
    const previous = latest.get(key)
    if (previous !== undefined && event.operation.registreringstid < previous) backwards.push(`${key}: ${event.operation.registreringstid} after ${previous}`)
    latest.set(key, event.operation.registreringstid)
  }
  expect(backwards).toEqual([])
}

/**
 * Wait until an engine consumes its queue (up to 30 s). Not merely until the queue exists: the consumer
 * declares the queue, then binds it, then consumes — a notification published between the declaration
 * and the binding is routed nowhere and lost (a CI run lost an object's only notification that way).
 */
export const waitForConsumer = async (queue: string) => {
  const connection = await connectRabbit()
  try {
    for (let i = 0; i < 300; i++) {
      const ch = await connection.createChannel()
      ch.on("error", () => undefined)
      const consumers = await ch.checkQueue(queue).then((ok) => ok.consumerCount, () => 0)
      if (consumers > 0) return await ch.close()
      await ch.close().catch(() => undefined)
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`queue ${queue} was never consumed (declared, bound and listened to) within 30 s`)
  } finally {
    await connection.close().catch(() => undefined)
  }
}
