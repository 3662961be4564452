/**
 * Datafordeler PUSH as an OData 4.0 service: the batch format on its own
 * (CRLF and LF, change sets, errors) and the receiver over real HTTP(S) on
 * loopback, with throwaway certificates made by openssl for the TLS cases.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { connect as tlsConnect } from "node:tls"
import { join } from "node:path"
import { Readable } from "node:stream"
import { Agent, request } from "undici"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type BatchOperation, formatBatchResponse, parseBatch } from "../../../src/sources/datafordeler/push/ODataBatch.js"
import { type PushedEvent, type PushOutcome, type PushReceiver, type PushReceiverOptions, startPushReceiver } from "../../../src/sources/datafordeler/push/PushReceiver.js"

const envelope = (id: string | number, extra: Record<string, unknown> = {}) => ({
  Id: id,
  Message: { Grunddatabesked: { Hændelsesbesked: { beskedID: `b-${id}`, Beskedkuvert: { Filtreringsdata: { beskedtype: "AdresseOpdateret", Objektregistrering: [{ objektID: `o-${id}`, objekttype: "Adresse" }] } } } } },
  Format: "Json",
  Timestamp: "2024-05-01T10:00:00Z",
  ...extra
})

/** A multipart batch as a sender writes one: `eol` decides CRLF or LF. */
const batchBody = (
  boundary: string,
  items: ReadonlyArray<{ changeset: string; ops: ReadonlyArray<{ id: string; body: string }> } | { id: string | null; body: string; url?: string }>,
  eol = "\r\n"
): string => {
  const op = (contentId: string | null, body: string, url = "Events") =>
    ["Content-Type: application/http", "Content-Transfer-Encoding: binary", ...(contentId === null ? [] : [`Content-ID: ${contentId}`]), "", `POST ${url} HTTP/1.1`, "Content-Type: application/json", "", body].join(eol)
  const parts = items.map((item) =>
    "changeset" in item
      ? [`Content-Type: multipart/mixed; boundary=${item.changeset}`, "", ...item.ops.map((o) => `--${item.changeset}${eol}${op(o.id, o.body)}`), `--${item.changeset}--`].join(eol)
      : op(item.id, item.body, item.url)
  )
  return ["preamble, to be ignored", ...parts.map((p) => `--${boundary}${eol}${p}`), `--${boundary}--`, "epilogue, to be ignored"].join(eol)
}

/** A multipart response read back: each top-level part's headers and, for change sets, their parts. */
interface ResponsePart {
  readonly headers: Record<string, string>
  readonly status: number | null
  readonly body: string
  readonly changeset: ReadonlyArray<ResponsePart> | null
}
const readMultipart = (contentType: string, body: string): Array<ResponsePart> => {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2]
  if (boundary === undefined) throw new Error(`no boundary in ${contentType}`)
  const end = body.indexOf(`\r\n--${boundary}--`)
  expect(end).toBeGreaterThan(0)
  return body
    .slice(0, end)
    .split(`--${boundary}\r\n`)
    .slice(1)
    .map((raw) => raw.replace(/\r\n$/, ""))
    .map((raw) => {
      const [head, ...rest] = raw.split("\r\n\r\n")
      const headers = Object.fromEntries(head!.split("\r\n").map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]))
      const content = rest.join("\r\n\r\n")
      if (headers["content-type"]!.startsWith("multipart/mixed")) return { headers, status: null, body: "", changeset: readMultipart(headers["content-type"]!, content + "\r\n") }
      const [responseHead, ...payload] = content.split("\r\n\r\n")
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(responseHead!)?.[1])
      return { headers, status, body: payload.join("\r\n\r\n"), changeset: null }
    })
}

