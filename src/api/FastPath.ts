/**
 * The hot reads without the Effect pipeline: `GET /v1/objects/{type}/{id}` (as of `registreringstid`
 * and `virkningstid`) and `GET /v1/objects/{type}/{id}/history`, answered straight from the node:http
 * request when the store reads synchronously (SQLite, `Store.readNow`). Under load the pipeline (a fiber
 * per request, router, schema decoding, middleware, response encoding) cost about four times the SQL.
 *
 * Only the plain case is taken, and only when it ends in a row: the same read-scope check as the API's
 * middleware (Auth.bearerCheck), ids and instants the API's own checks accept, a row found. Anything
 * else — a refused token, a bad or escaped parameter, another parameter, a HEAD, a body, no row (404 or
 * 410 Erased), a store failure — declines, and the request goes to the API as before, which answers it
 * with its own status and body. The answer's bytes are the API's (the same row JSON, the same headers),
 * and the request is counted in the same metrics under the same label.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Effect } from "effect"
import { fromEpochMillis, type Instant, parseInstant } from "../domain/core/Instant.js"
import { idProblem } from "../domain/core/Operation.js"
import { Store } from "../store/Store.js"
import { bearerCheck } from "./Auth.js"
import { Metrics } from "./Metrics.js"

/** Answers the request and returns true, or returns false having touched nothing. */
export type FastPath = (request: IncomingMessage, response: ServerResponse) => boolean

const PREFIX = "/v1/objects/"
/** A path segment the router takes as it is (no escapes, not `.` or `..`, nothing it could read otherwise). */
const PLAIN_SEGMENT = /^(?!\.\.?$)[A-Za-z0-9._~:@-]+$/
/** A query value that is its own text (no escapes, no `+`). */
const PLAIN_VALUE = /^[A-Za-z0-9.:-]+$/

/** `registreringstid`/`virkningstid` of a plain query (each at most once, nothing else), or undefined to decline. */
const asOfParams = (query: string): { r?: string; v?: string } | undefined => {
  const params: { r?: string; v?: string } = {}
  if (query.length === 0) return params
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=")
    if (eq === -1) return undefined
    const value = pair.slice(eq + 1)
    if (!PLAIN_VALUE.test(value)) return undefined
    const key = pair.slice(0, eq)
    const slot = key === "registreringstid" ? "r" : key === "virkningstid" ? "v" : undefined
    if (slot === undefined || params[slot] !== undefined) return undefined
    params[slot] = value
  }
  return params
}

/** An instant parameter as the handler reads it (absent → now), or undefined when it would be refused. */
const instant = (value: string | undefined, now: Instant): Instant | undefined => {
  if (value === undefined) return now
  const parsed = parseInstant(value)
  return typeof parsed === "string" ? parsed : undefined
}

/** The fast path, when the store reads synchronously; none otherwise (PostgreSQL: every request takes the API). */
export const makeFastPath = Effect.gen(function* () {
  const store = yield* Store
  const metrics = yield* Metrics
  const canRead = yield* bearerCheck("read")
  const read = store.readNow
  if (read === undefined) return undefined

  const answer = (response: ServerResponse, route: string, start: number, body: string) => {
    // The headers the API writes for a JSON body (node adds Date and the keep-alive ones to both alike).
    response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    response.end(body)
    metrics.observeRequest(route, 200, (performance.now() - start) / 1000)
    return true
  }

  const fast: FastPath = (request, response) => {
    const start = performance.now()
    const url = request.url
    if (request.method !== "GET" || url === undefined || !url.startsWith(PREFIX)) return false
    const headers = request.headers
    if (headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined) return false
    const q = url.indexOf("?")
    const segments = (q === -1 ? url.slice(PREFIX.length) : url.slice(PREFIX.length, q)).split("/")
    const history = segments.length === 3 && segments[2] === "history"
    if (segments.length !== 2 && !history) return false
    const [objectType, objectId] = segments as [string, string]
    if (!PLAIN_SEGMENT.test(objectType) || !PLAIN_SEGMENT.test(objectId)) return false
    if (idProblem(objectType) !== undefined || idProblem(objectId) !== undefined) return false
    if (canRead((headers.authorization ?? "").slice("Bearer ".length)) !== undefined) return false
    try {
      if (history) {
        if (q !== -1) return false
        const rows = read.history(objectType, objectId)
        return rows.length > 0 && answer(response, "objects.history", start, JSON.stringify({ objectType, objectId, rows }))
      }
      const params = asOfParams(q === -1 ? "" : url.slice(q + 1))
      if (params === undefined) return false
      const now = fromEpochMillis(Date.now())
      const registreringstid = instant(params.r, now)
      const virkningstid = instant(params.v, now)
      if (registreringstid === undefined || virkningstid === undefined) return false
      const row = read.asOf({ objectType, objectId, registreringstid, virkningstid })
      return row !== undefined && answer(response, "objects.get", start, JSON.stringify(row))
    } catch {
      // A store failure: the API asks again and answers it (503 naming the operation).
      return false
    }
  }
  return fast
})
