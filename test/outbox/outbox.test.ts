/**
 * The outbox end to end: real changes through the store, delivered by the real
 * publishers — to the real RabbitMQ through a TCP proxy that cuts the
 * connection mid-stream, and to a webhook receiver that fails at first.
 * (What the store writes to the outbox is the store contract's: test/store/contract/outbox.ts.)
 */
import { Effect, Exit, Fiber, Logger, LogLevel, Scope } from "effect"
import { createHmac } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { fromEpochMillis } from "../../src/domain/core/Instant.js"
import { canonicalJson, type Operation } from "../../src/domain/core/Operation.js"
import { makeAmqpDeliverer } from "../../src/outbox/AmqpPublisher.js"
import { type Deliverer, runPublisher } from "../../src/outbox/Publisher.js"
import { makeWebhookDeliverer } from "../../src/outbox/WebhookPublisher.js"
import type { OutboxRecord } from "../../src/store/Outbox.js"
import { openStore, type OpenStore } from "../support/engine.js"
import { connectRabbit, RABBIT_URL, startTcpProxy } from "../support/rabbit.js"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const tempStore = () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-outbox-"))
  const open = openStore(join(dir, "s.db"))
  cleanups.push(() => {
    open.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return open
}

const notification = { source: "urn:skygge:test", prefix: "skygge", subjectBaseUrl: "http://127.0.0.1:8080" }
const options = { batchSize: 20, baseDelayMs: 20, maxDelayMs: 300, pollMs: 100, deliveryTimeoutMs: 3000 }

/** A change per call: object i % objects gets a new name at a later registration. */
const changes = (open: OpenStore, from: number, count: number, objects: number) =>
  Effect.runPromise(
    open.store.ingest(
      "test",
      Array.from({ length: count }, (_, k) => {
        const i = from + k
        const op: Operation = {
          op: "assert",
          objectType: "person",
          objectId: `p${i % objects}`,
          registreringstid: fromEpochMillis(Date.UTC(2020, 0, 1) + i * 1000),
          virkningFra: null,
          virkningTil: null,
          data: canonicalJson({ name: `v${i}` }),
          eventId: `e${i}`
        }
        return { input: op }
      })
    )
  )

const startPublisher = (open: OpenStore, deliverer: Deliverer) => {
  const fiber = Effect.runFork(runPublisher(deliverer, options).pipe(Effect.provide(open.context), Logger.withMinimumLogLevel(LogLevel.None)))
  cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined))
  return fiber
}

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const allRecords = (open: OpenStore) => Effect.runPromise(open.outbox.after(0, 1_000_000))

/** Every record's id exactly once after dedup, nothing unknown, and per object in outbox order. */
const expectDeliveredInOrder = (records: ReadonlyArray<OutboxRecord>, received: ReadonlyArray<{ id: string; objectid: string; sequence: string }>) => {
  const firstSeen: Array<{ id: string; objectid: string; sequence: string }> = []
  const seen = new Set<string>()
  for (const event of received) if (!seen.has(event.id)) (seen.add(event.id), firstSeen.push(event))
  expect([...seen].sort()).toEqual(records.map((r) => r.id).sort())
  const lastSeq = new Map<string, number>()
  for (const event of firstSeen) {
    const seq = Number(event.sequence)
    expect(seq).toBeGreaterThan(lastSeq.get(event.objectid) ?? 0)
    lastSeq.set(event.objectid, seq)
  }
}

describe("outbox", () => {
  it("delivers every record to a webhook that fails at first, signed, in order, and keeps the backlog until then", async () => {
    const open = tempStore()
    const received: Array<{ id: string; objectid: string; sequence: string }> = []
    let failuresLeft = 4
    let badSignatures = 0
    const server = createServer((req, res) => {
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString()))
      req.on("end", () => {
        if (req.headers["x-skygge-signature"] !== `sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`) badSignatures++
        if (failuresLeft > 0) {
          failuresLeft--
          res.writeHead(503).end()
          return
        }
        received.push(JSON.parse(body) as { id: string; objectid: string; sequence: string })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
    const port = (server.address() as { port: number }).port
    const url = `http://127.0.0.1:${port}/hook?token=abc`

    await changes(open, 0, 30, 4)
    const deliverer = makeWebhookDeliverer({ ...notification, url, secret: "s3cret", timeoutMs: 2000 })
    expect(deliverer.name).not.toContain("token=abc")
    startPublisher(open, deliverer)
    await changes(open, 30, 30, 4)
    const records = await allRecords(open)
    await waitFor("the webhook backlog to drain", async () => (await Effect.runPromise(open.outbox.states([deliverer.name])))[0]!.backlog === 0)
    expect(failuresLeft).toBe(0)
    expect(badSignatures).toBe(0)
    expectDeliveredInOrder(records, received)
    const [state] = await Effect.runPromise(open.outbox.states([deliverer.name]))
    expect(state).toMatchObject({ backlog: 0, attempts: 0, lastError: null, deliveredSeq: records[records.length - 1]!.seq })
  })

  it("publishes CloudEvents to RabbitMQ exactly once per id after dedup, in per-object order, across connection cuts", async () => {
    const open = tempStore()
    const suffix = `${process.pid}-${Date.now()}`
    const exchange = `skygge-test-outbox-${suffix}`
    const consumerConnection = await connectRabbit()
    cleanups.push(() => consumerConnection.close().catch(() => undefined))
    const ch = await consumerConnection.createChannel()
    await ch.assertExchange(exchange, "topic", { durable: false, autoDelete: false })
    const { queue } = await ch.assertQueue(`skygge-test-outbox-${suffix}`, { exclusive: true })
    await ch.bindQueue(queue, exchange, "skygge.person.#")
    cleanups.push(async () => {
      await ch.deleteQueue(queue).catch(() => undefined)
      await ch.deleteExchange(exchange).catch(() => undefined)
    })
    const received: Array<{ id: string; objectid: string; sequence: string; type: string; routingKey: string; messageId: unknown }> = []
    await ch.consume(queue, (msg) => {
      if (msg === null) return
      received.push({ ...(JSON.parse(msg.content.toString()) as { id: string; objectid: string; sequence: string; type: string }), routingKey: msg.fields.routingKey, messageId: msg.properties.messageId })
      ch.ack(msg)
    })

    const proxy = await startTcpProxy(5672)
    cleanups.push(() => proxy.close())
    const url = RABBIT_URL.replace(/:5672\b/, `:${proxy.port}`)
    const scope = Effect.runSync(Scope.make())
    cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    const deliverer = await Effect.runPromise(Scope.extend(makeAmqpDeliverer({ ...notification, url, exchange, declareExchange: false }), scope))
    startPublisher(open, deliverer)

    let cuts = 0
    for (let round = 0; round < 6; round++) {
      await changes(open, round * 50, 50, 7)
      await new Promise((r) => setTimeout(r, 30))
      if (round % 2 === 1) cuts += proxy.cut() > 0 ? 1 : 0
    }
    const records = await allRecords(open)
    expect(records.length).toBe(300)
    await waitFor("every id at the consumer", () => new Set(received.map((e) => e.id)).size === records.length, 30_000)
    expect(cuts).toBeGreaterThan(0)
    expectDeliveredInOrder(records, received)
    for (const event of received) {
      expect(event.messageId).toBe(event.id)
      expect(event.routingKey).toBe(event.type)
      expect(event.type).toMatch(/^skygge\.person\.(created|updated)$/)
      expect(event).not.toHaveProperty("data")
    }
  })
})