describe("parseBatch", () => {
  const sample = (eol: string) =>
    batchBody("batch_1", [
      { changeset: "cs_A", ops: [{ id: "1", body: JSON.stringify(envelope(1)) }, { id: "2", body: JSON.stringify(envelope(2)) }] },
      { id: null, body: JSON.stringify(envelope(3)), url: "https://push.example/daf/Events" }
    ], eol)

  it.each([["CRLF", "\r\n"], ["LF", "\n"]])("reads change sets and loose operations in order (%s)", (_, eol) => {
    const parsed = parseBatch("multipart/mixed; boundary=batch_1", Buffer.from(sample(eol)))
    if (!parsed.ok) throw new Error(parsed.error)
    expect(parsed.operations.map((o) => [o.contentId, o.changeset, o.method, o.url])).toEqual([
      ["1", "cs_A", "POST", "Events"],
      ["2", "cs_A", "POST", "Events"],
      [null, null, "POST", "https://push.example/daf/Events"]
    ])
    expect(parsed.operations.map((o) => (JSON.parse(o.body) as { Id: number }).Id)).toEqual([1, 2, 3])
    expect(parsed.operations[0]!.headers["content-type"]).toBe("application/json")
  })

  it("takes a quoted boundary, the request line without a version, and Content-ID inside the request", () => {
    const body = ['--"b 1"', "Content-Type: application/http", "", "POST /daf/Events", "Content-ID: 7", "Content-Type: application/json", "", '{"Id":"x","Message":"m"}', '--"b 1"--'].join("\r\n")
    const quoted = 'multipart/mixed; boundary="\\"b 1\\""'
    const parsed = parseBatch(quoted, body)
    if (!parsed.ok) throw new Error(parsed.error)
    expect(parsed.operations).toEqual<Array<BatchOperation>>([
      { contentId: "7", method: "POST", url: "/daf/Events", headers: { "content-id": "7", "content-type": "application/json" }, body: '{"Id":"x","Message":"m"}', changeset: null }
    ])
  })

  it("names what is wrong", () => {
    const good = sample("\r\n")
    const cases: Array<[string, string | Buffer, RegExp]> = [
      ["multipart/mixed", good, /without a boundary/],
      ["application/json", good, /not multipart\/mixed/],
      ["multipart/mixed; boundary=other", good, /no line '--other' starts a part/],
      ["multipart/mixed; boundary=batch_1", good.slice(0, good.indexOf("--batch_1--")), /part \d is unterminated/],
      ["multipart/mixed; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--", /batch part 1: Content-Type 'text\/plain' is neither/],
      ["multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\n\r\nPOST\r\n\r\n{}\r\n--b--", /batch part 1: malformed request line/],
      ["multipart/mixed; boundary=b", "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\nx\r\n--c--\r\n--b--", /change set part 1: Content-Type 'text\/plain' is not application\/http/],
      ["multipart/mixed; boundary=b", "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n--d--\r\n--c--\r\n--b--", /cannot be nested/],
      ["multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: base64\r\n\r\nx\r\n--b--", /base64/]
    ]
    for (const [contentType, body, error] of cases) {
      const parsed = parseBatch(contentType, body)
      expect(parsed.ok, `${contentType}: ${error}`).toBe(false)
      if (!parsed.ok) expect(parsed.error).toMatch(error)
    }
  })

  it("does not take a boundary-like line inside a body for a delimiter", () => {
    const body = ["--b", "Content-Type: application/http", "", "POST Events HTTP/1.1", "", "--bx is not a delimiter", "--b--"].join("\n")
    const parsed = parseBatch("multipart/mixed; boundary=b", body)
    if (!parsed.ok) throw new Error(parsed.error)
    expect(parsed.operations[0]!.body).toBe("--bx is not a delimiter")
  })
})

describe("formatBatchResponse", () => {
  it("answers change sets inside change sets, echoes Content-IDs, and collapses a failed change set to one error", () => {
    const response = formatBatchResponse([
      { contentId: "1", changeset: "A", status: 201, body: { Id: 1 } },
      { contentId: "2", changeset: "A", status: 201, body: { Id: 2 } },
      { contentId: "3", changeset: "B", status: 201, body: { Id: 3 } },
      { contentId: "4", changeset: "B", status: 400, body: { error: { code: "BadRequest", message: "no Id" } } },
      { contentId: null, changeset: null, status: 201, body: { Id: 5 }, headers: { Location: "Events(5)" } }
    ])
    expect(response.contentType).toMatch(/^multipart\/mixed; boundary=batchresponse_[0-9a-f-]{36}$/)
    expect(response.body).not.toMatch(/(^|[^\r])\n/) // CRLF only
    const parts = readMultipart(response.contentType, response.body)
    expect(parts).toHaveLength(3)
    expect(parts[0]!.changeset!.map((p) => [p.headers["content-id"], p.status, JSON.parse(p.body)])).toEqual([["1", 201, { Id: 1 }], ["2", 201, { Id: 2 }]])
    expect(parts[1]!.changeset).toBeNull()
    expect([parts[1]!.headers["content-type"], parts[1]!.headers["content-id"], parts[1]!.status]).toEqual(["application/http", "4", 400])
    expect(JSON.parse(parts[1]!.body)).toEqual({ error: { code: "BadRequest", message: "no Id" } })
    expect([parts[2]!.status, parts[2]!.headers["content-id"], JSON.parse(parts[2]!.body)]).toEqual([201, undefined, { Id: 5 }])
    expect(response.body).toContain("HTTP/1.1 201 Created\r\n")
    expect(response.body).toContain("Location: Events(5)\r\n")
  })

  it("is read back by parseBatch's own multipart reading (fresh boundaries each time)", () => {
    const a = formatBatchResponse([{ contentId: "1", changeset: "A", status: 201 }])
    const b = formatBatchResponse([{ contentId: "1", changeset: "A", status: 201 }])
    expect(a.contentType).not.toBe(b.contentType)
    const asRequest = a.body.replace(/HTTP\/1\.1 201 Created/, "POST Events HTTP/1.1")
    const parsed = parseBatch(a.contentType, asRequest)
    if (!parsed.ok) throw new Error(parsed.error)
    expect(parsed.operations.map((o) => [o.contentId, o.method])).toEqual([["1", "POST"]])
  })
})

