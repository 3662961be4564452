/**
 * The HTTP fast path (src/api/FastPath.ts) on a real server over a real SQLite file, through a real
 * HTTP client: the answers it gives are the API's own, byte for byte (compared with the same question
 * put so that the fast path declines it: an extra query parameter, which the API ignores), and what it
 * declines — bad parameters, refused tokens, missing and erased objects — is answered by the API as before.
 */
import { request } from "node:http"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { ndjson, postNdjson, startServer, type TestServer } from "../support/server.js"

const READ = "fast-reader"
const WRITE = "fast-writer"
const ERASE = "fast-eraser"

interface Raw {
  readonly status: number
  readonly headers: string
  readonly body: string
}

/** One GET as bytes: status, the raw header lines but Date, the body text. */
const raw = (baseUrl: string, path: string, token: string | null): Promise<Raw> =>
  new Promise((done, fail) => {
    const req = request(`${baseUrl}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (body += chunk))
      res.on("end", () => {
        const headers: Array<string> = []
        for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]!.toLowerCase() !== "date") headers.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`)
        done({ status: res.statusCode!, headers: headers.join("\n"), body })
      })
    })
    req.on("error", fail)
    req.end()
  })

const op = (objectId: string, eventId: string, registreringstid: string, virkningFra: string | null, data: unknown) => ({
  op: "assert",
  objectType: "vej",
  objectId,
  registreringstid,
  virkningFra,
  virkningTil: null,
  data,
  eventId
})

