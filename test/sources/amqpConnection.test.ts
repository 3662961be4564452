/**
 * The AMQP connection service on the real broker: a session whose connection
 * drops (cut under it through a TCP proxy) fails and is opened again after the
 * backoff; a broker that cannot be reached is tried again, its password in no
 * log line; a live connection is reused until it goes.
 */
import { Effect, Exit, Fiber, Logger, Ref, Scope } from "effect"
import { expect, it } from "vitest"
import { makeAmqpConnection } from "../../src/amqp/AmqpConnection.js"
import { useCleanups } from "../support/cleanups.js"
import { RABBIT_URL, startTcpProxy } from "../support/rabbit.js"
import { freePort } from "../support/net.js"
import { sleep } from "../support/wait.js"

const cleanups = useCleanups()

/** Log lines (message and annotations) as text. */
const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.replace(Logger.defaultLogger, Logger.make(({ message, annotations }) => {
    lines.push(`${String(message)} ${JSON.stringify(Object.fromEntries(annotations))}`)
  }))
  return { lines, logger }
}

const runScoped = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>, logger = Logger.replace(Logger.defaultLogger, Logger.none)) => {
  const scope = Effect.runSync(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return Effect.runFork(Scope.extend(effect, scope).pipe(Effect.provide(logger)))
}

it("reconnects a session whose connection is cut, after the backoff, and says why", async () => {
  const proxy = await startTcpProxy(5672)
  cleanups.push(() => proxy.close())
  const url = RABBIT_URL.replace(/:5672\b/, `:${proxy.port}`)
  const sessions = Effect.runSync(Ref.make(0))
  const { lines, logger } = captureLogs()
  const fiber = runScoped(
    Effect.gen(function* () {
      const amqp = yield* makeAmqpConnection({ url, name: "skygge test", heartbeatSeconds: 30 })
      return yield* amqp.keepRunning("test session", { base: "50 millis", max: "200 millis" }, (connected) =>
        Effect.scoped(Effect.gen(function* () {
          const { channel } = yield* amqp.channel(connected)
          yield* Effect.promise(() => channel.checkExchange("amq.topic"))
          yield* Ref.update(sessions, (n) => n + 1)
          return yield* Effect.never
        }))
      )
    }),
    logger
  )
  cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined))
  for (let i = 0; i < 100 && Effect.runSync(Ref.get(sessions)) < 1; i++) await sleep(20)
  expect(proxy.cut()).toBeGreaterThan(0)
  for (let i = 0; i < 200 && Effect.runSync(Ref.get(sessions)) < 2; i++) await sleep(20)
  expect(Effect.runSync(Ref.get(sessions))).toBe(2)
  expect(lines.some((l) => l.startsWith("test session disconnected; reconnecting") && /connection closed/.test(l))).toBe(true)
})

it("tries an unreachable broker again with the backoff, never logging the URL's password", async () => {
  const port = await freePort()
  const password = "pw-never-shown-4b1e"
  const url = `amqp://skygge:${password}@127.0.0.1:${port}`
  const { lines, logger } = captureLogs()
  const fiber = runScoped(
    Effect.gen(function* () {
      const amqp = yield* makeAmqpConnection({ url, name: "skygge test", heartbeatSeconds: 30 })
      return yield* amqp.keepRunning("test session", { base: "20 millis", max: "50 millis" }, () => Effect.never)
    }),
    logger
  )
  cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined))
  for (let i = 0; i < 100 && lines.length < 3; i++) await sleep(20)
  expect(lines.filter((l) => l.startsWith("test session disconnected; reconnecting")).length).toBeGreaterThanOrEqual(3)
  expect(lines.join("\n")).not.toContain(password)
})

it("hands out one live connection until it goes, then a new one", async () => {
  const fiber = runScoped(
    Effect.gen(function* () {
      const amqp = yield* makeAmqpConnection({ url: RABBIT_URL, name: "skygge test", heartbeatSeconds: 30 })
      const first = yield* amqp.connection
      const again = yield* amqp.connection
      yield* amqp.reset
      const fresh = yield* amqp.connection
      return { same: first === again, renewed: fresh !== first, firstOpen: yield* first.isOpen, freshOpen: yield* fresh.isOpen }
    })
  )
  const result = await Effect.runPromise(Fiber.join(fiber))
  expect(result).toEqual({ same: true, renewed: true, firstOpen: false, freshOpen: true })
})
