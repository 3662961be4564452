/**
 * The IntArk consumer: one AMQP connection per source, prefetch N, manual ack.
 * Each delivered batch is decoded and recorded in the work queue in one
 * transaction, and only then acked — acks stay fast (a fetch never holds
 * one up) and nothing is lost across a crash. Poison is recorded as refused
 * and dead-lettered with its reason. The connection is the AMQP connection
 * service's: a dropped connection or channel ends the session, and it opens
 * a new one after the engine's backoff (capped at `reconnectMaxSeconds`).
 */
import amqp, { type Channel, type ConsumeMessage, type Options } from "amqplib"
import { Chunk, Deferred, Duration, Effect, Queue, type Redacted } from "effect"
import { AmqpError, type AmqpConnectionShape, amqpTry, type Connected, makeAmqpConnection } from "../../amqp/AmqpConnection.js"
import { readFileSync } from "node:fs"
import { decodeNotification, isHintRefusal } from "../../domain/intark/ChangeHint.js"
import { type Received, WorkQueue } from "../../store/WorkQueue.js"
import type { IntarkSource } from "./IntarkConfig.js"

export interface ConsumerOptions {
  readonly source: IntarkSource
  readonly password?: Redacted.Redacted
  readonly passphrase?: Redacted.Redacted
  /** Largest batch recorded in one transaction. */
  readonly batchSize?: number
  /** Completed once the queue is declared and bound (or, not declared by us, found): from then on every change is notified. */
  readonly bound?: Deferred.Deferred<void>
}

const socketOptions = (options: ConsumerOptions, reveal: (r: Redacted.Redacted) => string) => {
  const a = options.source.amqp
  const tls: Record<string, unknown> = {}
  if (a.ca !== undefined) tls.ca = [readFileSync(a.ca)]
  if (a.cert !== undefined) tls.cert = readFileSync(a.cert)
  if (a.key !== undefined) tls.key = readFileSync(a.key)
  if (options.passphrase !== undefined) tls.passphrase = reveal(options.passphrase)
  if (a.servername !== undefined) tls.servername = a.servername
  return {
    ...tls,
    timeout: 15_000,
    ...(a.username !== undefined && options.password !== undefined ? { credentials: amqp.credentials.plain(a.username, reveal(options.password)) } : {})
  }
}

/** Declare and bind our own queue, or only check that the given one exists. */
const topology = async (ch: Channel, source: IntarkSource) => {
  const a = source.amqp
  // A missing dead-letter exchange would close the channel at the first poison message: say so at the start.
  if (a.deadLetterExchange !== undefined) {
    await ch.checkExchange(a.deadLetterExchange).catch((e: Error) => {
      throw new Error(`dead-letter exchange '${a.deadLetterExchange}' does not exist (${e.message})`)
    })
  }
  if (!a.declare) {
    await ch.checkQueue(a.queue)
    return
  }
  await ch.assertQueue(a.queue, { durable: true, ...(a.quorum ? { arguments: { "x-queue-type": "quorum" } } : {}) })
  if (a.exchange !== undefined) for (const pattern of a.bindings) await ch.bindQueue(a.queue, a.exchange, pattern)
}

/** One session on a live connection: runs until the connection or channel goes away. */
const session = (options: ConsumerOptions, amqpConnection: AmqpConnectionShape) => (connected: Connected) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { source } = options
      const url = source.amqp.url
      const workQueue = yield* WorkQueue
      const { channel, closed } = yield* amqpConnection.channel(connected)
      const cancelled = yield* Deferred.make<never, AmqpError>()
      yield* amqpTry(url, () => topology(channel, source))
      if (options.bound !== undefined) yield* Deferred.succeed(options.bound, undefined)
      yield* amqpTry(url, () => channel.prefetch(source.amqp.prefetch))
      const inbox = yield* Queue.unbounded<ConsumeMessage>()
      yield* amqpTry(url, () =>
        channel.consume(source.amqp.queue, (msg) => {
          if (msg === null) Deferred.unsafeDone(cancelled, Effect.fail(new AmqpError({ message: "consumer cancelled by the broker" })))
          else Queue.unsafeOffer(inbox, msg)
        })
      )
      yield* Effect.logInfo("intark consumer connected").pipe(Effect.annotateLogs({ source: source.name, queue: source.amqp.queue }))
      const deadLetter = source.amqp.deadLetterExchange
      // Waiting for messages can be interrupted; recording and acking a batch cannot (half an ack round is a redelivery).
      const handle = (batch: ReadonlyArray<ConsumeMessage>) => Effect.gen(function* () {
        const received: Array<Received> = []
        for (const msg of batch) {
          const hint = decodeNotification(msg.content, msg.fields.routingKey, { format: source.format, ...(source.mapping ? { mapping: source.mapping } : {}) })
          if (isHintRefusal(hint)) received.push({ _tag: "Poison", reason: hint.reason, raw: msg.content.toString("utf8"), routingKey: msg.fields.routingKey })
          else if (source.resources[hint.resource] === undefined) {
            received.push({ _tag: "Poison", reason: `resource '${hint.resource}' is not configured for source '${source.name}'`, raw: msg.content.toString("utf8"), routingKey: msg.fields.routingKey })
          } else received.push({ _tag: "Hint", hint })
        }
        // Recorded durably first; only then acked (or dead-lettered).
        yield* workQueue.record(source.name, received)
        let poison = 0
        const rejectSome = deadLetter === undefined && received.some((r) => r._tag === "Poison")
        batch.forEach((msg, i) => {
          const r = received[i]!
          if (r._tag === "Poison") {
            poison++
            if (deadLetter !== undefined) {
              const headers: Options.Publish["headers"] = { ...msg.properties.headers, "x-skygge-reason": r.reason, "x-skygge-source": source.name }
              channel.publish(deadLetter, msg.fields.routingKey, msg.content, { ...msg.properties, headers, persistent: true } as Options.Publish)
            } else channel.nack(msg, false, false)
          } else if (rejectSome) channel.ack(msg)
        })
        // Batches are handled in delivery order, so one ack with `multiple` settles this whole batch.
        if (!rejectSome) channel.ack(batch[batch.length - 1]!, true)
        if (poison > 0) yield* Effect.logWarning("poison notifications refused and dead-lettered").pipe(Effect.annotateLogs({ source: source.name, count: poison }))
      }).pipe(Effect.uninterruptible)
      const process = Queue.takeBetween(inbox, 1, options.batchSize ?? 500).pipe(
        Effect.flatMap((batch) => handle(Chunk.toReadonlyArray(batch))),
        Effect.forever
      )
      return yield* Effect.raceFirst(process, Effect.raceFirst(closed, Deferred.await(cancelled)))
    })
  )

/** Consume forever, reconnecting with the engine's backoff (reset after a session that got going). */
export const runConsumer = (options: ConsumerOptions, reveal: (r: Redacted.Redacted) => string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { source } = options
      const amqpConnection = yield* makeAmqpConnection({
        url: source.amqp.url,
        name: `skygge ${source.name}`,
        heartbeatSeconds: source.amqp.heartbeatSeconds,
        socket: () => socketOptions(options, reveal)
      })
      return yield* amqpConnection.keepRunning(
        "intark consumer",
        { base: Duration.millis(250), max: Duration.seconds(source.amqp.reconnectMaxSeconds) },
        session(options, amqpConnection)
      )
    })
  ).pipe(Effect.annotateLogs({ source: options.source.name }))
