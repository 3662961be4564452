/**
 * Only what may pass is tried again: a 503, a 429 or a connection cut is
 * retried up to maxAttempts; a 401, a 404, a body that is not JSON or a
 * GraphQL error answer is asked once. Through the real request code against a
 * real HTTP server on loopback that counts the requests it answers.
 */
import { Duration, Effect, Either, Schema } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { type FetchPolicy } from "../../src/sources/datafordeler/DafConfig.js"
import { getJson, makePools, noCredentials, postGraphql, type Service, withRetry } from "../../src/sources/datafordeler/ObjectFetch.js"
import type { UpstreamError } from "../../src/sources/FetchError.js"
import { forEachListPage } from "../../src/sources/intark/FullLoad.js"
import { IntarkSourceSchema } from "../../src/sources/intark/IntarkConfig.js"
import { useCleanups } from "../support/cleanups.js"

const cleanups = useCleanups()

type Answer = (req: IncomingMessage, res: ServerResponse) => void

/** A loopback server answering every request with `answer`, counting them. */
const serve = async (answer: Answer) => {
  let requests = 0
  const server = createServer((req, res) => {
    requests++
    req.resume()
    req.on("end", () => answer(req, res))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()))
  cleanups.push(() => (server.listening ? close() : undefined))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests, close }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => (_req, res) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const policy: FetchPolicy = { concurrency: 1, timeoutSeconds: 5, maxAttempts: 3, maxBackoffSeconds: 0.05 }

/** Run a Datafordeler request with retries against a fresh pool; its failure, or undefined. */
const failureOf = <A>(request: (service: Service) => Effect.Effect<A, UpstreamError>) =>
  Effect.runPromise(
    Effect.scoped(Effect.gen(function* () {
      const service: Service = { pools: yield* makePools, credentials: noCredentials, policy }
      return yield* Effect.either(withRetry(policy, request(service)))
    }))
  ).then((r) => (Either.isLeft(r) ? r.left : undefined))

describe("Datafordeler requests retry only what may pass", () => {
  it("a 401 is asked once, and says it is not transient", async () => {
    const server = await serve(json(401, { message: "no" }))
    const error = await failureOf((s) => getJson(s, `${server.url}/rest/x?apiKey=secret-key-1`))
    expect(server.requests()).toBe(1)
    expect(error).toMatchObject({ _tag: "FetchError", status: 401, transient: false })
    expect(error?.message).not.toContain("secret-key-1")
  })

  it("a 404 is asked once", async () => {
    const server = await serve(json(404, { message: "gone" }))
    await failureOf((s) => getJson(s, `${server.url}/rest/x`))
    expect(server.requests()).toBe(1)
  })

  it("a 503 is asked maxAttempts times", async () => {
    const server = await serve(json(503, { message: "Service Unavailable" }))
    const error = await failureOf((s) => getJson(s, `${server.url}/rest/x`))
    expect(server.requests()).toBe(policy.maxAttempts)
    expect(error).toMatchObject({ _tag: "FetchError", status: 503, transient: true })
  })

  it("a 503 that passes is answered", async () => {
    let n = 0
    const server = await serve((req, res) => (++n < 3 ? json(503, {})(req, res) : json(200, [{ ok: true }])(req, res)))
    const answer = await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
      const service: Service = { pools: yield* makePools, credentials: noCredentials, policy }
      return yield* withRetry(policy, getJson(service, `${server.url}/rest/x`))
    })))
    expect(answer).toEqual([{ ok: true }])
    expect(server.requests()).toBe(3)
  })

  it("a 429 waits as long as Retry-After asks (up to the cap), and is retried", async () => {
    const server = await serve(json(429, {}, { "retry-after": "1" }))
    const started = Date.now()
    await failureOf((s) => getJson(s, `${server.url}/rest/x`))
    expect(server.requests()).toBe(policy.maxAttempts)
    // The cap (maxBackoffSeconds 0.05) bounds what the service asks: two waits, far below 2 × 1 s.
    expect(Date.now() - started).toBeLessThan(1500)
  })

  it("a 200 whose body is not JSON is asked once", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" })
      res.end("<html>maintenance</html>")
    })
    const error = await failureOf((s) => getJson(s, `${server.url}/rest/x`))
    expect(server.requests()).toBe(1)
    expect(error).toMatchObject({ _tag: "DecodeError", transient: false })
  })

  it("an answer cut off half-way is retried", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.write('[{"id": "1", "na')
      res.destroy()
    })
    const error = await failureOf((s) => getJson(s, `${server.url}/rest/x`))
    expect(server.requests()).toBe(policy.maxAttempts)
    expect(error).toMatchObject({ _tag: "FetchError", transient: true })
  })

  it("a refused connection is retried", async () => {
    const server = await serve(json(200, {}))
    await server.close()
    const error = await failureOf((s) => getJson(s, `${server.url}/rest/x`))
    expect(error).toMatchObject({ _tag: "FetchError", transient: true })
  })

  it("a GraphQL errors answer is asked once; with a 503 it is retried", async () => {
    const refused = await serve(json(200, { errors: [{ message: "The field is not known here" }] }))
    const error = await failureOf((s) => postGraphql(s, `${refused.url}/graphql`, "{ x }", {}))
    expect(refused.requests()).toBe(1)
    expect(error).toMatchObject({ _tag: "DecodeError", transient: false })
    expect(error?.message).toContain("The field is not known here")

    const unavailable = await serve(json(503, { errors: [{ message: "try later" }] }))
    const again = await failureOf((s) => postGraphql(s, `${unavailable.url}/graphql`, "{ x }", {}))
    expect(unavailable.requests()).toBe(policy.maxAttempts)
    expect(again).toMatchObject({ _tag: "FetchError", status: 503, transient: true })
  })
})

describe("IntArk list pages retry only what may pass", () => {
  const source = (baseUrl: string) =>
    Schema.decodeUnknownSync(IntarkSourceSchema)({
      kind: "intark",
      name: "fs",
      amqp: { url: "amqp://127.0.0.1", queue: "q" },
      provider: { baseUrl, maxAttempts: 3, maxBackoffSeconds: 1 },
      resources: { personer: { list: "/personer" } }
    })
  const list = (baseUrl: string) =>
    Effect.runPromise(Effect.either(forEachListPage(source(baseUrl), "/personer", undefined, {}, () => Effect.void)).pipe(Effect.timeout(Duration.seconds(10))))

  it("a 401 is asked once, a 503 maxAttempts times, a body that is not JSON once", async () => {
    const unauthorised = await serve(json(401, {}))
    expect(Either.getLeft(await list(unauthorised.url))).toMatchObject({ value: { _tag: "FetchError", status: 401, transient: false } })
    expect(unauthorised.requests()).toBe(1)

    const unavailable = await serve(json(503, {}))
    expect(Either.getLeft(await list(unavailable.url))).toMatchObject({ value: { _tag: "FetchError", status: 503, transient: true } })
    expect(unavailable.requests()).toBe(3)

    const html = await serve((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html/>"))
    expect(Either.getLeft(await list(html.url))).toMatchObject({ value: { _tag: "DecodeError" } })
    expect(html.requests()).toBe(1)
  })
})