describe("PushReceiver over HTTP", () => {
  let receiver: PushReceiver
  let recorded: Array<ReadonlyArray<PushedEvent>>
  let outcomes: Array<PushOutcome>
  let failRecording = false

  const start = async (extra: Partial<PushReceiverOptions> = {}) => {
    recorded = []
    outcomes = []
    failRecording = false
    receiver = await startPushReceiver({
      host: "127.0.0.1",
      port: 0,
      basePath: "/daf/",
      maxBodyBytes: 16 * 1024,
      record: async (events) => {
        if (failRecording) throw new Error("disk full")
        recorded.push(events)
      },
      onOutcome: (o) => outcomes.push(o),
      ...extra
    })
  }
  afterEach(async () => receiver.close())

  const post = async (path: string, body: string, contentType = "application/json") => {
    const res = await request(`${receiver.url}${path}`, { method: "POST", headers: { "content-type": contentType }, body })
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }
  const errorOf = (text: string) => (JSON.parse(text) as { error: { code: string; message: string } }).error

  it("records one event, answers 201 with the event, and passes a duplicate delivery on again", async () => {
    await start()
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/daf$/)
    const event = envelope("e-1")
    for (let i = 0; i < 2; i++) {
      const res = await post("/Events", JSON.stringify(event))
      expect(res.status).toBe(201)
      expect(res.headers["odata-version"]).toBe("4.0")
      expect(res.headers["location"]).toBe("Events('e-1')")
      expect(JSON.parse(res.text)).toEqual(event)
    }
    expect(recorded).toEqual([[{ envelopeId: "e-1", raw: event }], [{ envelopeId: "e-1", raw: event }]])
    expect(outcomes.map((o) => [o.status, o.recorded])).toEqual([[201, 1], [201, 1]])
  })

  it("takes an array of events as one recording", async () => {
    await start()
    const events = [envelope(1), envelope("2", { Message: JSON.stringify(envelope(2).Message) })]
    const res = await post("/Events", JSON.stringify(events), "application/json; charset=utf-8")
    expect(res.status).toBe(201)
    expect(JSON.parse(res.text)).toEqual(events)
    expect(recorded).toEqual([[{ envelopeId: "1", raw: events[0] }, { envelopeId: "2", raw: events[1] }]])
  })

  it("answers a $batch of two change sets and a loose operation, recording them in one call", async () => {
    await start()
    const body = batchBody("batch_x", [
      { changeset: "cs_1", ops: [{ id: "1", body: JSON.stringify(envelope(1)) }, { id: "2", body: JSON.stringify(envelope(2)) }] },
      { changeset: "cs_2", ops: [{ id: "3", body: JSON.stringify(envelope(3)) }] },
      { id: "4", body: JSON.stringify(envelope(4)), url: "/daf/Events" }
    ])
    const res = await post("/$batch", body, "multipart/mixed; boundary=batch_x")
    expect(res.status).toBe(200)
    expect(res.headers["odata-version"]).toBe("4.0")
    const contentType = String(res.headers["content-type"])
    expect(contentType).toMatch(/^multipart\/mixed; boundary=batchresponse_/)
    const parts = readMultipart(contentType, res.text)
    expect(parts.map((p) => p.changeset?.map((c) => [c.headers["content-id"], c.status]) ?? [p.headers["content-id"], p.status])).toEqual([
      [["1", 201], ["2", 201]],
      [["3", 201]],
      ["4", 201]
    ])
    expect(JSON.parse(parts[0]!.changeset![1]!.body)).toEqual(envelope(2))
    expect(recorded).toHaveLength(1)
    expect(recorded[0]!.map((e) => e.envelopeId)).toEqual(["1", "2", "3", "4"])
  })

  it("refuses a whole change set with one bad event, and records the rest", async () => {
    await start()
    const body = batchBody("b", [
      { changeset: "good", ops: [{ id: "1", body: JSON.stringify(envelope(1)) }] },
      { changeset: "bad", ops: [{ id: "2", body: JSON.stringify(envelope(2)) }, { id: "3", body: JSON.stringify({ Message: {} }) }] },
      { id: "4", body: "{not json" }
    ], "\n")
    const res = await post("/%24batch", body, 'multipart/mixed; boundary="b"')
    expect(res.status).toBe(200)
    const parts = readMultipart(String(res.headers["content-type"]), res.text)
    expect(parts[0]!.changeset!.map((p) => p.status)).toEqual([201])
    expect([parts[1]!.changeset, parts[1]!.status, parts[1]!.headers["content-id"]]).toEqual([null, 400, "3"])
    expect(errorOf(parts[1]!.body).message).toBe("operation 3 (Content-ID 3): the body: 'Id' is missing")
    expect([parts[2]!.status, errorOf(parts[2]!.body).message]).toEqual([400, "operation 4 (Content-ID 4): the body is not valid JSON (at position 1)"])
    expect(recorded.map((r) => r.map((e) => e.envelopeId))).toEqual([["1"]])
    expect(outcomes[0]!.problems).toHaveLength(2)
  })

  it("answers a batch that is not a batch, and operations that are not POST Events", async () => {
    await start()
    const unterminated = await post("/$batch", "--b\r\nContent-Type: application/http\r\n\r\nPOST Events HTTP/1.1\r\n\r\n{}", "multipart/mixed; boundary=b")
    expect([unterminated.status, errorOf(unterminated.text).message]).toEqual([400, "batch: part 1 is unterminated (the body ends without '--b--')"])
    const json = await post("/$batch", "{}", "application/json")
    expect(json.status).toBe(415)
    const wrongOps = batchBody("b", [{ id: "1", body: "{}", url: "Other" }])
    const res = await post("/$batch", wrongOps, "multipart/mixed; boundary=b")
    expect(readMultipart(String(res.headers["content-type"]), res.text).map((p) => p.status)).toEqual([404])
    expect(recorded).toEqual([])
  })

  it("refuses bad bodies, wrong types, oversize bodies and unknown paths, recording nothing", async () => {
    await start()
    const cases: Array<[string, string, string, number, RegExp]> = [
      ["/Events", "{\"Id\": 1, ", "application/json", 400, /^the body is not valid JSON/],
      ["/Events", JSON.stringify({ Id: 1 }), "application/json", 400, /^the body: 'Message' is missing$/],
      ["/Events", JSON.stringify({ Id: true, Message: {} }), "application/json", 400, /^the body: 'Id' must be a string or a number$/],
      ["/Events", JSON.stringify({ Id: 2 ** 60, Message: {} }), "application/json", 400, /not an exact integer/],
      ["/Events", JSON.stringify([envelope(1), { Id: 2, Message: "" }]), "application/json", 400, /^the body\[1\]: 'Message' is an empty string$/],
      ["/Events", "[]", "application/json", 400, /empty array/],
      ["/Events", "\"text\"", "application/json", 400, /^the body must be a JSON object$/],
      ["/Events", JSON.stringify(envelope(1)), "text/plain", 415, /application\/json/],
      ["/Events", JSON.stringify(envelope(1, { pad: "x".repeat(20_000) })), "application/json", 413, /over 16384 bytes/],
      ["/Other", JSON.stringify(envelope(1)), "application/json", 404, /nothing is served/],
      ["/events", JSON.stringify(envelope(1)), "application/json", 404, /nothing is served/]
    ]
    for (const [path, body, type, status, message] of cases) {
      const res = await post(path, body, type)
      expect([path, type, res.status]).toEqual([path, type, status])
      expect(errorOf(res.text).message).toMatch(message)
      expect(res.headers["content-type"]).toMatch(/^application\/json/)
    }
    const get = await request(`${receiver.url}/Events`)
    expect([get.statusCode, get.headers["allow"]]).toEqual([405, "POST"])
    await get.body.dump()
    expect(recorded).toEqual([])
  })

  it("answers 413 from Content-Length alone, before reading the body", async () => {
    await start()
    // A raw socket that announces a large body and sends none of it: the answer must come anyway.
    const url = new URL(receiver.url)
    const socket = connect(Number(url.port), url.hostname)
    socket.write(`POST /daf/Events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`)
    let answer = ""
    socket.on("data", (d: Buffer) => (answer += d.toString()))
    await new Promise((resolve) => socket.on("close", resolve))
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
  })

  it("answers 413 to a chunked body that grows past the limit", async () => {
    await start()
    async function* chunks() {
      for (let i = 0; i < 64; i++) yield Buffer.from("x".repeat(1024))
    }
    const res = await request(`${receiver.url}/Events`, { method: "POST", headers: { "content-type": "application/json" }, body: Readable.from(chunks()) }).catch((e: Error) => e)
    // The receiver stops reading at the limit: the sender sees the 413, or (still writing) a closed connection.
    if (!(res instanceof Error)) {
      expect(res.statusCode).toBe(413)
      await res.body.dump()
    }
    expect(recorded).toEqual([])
    expect(outcomes.map((o) => o.status)).toEqual([413])
  })

  it("with Expect: 100-continue, refuses before inviting the body and invites a good one", async () => {
    await start()
    const url = new URL(receiver.url)
    const exchange = (head: string, bodyAfterContinue: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(url.port), url.hostname)
        let answer = ""
        socket.on("data", (d: Buffer) => {
          answer += d.toString()
          if (answer.startsWith("HTTP/1.1 100 Continue\r\n\r\n") && !answer.includes("\r\n\r\nHTTP/1.1 ")) socket.write(bodyAfterContinue)
          if (/\r\n\r\nHTTP\/1\.1 2/.test(answer) || (!answer.startsWith("HTTP/1.1 100") && answer.includes("\r\n\r\n"))) socket.destroy()
        })
        socket.on("close", () => resolve(answer))
        socket.write(head)
      })
    const body = JSON.stringify(envelope(1))
    const refused = await exchange(`POST /daf/Events HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nExpect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`, body)
    expect(refused).toMatch(/^HTTP\/1\.1 415 /)
    const invited = await exchange(`POST /daf/Events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`, body)
    expect(invited).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /)
    expect(recorded).toHaveLength(1)
  })

  it("answers 503 when recording fails, so the sender retries", async () => {
    await start()
    failRecording = true
    const res = await post("/Events", JSON.stringify(envelope(1)))
    expect(res.status).toBe(503)
    expect(errorOf(res.text).code).toBe("Unavailable")
    const batch = await post("/$batch", batchBody("b", [{ id: "1", body: JSON.stringify(envelope(1)) }]), "multipart/mixed; boundary=b")
    expect(batch.status).toBe(503)
  })

  it("serves the root when basePath is /", async () => {
    await start({ basePath: "/" })
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect((await post("/Events", JSON.stringify(envelope(9)))).status).toBe(201)
  })

  it("takes the client subject from a trusted proxy header only when told to", async () => {
    await start({ trustProxyClientCertHeader: "X-Client-Subject", allowedForwardedSubjects: ["datafordeler.dk"] })
    const send = (subject?: string) =>
      request(`${receiver.url}/Events`, { method: "POST", headers: { "content-type": "application/json", ...(subject === undefined ? {} : { "x-client-subject": subject }) }, body: JSON.stringify(envelope(1)) })
        .then(async (r) => (await r.body.dump(), r.statusCode))
    expect(await send()).toBe(401)
    expect(await send("CN=someone.else,O=X")).toBe(403)
    expect(await send("CN=datafordeler.dk,O=SDFI")).toBe(201)
    expect(await send("/C=DK/O=SDFI/CN=datafordeler.dk")).toBe(201)
    expect(recorded).toHaveLength(2)
  })
})

