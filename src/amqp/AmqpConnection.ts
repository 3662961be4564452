/**
 * One broker connection, for whoever talks AMQP (the IntArk consumer, the
 * outbox publisher). amqplib does not reconnect by itself and tells of a lost
 * connection or channel only by `error` and `close` events: here they become
 * a failure (with the broker's reason) of the session that used them, and a
 * session that fails is opened again after the engine's backoff — jittered,
 * capped, reset once a session got going. The URL may carry a password: no
 * message leaves this module with it.
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib"
import { Cause, Clock, Data, Deferred, Duration, Effect, Schedule, type Scope, SynchronizedRef } from "effect"
import { backoff, type BackoffOptions } from "../schedule/Backoff.js"

export class AmqpError extends Data.TaggedError("AmqpError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface AmqpConnectionOptions {
  /** amqp(s)://user:password@host/vhost — the password never shown. */
  readonly url: string
  /** Shown in the broker's management UI. */
  readonly name: string
  readonly heartbeatSeconds: number
  /** Socket options beside `noDelay` (TLS material, credentials, a connect timeout), read at each connect. */
  readonly socket?: () => Readonly<Record<string, unknown>>
}

/** A connection while it lives: `closed` fails (with the broker's reason) when it goes. */
export interface Connected {
  readonly model: ChannelModel
  readonly closed: Effect.Effect<never, AmqpError>
  readonly isOpen: Effect.Effect<boolean>
}

/** A channel while it lives: `closed` fails when it or its connection goes. */
export interface OpenChannel<C extends Channel> {
  readonly channel: C
  readonly closed: Effect.Effect<never, AmqpError>
  readonly isOpen: Effect.Effect<boolean>
}

export interface AmqpConnectionShape {
  /** The live connection, opened when none is (one try: the caller decides when to try again). */
  readonly connection: Effect.Effect<Connected, AmqpError>
  /** Close the connection (a user found it broken); the next `connection` opens a new one. */
  readonly reset: Effect.Effect<void>
  /** A channel on a connection, closed with the scope. */
  readonly channel: (connected: Connected) => Effect.Effect<OpenChannel<Channel>, AmqpError, Scope.Scope>
  /** A confirm channel on a connection, living as long as the connection does. */
  readonly confirmChannel: (connected: Connected) => Effect.Effect<OpenChannel<ConfirmChannel>, AmqpError>
  /**
   * Run `session` on a fresh connection until it or the connection fails, then
   * reconnect after the backoff, forever; `what` names it in the log lines.
   */
  readonly keepRunning: <E, R>(what: string, reconnect: BackoffOptions, session: (connected: Connected) => Effect.Effect<never, E, R>) => Effect.Effect<never, never, Exclude<R, Scope.Scope>>
}

/** A session that ran this long got going: the backoff starts over after it. */
const GOT_GOING_MS = 10_000

/** Heartbeats by default, so a silently dead connection is noticed. */
const withHeartbeat = (url: string, seconds: number) => (/[?&]heartbeat=/.test(url) ? url : `${url}${url.includes("?") ? "&" : "?"}heartbeat=${seconds}`)

/** A message without the URL's credentials (amqplib may quote the URL). */
export const redactCredentials = (message: string, url: string): string => {
  const secret = /\/\/([^@/]*)@/.exec(url)?.[1]
  const named = secret ? message.split(secret).join("***") : message
  return named.replace(/\/\/[^@/\s]*@/g, "//***@")
}

/** What a failed session says: the failure's message only, without credentials. */
const reasonOf = (cause: Cause.Cause<unknown>, url: string): string => {
  const error = Cause.squash(cause)
  // Effect.tryPromise wraps a rejection as an UnknownException: the reason is the wrapped error's.
  const inner = (error as { error?: unknown })?.error instanceof Error ? (error as { error: Error }).error : error
  return redactCredentials(inner instanceof Error ? inner.message : String(inner), url).slice(0, 300)
}

/** A promise of amqplib as an effect failing with an AmqpError. */
export const amqpTry = <A>(url: string, attempt: () => Promise<A>) =>
  Effect.tryPromise({ try: attempt, catch: (e) => new AmqpError({ message: redactCredentials(e instanceof Error ? e.message : String(e), url), cause: e }) })

