/**
 * The IntArk consumer: one AMQP connection per source, prefetch N, manual ack.
 * Each delivered batch is decoded and recorded in the work queue in one
 * transaction, and only then acked — acks stay fast (a fetch never holds
 * one up) and nothing is lost across a crash. Poison is recorded as refused
 * and dead-lettered with its reason. amqplib does not reconnect by itself:
 * a dropped connection or channel ends the session, and the loop opens a new
 * one after a jittered, capped backoff.
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage, type Options } from "amqplib"
import { Cause, Chunk, Clock, Deferred, Duration, Effect, Queue, Random, type Redacted } from "effect"
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
}

class SessionEnded extends Error {}

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
    noDelay: true,
    timeout: 15_000,
    clientProperties: { connection_name: `skygge ${options.source.name}` },
    ...(a.username !== undefined && options.password !== undefined ? { credentials: amqp.credentials.plain(a.username, reveal(options.password)) } : {})
  }
}

const withHeartbeat = (url: string, seconds: number) => (/[?&]heartbeat=/.test(url) ? url : `${url}${url.includes("?") ? "&" : "?"}heartbeat=${seconds}`)

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

/** One connected session: runs until the connection or channel goes away. */
const session = (options: ConsumerOptions, reveal: (r: Redacted.Redacted) => string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { source } = options
      const workQueue = yield* WorkQueue
      const connection: ChannelModel = yield* Effect.acquireRelease(
        Effect.tryPromise(() => amqp.connect(withHeartbeat(source.amqp.url, source.amqp.heartbeatSeconds), socketOptions(options, reveal))),
        (c) => Effect.promise(() => c.close().catch(() => undefined))
      )
      const ended = yield* Deferred.make<never, Error>()
      // The broker's reason arrives as an 'error' just before 'close'; keep it for the log line.
      let brokerReason = ""
      const noteReason = (e: Error) => void (brokerReason = `: ${e.message}`)
      const end = (why: string) => () => Deferred.unsafeDone(ended, Effect.fail(new SessionEnded(`${why}${brokerReason}`)))
      connection.on("error", noteReason)
      connection.on("close", end("connection closed"))
      const channel = yield* Effect.tryPromise(() => connection.createChannel())
      channel.on("error", noteReason)
      channel.on("close", end("channel closed"))
      yield* Effect.tryPromise(() => topology(channel, source))
      yield* Effect.tryPromise(() => channel.prefetch(source.amqp.prefetch))
      const inbox = yield* Queue.unbounded<ConsumeMessage>()
      yield* Effect.tryPromise(() =>
        channel.consume(source.amqp.queue, (msg) => {
          if (msg === null) end("consumer cancelled by the broker")()
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
      return yield* Effect.raceFirst(process, Deferred.await(ended))
    })
  )

/** Consume forever, reconnecting with jittered, capped backoff; the backoff resets after a session that got going. */
export const runConsumer = (options: ConsumerOptions, reveal: (r: Redacted.Redacted) => string) =>
  Effect.gen(function* () {
    let attempt = 0
    for (;;) {
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(session(options, reveal))
      if ((yield* Clock.currentTimeMillis) - started > 10_000) attempt = 0
      const cap = options.source.amqp.reconnectMaxSeconds * 1000
      const delay = Math.min(cap, 250 * 2 ** Math.min(attempt++, 20)) * (0.5 + (yield* Random.next) / 2)
      const why = exit._tag === "Failure" ? errorText(exit.cause) : "ended"
      yield* Effect.logWarning("intark consumer disconnected; reconnecting").pipe(
        Effect.annotateLogs({ source: options.source.name, reason: why, retryInMs: Math.round(delay) })
      )
      yield* Effect.sleep(Duration.millis(delay))
    }
  })

/** The failure's message only (never the URL's credentials: amqplib messages do not carry them). */
const errorText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  // Effect.tryPromise wraps a rejection as an UnknownException: the reason is the wrapped error's.
  const inner = (error as { error?: unknown })?.error instanceof Error ? (error as { error: Error }).error : error
  const s = inner instanceof Error ? inner.message : String(inner)
  return s.replace(/\/\/[^@/\s]*@/g, "//***@").slice(0, 300)
}