describe("PushReceiver over HTTPS with client certificates", () => {
  let dir: string
  const pem = (name: string) => readFileSync(join(dir, name), "utf8")
  let receiver: PushReceiver
  let recorded: Array<ReadonlyArray<PushedEvent>>

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "skygge-push-"))
    const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
    const key = (name: string) => openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`)
    key("ca")
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Test CA", "-days", "2", "-out", "ca.crt")
    const signed = (name: string, cn: string, ext: string, caName = "ca") => {
      key(name)
      openssl("req", "-new", "-key", `${name}.key`, "-subj", `/O=Test/CN=${cn}`, "-out", `${name}.csr`)
      execFileSync("sh", ["-c", `printf '%s\\n' '${ext}' > ${name}.ext`], { cwd: dir })
      openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${caName}.crt`, "-CAkey", `${caName}.key`, "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`)
    }
    signed("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    signed("client", "datafordeler.dk", "extendedKeyUsage=clientAuth")
    signed("stranger", "someone.else", "extendedKeyUsage=clientAuth")
    // A client certificate from a CA the receiver does not trust.
    key("rogue")
    openssl("req", "-x509", "-new", "-key", "rogue.key", "-subj", "/CN=Rogue CA", "-days", "2", "-out", "rogue.crt")
    signed("impostor", "datafordeler.dk", "extendedKeyUsage=clientAuth", "rogue")

    recorded = []
    receiver = await startPushReceiver({
      host: "127.0.0.1",
      port: 0,
      basePath: "/daf",
      tls: { key: pem("server.key"), cert: pem("server.crt"), ca: pem("ca.crt"), requestClientCert: true, allowedSubjects: ["datafordeler.dk"] },
      record: async (events) => void recorded.push(events)
    })
  })
  afterAll(async () => {
    await receiver?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const send = async (client?: string) => {
    const dispatcher = new Agent({ connect: { ca: pem("ca.crt"), ...(client === undefined ? {} : { cert: pem(`${client}.crt`), key: pem(`${client}.key`) }) } })
    try {
      const res = await request(`${receiver.url}/Events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(envelope(client ?? "none")), dispatcher })
      return { status: res.statusCode, text: await res.body.text() }
    } finally {
      await dispatcher.close()
    }
  }

  it("takes a certificate signed by the CA with an allowed CN", async () => {
    expect(receiver.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/daf$/)
    const res = await send("client")
    expect(res.status).toBe(201)
    expect(recorded.map((r) => r.map((e) => e.envelopeId))).toEqual([["client"]])
  })

  it("still knows the client on a resumed TLS session", async () => {
    const url = new URL(receiver.url)
    const once = (session?: Buffer) =>
      new Promise<{ status: string; reused: boolean; session: Buffer | undefined }>((resolve, reject) => {
        const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca: pem("ca.crt"), cert: pem("client.crt"), key: pem("client.key"), ...(session === undefined ? {} : { session }) })
        let answer = ""
        let latest: Buffer | undefined
        let reused = false
        socket.on("session", (s: Buffer) => (latest = s))
        socket.on("secureConnect", () => {
          reused = socket.isSessionReused()
          const body = JSON.stringify(envelope("resumed"))
          socket.write(`POST /daf/Events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
        })
        socket.on("data", (d: Buffer) => (answer += d.toString()))
        socket.on("error", reject)
        socket.on("close", () => resolve({ status: answer.slice(0, 12), reused, session: latest }))
      })
    const first = await once()
    expect(first.status).toBe("HTTP/1.1 201")
    const second = await once(first.session)
    expect(second).toMatchObject({ status: "HTTP/1.1 201", reused: true })
  })

  it("refuses a client without a certificate, with an untrusted one, and with a CN not allowed", async () => {
    const none = await send()
    expect([none.status, JSON.parse(none.text)]).toEqual([401, { error: { code: "Unauthorized", message: "a client certificate is required" } }])
    const impostor = await send("impostor")
    expect(impostor.status).toBe(403)
    expect(impostor.text).toMatch(/not trusted/)
    const stranger = await send("stranger")
    expect([stranger.status, JSON.parse(stranger.text)]).toEqual([403, { error: { code: "Forbidden", message: "the client certificate's subject is not allowed" } }])
    expect(recorded.flat().map((e) => e.envelopeId)).not.toContain("none")
    expect(recorded.flat().map((e) => e.envelopeId)).not.toContain("stranger")
    expect(recorded.flat().map((e) => e.envelopeId)).not.toContain("impostor")
  })
})
