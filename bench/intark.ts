/**
 * The IntArk source's benchmark (`npm run bench:intark`, also part of `npm run bench`).
 * On the real RabbitMQ (SKYGGE_BENCH_AMQP_URL, default 127.0.0.1:5672), in one run:
 *
 *   reference: a bare amqplib loop — publish M FS notifications to a topic exchange,
 *              consume them from a bound queue (prefetch 500) and ack each;
 *   engine:    publish M notifications for M distinct persons through the FS simulator
 *              and time until every one is registered: consume → work queue → fetch
 *              from the simulator's API over loopback → commit.
 *
 * In both, the publisher (and the simulator's API) run in a separate provider process
 * (bench/intark-provider.ts), as a real provider would. SKYGGE_BENCH_M sets M (default 20,000).
 */
import { Leadership } from "../src/cluster/Leadership.js"
import amqp from "amqplib"
import { Effect, Fiber, Logger, LogLevel, Schema } from "effect"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { once } from "node:events"
import { createInterface } from "node:readline"
import { mkdirSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { ActivationStore } from "../src/store/Activations.js"
import { CommitSignal, makeCommitSignal } from "../src/store/CommitSignal.js"
import { OutboxStore } from "../src/store/Outbox.js"
import { Store } from "../src/store/Store.js"
import { makeSqliteActivations, makeSqliteOutbox } from "../src/store/sqlite/SqliteDownstream.js"
import { makeSqliteStore, openSqlite } from "../src/store/sqlite/SqliteStore.js"
import { migrateSqliteFile } from "../src/store/sqlite/SqliteOpen.js"
import { makeSqliteWorkQueue } from "../src/store/sqlite/SqliteWorkQueue.js"
import { WorkQueue } from "../src/store/WorkQueue.js"
import { ClusterMembers } from "../src/store/ClusterMembers.js"
import { makeSqliteClusterMembers } from "../src/store/sqlite/SqliteClusterMembers.js"
import { Membership } from "../src/cluster/Membership.js"
import { ResyncReports } from "../src/store/ResyncReports.js"
import { makeSqliteResyncReports } from "../src/store/sqlite/SqliteResyncReports.js"
import { IntarkSourceSchema } from "../src/sources/intark/IntarkConfig.js"
import { startIntarkSource } from "../src/sources/intark/IntarkSourceLive.js"
import { ORIGIN_HEADER } from "../src/sources/intark/simulator/FsSimulator.js"
import { Context } from "effect"
import { fmt } from "./support.js"

const M = Number(process.env.SKYGGE_BENCH_M ?? 20_000)
/** provider.concurrency: parallel fetches against the provider (default 8 in config; a local simulator takes more). */
const CONCURRENCY = Number(process.env.SKYGGE_BENCH_CONCURRENCY ?? 32)
const AMQP_URL = process.env.SKYGGE_BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"
const dir = resolve(".bench", `intark-${process.pid}`)
const tag = `skygge-bench-${randomBytes(4).toString("hex")}`

const connect = async () => {
  try {
    return await amqp.connect(AMQP_URL)
  } catch (e) {
    throw new Error(`RabbitMQ is not reachable (${(e as Error).message}); start it with 'rabbitmq-server -detached'`)
  }
}

/** The provider process (bench/intark-provider.ts) and its stdio protocol. */
const provider = async (mode: "bare" | "sim", exchange: string) => {
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "intark-provider.ts"), mode, AMQP_URL, exchange, String(M)], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const lines = createInterface({ input: child.stdout! })
  const messages: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  lines.on("line", (line) => {
    messages.push(JSON.parse(line) as Record<string, unknown>)
    waiters.shift()?.()
  })
  const next = async () => {
    if (messages.length === 0) await new Promise<void>((r) => waiters.push(r))
    return messages.shift()!
  }
  const ready = (await next()).ready
  return {
    ready,
    go: () => child.stdin!.write("go\n"),
    published: next,
    stop: async () => {
      child.stdin!.end()
      if (child.exitCode === null) await once(child, "exit")
    }
  }
}

/** Consume-and-ack M FS notifications published by the provider process, with nothing in between. */
const bareLoop = async (): Promise<number> => {
  const exchange = `${tag}-bare`, queue = `${tag}-bare-q`
  const publisher = await provider("bare", exchange)
  const connection = await connect()
  const sub = await connection.createChannel()
  await sub.assertQueue(queue, { durable: true })
  await sub.bindQueue(queue, exchange, "no.uio.fs.FS-prod.personer.*")
  await sub.prefetch(500)
  let acked = 0
  const done = new Promise<void>((resolveDone) => {
    void sub.consume(queue, (msg) => {
      if (msg === null) return
      JSON.parse(msg.content.toString("utf8")) // as little as a consumer can do: read it
      sub.ack(msg)
      if (++acked === M) resolveDone()
    })
  })
  const start = performance.now()
  publisher.go()
  await done
  const rate = M / ((performance.now() - start) / 1000)
  await publisher.stop()
  await sub.deleteQueue(queue)
  await sub.deleteExchange(exchange)
  await connection.close()
  return rate
}