describe("HTTP fast path", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ api: { readTokens: [READ], writeTokens: [WRITE], eraseTokens: [ERASE] } })
    const res = await postNdjson(
      server.baseUrl,
      ndjson([
        op("a-1", "f1", "2016-09-01T00:00:00Z", "2016-10-01T00:00:00Z", { navn: "Grøndahl", n: 1.5, list: [1, "æ\u0001"] }),
        op("a-1", "f2", "2016-09-07T00:00:00Z", "2016-10-01T00:00:00Z", { navn: "Grøndal" }),
        op("b.2:x", "f3", "2017-01-04T00:00:00Z", null, { navn: "Åbakke" }),
        op("gone", "f4", "2017-01-04T00:00:00Z", null, { navn: "Someone" })
      ]),
      { authorization: `Bearer ${WRITE}` }
    )
    expect(res.status).toBe(200)
  })
  afterAll(() => server.close())

  /** The path's answer, and whether the API's handler asked the store (Store.asOf / Store.history) for it. */
  const answered = async (path: string, token: string | null = READ) => {
    const asOf = vi.spyOn(server.store, "asOf")
    const history = vi.spyOn(server.store, "history")
    try {
      const answer = await raw(server.baseUrl, path, token)
      return { ...answer, byApi: asOf.mock.calls.length + history.mock.calls.length > 0 }
    } finally {
      asOf.mockRestore()
      history.mockRestore()
    }
  }

  it("answers rows and histories itself, with the API's bytes", async () => {
    const paths = [
      "/v1/objects/vej/a-1?registreringstid=2016-09-05&virkningstid=2016-10-02",
      "/v1/objects/vej/a-1?registreringstid=2016-09-07T00:00:00Z&virkningstid=2016-10-01T00:00:00.000000Z",
      "/v1/objects/vej/a-1?virkningstid=2016-10-01",
      "/v1/objects/vej/b.2:x",
      "/v1/objects/vej/a-1/history",
      "/v1/objects/vej/b.2:x/history"
    ]
    for (const path of paths) {
      const fast = await answered(path)
      const api = await answered(`${path}${path.includes("?") ? "&" : "?"}declined=1`)
      expect({ path, byApi: fast.byApi }).toEqual({ path, byApi: false })
      expect(api.byApi).toBe(true)
      expect(fast).toEqual({ ...api, byApi: false })
      expect(fast.status).toBe(200)
      expect(fast.headers).toBe("content-type: application/json\ncontent-length: " + Buffer.byteLength(fast.body) + "\nConnection: keep-alive\nKeep-Alive: timeout=5")
    }
    // A write token reads too.
    expect((await answered(paths[0]!, WRITE)).byApi).toBe(false)
  })

  it("leaves bad parameters to the API: the same 400s", async () => {
    const bad = await answered("/v1/objects/vej/a-1?virkningstid=2017-02-30")
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.body)).toEqual({ _tag: "BadRequest", message: expect.stringMatching(/^virkningstid: /) })
    const twice = await answered("/v1/objects/vej/a-1?registreringstid=2016-09-05&registreringstid=2016-09-06")
    expect(twice.status).toBe(400)
    expect(JSON.parse(twice.body)).toEqual({ _tag: "BadRequest", message: "registreringstid must be given once, as an instant, e.g. 2017-01-05T00:00:00Z" })
    const control = await answered("/v1/objects/vej/a%01b")
    expect(control.status).toBe(400)
    expect(JSON.parse(control.body)).toMatchObject({ _tag: "BadRequest", message: expect.stringContaining("control character") })
    // Escaped text is the API's to decode: still answered, by it.
    expect(await answered("/v1/objects/vej/a-1?registreringstid=2016-09-05T00%3A00%3A00Z")).toMatchObject({ status: 200, byApi: true })
  })

  it("leaves refused tokens to the API: the same 401 and 403", async () => {
    const path = "/v1/objects/vej/a-1/history"
    // Refused by the API's middleware, before any handler.
    for (const [token, status, tag] of [[null, 401, "Unauthorized"], ["wrong", 401, "Unauthorized"], [ERASE, 403, "Forbidden"]] as const) {
      const refused = await answered(path, token)
      expect(refused.status).toBe(status)
      expect(JSON.parse(refused.body)).toMatchObject({ _tag: tag })
    }
    expect((await answered("/v1/objects/vej/a-1", "")).status).toBe(401)
  })

  it("leaves missing and erased objects to the API: 404 and 410", async () => {
    expect(await answered("/v1/objects/vej/nope")).toMatchObject({ status: 404, byApi: true })
    expect(await answered("/v1/objects/vej/nope/history")).toMatchObject({ status: 404, byApi: true })
    const erase = await fetch(`${server.baseUrl}/v1/erasures`, {
      method: "POST",
      headers: { authorization: `Bearer ${ERASE}`, "content-type": "application/json" },
      body: JSON.stringify({ objectType: "vej", objectId: "gone", reason: "fast path test" })
    })
    expect(erase.status).toBe(201)
    for (const path of ["/v1/objects/vej/gone", "/v1/objects/vej/gone/history"]) {
      const erased = await answered(path)
      expect(erased).toMatchObject({ status: 410, byApi: true })
      expect(JSON.parse(erased.body)).toMatchObject({ _tag: "Erased", erasure: 1 })
    }
  })

  it("counts what it answers in the request metrics, under the endpoint's label", async () => {
    const count = async (route: string) => {
      const text = await (await fetch(`${server.baseUrl}/metrics`)).text()
      return Number(new RegExp(`skygge_http_requests_total\\{route="${route.replace(".", "\\.")}",status="200"\\} (\\d+)`).exec(text)?.[1] ?? 0)
    }
    const latency = async () => Number(/skygge_http_request_duration_seconds_count\{route="objects\.get"\} (\d+)/.exec(await (await fetch(`${server.baseUrl}/metrics`)).text())?.[1] ?? 0)
    const [gets, histories, observed] = [await count("objects.get"), await count("objects.history"), await latency()]
    for (let i = 0; i < 5; i++) expect((await answered("/v1/objects/vej/a-1?virkningstid=2016-10-01")).byApi).toBe(false)
    expect((await answered("/v1/objects/vej/a-1/history")).byApi).toBe(false)
    expect(await count("objects.get")).toBe(gets + 5)
    expect(await count("objects.history")).toBe(histories + 1)
    expect(await latency()).toBe(observed + 5)
  })
})
