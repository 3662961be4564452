/**
 * The edges of the API on a real server on loopback: every declared endpoint
 * counted in /metrics under its own label, JSON answers for unknown paths and
 * wrong methods, ids as long as a write accepts, parameters refused in words,
 * and the OpenAPI document and Swagger page served from here.
 */
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postNdjson, startServer, type TestServer } from "../support/server.js"

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }

interface Spec {
  info: { version: string }
  paths: Record<string, Record<string, { operationId: string }>>
}

const op = (objectType: string, objectId: string, eventId: string) => ({
  op: "assert", objectType, objectId, registreringstid: "2020-01-01T00:00:00Z", virkningFra: null, virkningTil: null, data: { n: 1 }, eventId
})

const metricCount = (metrics: string, route: string, status: number) =>
  Number(new RegExp(`^skygge_http_requests_total\\{route="${route.replace(/\./g, "\\.")}",status="${status}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0)

describe("the API's edges", () => {
  let server: TestServer
  let spec: Spec
  beforeAll(async () => {
    server = await startServer()
    spec = (await (await fetch(`${server.baseUrl}/docs/openapi.json`)).json()) as Spec
  })
  afterAll(() => server.close())

  it("counts every declared endpoint in /metrics under its operationId, with the status it answered", async () => {
    const asked: Array<{ operationId: string; status: number }> = []
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const url = `${server.baseUrl}${path.replace(/\{[^}]+\}/g, "x")}${path === "/v1/changes" ? "?since=2020-01-01" : ""}`
        const res =
          method === "post" && path === "/v1/erasures"
            ? await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ objectType: "m", objectId: "never", reason: "surface" }) })
            : method === "post"
            ? await postNdjson(server.baseUrl, JSON.stringify(op("m", "x", "metrics-1")))
            : await fetch(url, { method: method.toUpperCase() })
        await res.arrayBuffer()
        asked.push({ operationId: operation.operationId, status: res.status })
      }
    }
    expect(asked.length).toBeGreaterThanOrEqual(13)
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text()
    for (const { operationId, status } of asked) expect(metricCount(metrics, operationId, status), `${operationId} ${status}`).toBeGreaterThanOrEqual(1)
    for (const id of ["anomalies.list", "sources.status", "resyncReports.list", "objects.get", "registrations.register"]) {
      expect(asked.map((a) => a.operationId)).toContain(id)
    }
    expect(metrics).not.toMatch(/route="other"/)
  })

  it("answers an unknown path with a JSON 404 and a wrong method with a JSON 405 and Allow, and counts them so", async () => {
    const unknown = await fetch(`${server.baseUrl}/v2/nothing-here`)
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get("content-type")).toContain("application/json")
    expect(await unknown.json()).toEqual({ _tag: "NotFound", message: "no endpoint GET /v2/nothing-here; the API is described at /docs" })

    for (const [method, path, allow] of [
      ["DELETE", "/v1/changes", "GET, HEAD"],
      ["POST", "/health", "GET, HEAD"],
      ["GET", "/v1/registrations", "POST"],
      ["PUT", "/v1/objects/vej/yyyy", "GET, HEAD"]
    ] as const) {
      const res = await fetch(`${server.baseUrl}${path}`, { method })
      expect(res.status, `${method} ${path}`).toBe(405)
      expect(res.headers.get("allow")).toBe(allow)
      expect(await res.json()).toEqual({ _tag: "MethodNotAllowed", message: `${method} is not allowed on ${path}; allowed: ${allow}` })
    }
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text()
    expect(metricCount(metrics, "unmatched", 404)).toBeGreaterThanOrEqual(1)
    expect(metricCount(metrics, "changes.list", 405)).toBe(1)
    expect(metricCount(metrics, "registrations.register", 405)).toBe(1)
    expect(metrics).not.toMatch(/status="500"/)
  })

  it("reads every id a write accepts (up to 512 characters), and refuses longer ids and control characters on both sides, naming them", async () => {
    const long = (n: number, c = "a") => c.repeat(n)
    const res = await postNdjson(
      server.baseUrl,
      [op(long(300, "t"), long(200), "id-1"), op("ids", long(512), "id-2"), op("ids", long(513), "id-3"), op(long(513, "t"), "x", "id-4"), op("ids", "a\u0000b", "id-5"), op("ids", "a\u001bb", "id-6"), op("ids", "ok", "id\u0000x")]
        .map((o) => JSON.stringify(o))
        .join("\n")
    )
    const summary = (await res.json()) as { applied: number; refusals: Array<{ line: number; field: string; reason: string }> }
    expect(summary.applied).toBe(2)
    expect(summary.refusals.map((r) => [r.line, r.field, r.reason])).toEqual([
      [3, "objectId", "field 'objectId' is longer than 512 characters"],
      [4, "objectType", "field 'objectType' is longer than 512 characters"],
      [5, "objectId", "field 'objectId' holds a control character (U+0000 at position 2)"],
      [6, "objectId", "field 'objectId' holds a control character (U+001B at position 2)"],
      [7, "eventId", "field 'eventId' holds a control character (U+0000 at position 3)"]
    ])

    const get = await fetch(`${server.baseUrl}/v1/objects/${long(300, "t")}/${long(200)}`)
    expect(get.status).toBe(200)
    expect(((await get.json()) as { objectId: string }).objectId).toBe(long(200))
    expect((await fetch(`${server.baseUrl}/v1/objects/ids/${long(512)}/history`)).status).toBe(200)
    expect((await fetch(`${server.baseUrl}/v1/objects/${long(300, "t")}?limit=5`)).status).toBe(200)

    for (const [path, message] of [
      [`/v1/objects/ids/${long(513)}`, "objectId is longer than 512 characters"],
      [`/v1/objects/ids/${long(513)}/history`, "objectId is longer than 512 characters"],
      [`/v1/objects/${long(513, "t")}`, "objectType is longer than 512 characters"],
      ["/v1/objects/ids/a%00b", "objectId holds a control character (U+0000 at position 2)"],
      [`/v1/changes?since=2020-01-01&objectType=${long(513, "t")}`, "objectType is longer than 512 characters"]
    ] as const) {
      const r = await fetch(`${server.baseUrl}${path}`)
      expect(r.status, path.slice(0, 60)).toBe(400)
      expect(await r.json()).toEqual({ _tag: "BadRequest", message })
    }
  })

  it("takes whole numbers as decimal digits only, and says what each parameter needs in words", async () => {
    const pageLimit = "limit must be a whole number between 1 and 10000"
    const cases: Array<readonly [string, string]> = []
    for (const path of ["/v1/objects/vej", "/v1/activations", "/v1/refused", "/v1/anomalies", "/v1/resync-reports"]) {
      for (const bad of ["1e3", "0x10", "%205", "5%20", "+5", "-1", "0", "1.5", "", "10001", "99999999999999999999"]) cases.push([`${path}?limit=${bad}`, pageLimit])
    }
    for (const bad of ["1e3", "0x10", "0"]) cases.push([`/v1/objects/vej?format=ndjson&limit=${bad}`, "limit must be a whole number of at least 1"])
    for (const path of ["/v1/refused", "/v1/anomalies"]) for (const bad of ["1e3", "0x10", "-1", "x"]) cases.push([`${path}?after=${bad}`, "after must be a whole number of at least 0"])
    cases.push(
      ["/v1/changes", "since is required (an instant, e.g. 2017-01-05T00:00:00Z)"],
      ["/v1/changes?since=2020-01-01&format=xml", "format must be one of ndjson, csv"],
      ["/v1/objects/vej?format=xml", "format must be one of json, ndjson, csv"],
      ["/v1/activations?status=due", "status must be one of pending, fired, skipped, cancelled, all"],
      ["/v1/objects/vej?limit=1&limit=2", "limit must be given once, as a whole number (decimal digits only)"],
      ["/v1/objects/vej/yyyy?virkningstid=a&virkningstid=b", "virkningstid must be given once, as an instant, e.g. 2017-01-05T00:00:00Z"],
      ["/v1/changes?since=2020-02-30", "since: not a valid date and time: '2020-02-30'"],
      ["/v1/activations?after=x", "after: expected the 'next' value of the previous page, got 'x'"]
    )
    const wrong: Array<string> = []
    for (const [path, message] of cases) {
      const res = await fetch(`${server.baseUrl}${path}`)
      const body = (await res.json()) as { message?: string }
      if (res.status !== 400 || body.message !== message) wrong.push(`${path} → ${res.status} ${body.message}`)
    }
    expect(wrong).toEqual([])
    // Plain digits still work.
    expect((await fetch(`${server.baseUrl}/v1/objects/vej?limit=10000`)).status).toBe(200)
    expect((await fetch(`${server.baseUrl}/v1/refused?after=0&limit=007`)).status).toBe(200)
  })

  it("says the package version in the OpenAPI document and serves the Swagger page with no script from elsewhere", async () => {
    expect(spec.info.version).toBe(pkg.version)
    const docs = await fetch(`${server.baseUrl}/docs`)
    expect(docs.status).toBe(200)
    const html = await docs.text()
    expect(html).toContain("SwaggerUIBundle")
    expect(html).not.toMatch(/<script[^>]+src=/i)
    expect(html).not.toMatch(/<link[^>]+href=/i)
  })
})