/** Fails `closed` on the emitter's `close`, with the reason its `error` gave just before. */
const watchClose = (emitter: { on: (event: string, listener: (e: Error) => void) => unknown }, what: string, closed: Deferred.Deferred<never, AmqpError>, url: string) => {
  let reason = ""
  emitter.on("error", (e: Error) => void (reason = `: ${redactCredentials(e.message, url)}`))
  emitter.on("close", () => void Deferred.unsafeDone(closed, Effect.fail(new AmqpError({ message: `${what} closed${reason}` }))))
}

export const makeAmqpConnection = (options: AmqpConnectionOptions): Effect.Effect<AmqpConnectionShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { url } = options
    const current = yield* SynchronizedRef.make<{ readonly connected: Connected } | undefined>(undefined)

    const open = Effect.gen(function* () {
      const model = yield* amqpTry(url, () =>
        amqp.connect(withHeartbeat(url, options.heartbeatSeconds), { ...options.socket?.(), noDelay: true, clientProperties: { connection_name: options.name } })
      )
      const gone = yield* Deferred.make<never, AmqpError>()
      watchClose(model, "connection", gone, url)
      return { connected: { model, closed: Deferred.await(gone), isOpen: Effect.map(Deferred.isDone(gone), (done) => !done) } }
    })

    const connection = SynchronizedRef.modifyEffect(current, (live) =>
      Effect.flatMap(live === undefined ? Effect.succeed(false) : live.connected.isOpen, (usable) =>
        usable ? Effect.succeed([live!.connected, live] as const) : Effect.map(open, (fresh) => [fresh.connected, fresh] as const)
      )
    )

    const reset = SynchronizedRef.getAndSet(current, undefined).pipe(
      Effect.flatMap((live) => (live === undefined ? Effect.void : Effect.promise(() => live.connected.model.close().catch(() => undefined))))
    )
    yield* Effect.addFinalizer(() => reset)

    const watchChannel = <C extends Channel>(connected: Connected, channel: C) =>
      Effect.map(Deferred.make<never, AmqpError>(), (gone): OpenChannel<C> => {
        watchClose(channel, "channel", gone, url)
        const isOpen = Effect.zipWith(Deferred.isDone(gone), connected.isOpen, (done, connectionOpen) => !done && connectionOpen)
        return { channel, closed: Effect.raceFirst(Deferred.await(gone), connected.closed), isOpen }
      })

    const channel = (connected: Connected) =>
      Effect.acquireRelease(amqpTry(url, () => connected.model.createChannel()), (ch) => Effect.promise(() => ch.close().catch(() => undefined))).pipe(
        Effect.flatMap((ch) => watchChannel(connected, ch))
      )

    const confirmChannel = (connected: Connected) => Effect.flatMap(amqpTry(url, () => connected.model.createConfirmChannel()), (ch) => watchChannel(connected, ch))

    const keepRunning = <E, R>(what: string, reconnect: BackoffOptions, session: (connected: Connected) => Effect.Effect<never, E, R>) =>
      Effect.gen(function* () {
        let why = ""
        const retry = yield* Schedule.driver(
          backoff(reconnect).pipe(
            Schedule.tapOutput((delay) => Effect.logWarning(`${what} disconnected; reconnecting`).pipe(Effect.annotateLogs({ reason: why, retryInMs: Math.round(Duration.toMillis(delay)) })))
          )
        )
        for (;;) {
          const started = yield* Clock.currentTimeMillis
          // Each session on a connection of its own, closed with it.
          const exit = yield* Effect.exit(
            Effect.scoped(
              Effect.gen(function* () {
                yield* Effect.addFinalizer(() => reset)
                const connected = yield* connection
                return yield* Effect.raceFirst(session(connected), connected.closed)
              })
            )
          )
          if ((yield* Clock.currentTimeMillis) - started > GOT_GOING_MS) yield* retry.reset
          why = exit._tag === "Failure" ? reasonOf(exit.cause, url) : "ended"
          yield* Effect.orDie(retry.next(undefined))
        }
      })

    return { connection, reset, channel, confirmChannel, keepRunning }
  })