/** The engine end to end against the simulator in the provider process. */
const engineLoop = async (): Promise<number> => {
  const exchange = `${tag}-fs`, queue = `${tag}-q`
  const sim = await provider("sim", exchange)
  migrateSqliteFile({ filename: join(dir, "skygge.db") })
  const db = openSqlite({ filename: join(dir, "skygge.db"), synchronous: "NORMAL" })
  const signal = Effect.runSync(makeCommitSignal)
  const store = makeSqliteStore(db, signal)
  const context = Context.make(Store, store).pipe(
    Context.add(ActivationStore, makeSqliteActivations(db, signal)),
    Context.add(OutboxStore, makeSqliteOutbox(db)),
    Context.add(CommitSignal, signal),
    Context.add(WorkQueue, makeSqliteWorkQueue(db)),
    Context.add(ResyncReports, makeSqliteResyncReports(db)),
    Context.add(ClusterMembers, makeSqliteClusterMembers(db))
  )
  const source = Schema.decodeUnknownSync(IntarkSourceSchema)({
    kind: "intark",
    name: "bench",
    format: "fs",
    amqp: { url: AMQP_URL, queue, declare: true, exchange, bindings: ["no.uio.fs.FS-prod.personer.*"] },
    provider: { baseUrl: String(sim.ready), concurrency: CONCURRENCY, deletion: { header: { ...ORIGIN_HEADER } } },
    resources: { personer: { objectType: "fs.person" } }
  })
  const fiber = Effect.runFork(
    Effect.scoped(Effect.zipRight(startIntarkSource(source), Effect.never)).pipe(
      Effect.provide(Membership.layer({ alone: true })),
      Effect.provide(context),
      Effect.provide(Leadership.layerAlone),
      Logger.withMinimumLogLevel(LogLevel.Error)
    )
  )
  // Wait for the consumer, not only its queue: a notification published before the queue is bound is lost.
  const probe = await connect()
  for (let i = 0; ; i++) {
    const ch = await probe.createChannel()
    ch.on("error", () => undefined)
    if ((await ch.checkQueue(queue).then((ok) => ok.consumerCount, () => 0)) > 0) break
    if (i > 100) throw new Error("the engine did not consume its queue")
    await new Promise((r) => setTimeout(r, 100))
  }
  const start = performance.now()
  sim.go()
  void sim.published().then(() => process.env.SKYGGE_BENCH_DEBUG && console.log(`  provider published all in ${fmt(performance.now() - start)} ms`))
  for (;;) {
    if (process.env.SKYGGE_BENCH_DEBUG) console.log(`  ${fmt(performance.now() - start)} ms: ${Effect.runSync(store.stats).objects} objects`)
    if (Effect.runSync(store.stats).objects >= M) break
    if (performance.now() - start > 600_000) throw new Error(`only ${Effect.runSync(store.stats).objects} of ${M} registered after 10 minutes`)
    await new Promise((r) => setTimeout(r, process.env.SKYGGE_BENCH_DEBUG ? 250 : 20))
  }
  const rate = M / ((performance.now() - start) / 1000)
  if (process.env.SKYGGE_BENCH_DEBUG) {
    const u = process.resourceUsage()
    console.log(`  engine cpu: user ${Math.round(u.userCPUTime / 1000)} ms, system ${Math.round(u.systemCPUTime / 1000)} ms (whole process)`)
  }
  await Effect.runPromise(Fiber.interrupt(fiber))
  const ch = await probe.createChannel()
  await ch.deleteQueue(queue)
  await probe.close()
  await sim.stop()
  db.close()
  return rate
}

const main = async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`skygge IntArk benchmark — M = ${fmt(M)} notifications, node ${process.version}, ${new Date().toISOString()}`)
  const bare = process.env.SKYGGE_BENCH_SKIP_BARE ? 1 : await bareLoop()
  console.log(`bare amqplib publish → consume → ack                 ${fmt(bare).padStart(8)} notifications/s`)
  const engine = await engineLoop()
  const ratio = engine / bare
  console.log(
    `engine publish → consume → work queue → fetch → commit ${fmt(engine).padStart(8)} notifications/s   ratio ${fmt(ratio, 2)}   ` +
      `target ≥ 5,000/s and ≥ 0.25: ${engine >= 5000 && ratio >= 0.25 ? "PASS" : "MISS"}`
  )
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  rmSync(dir, { recursive: true, force: true })
  process.exitCode = 1
})
