/**
 * The endpoint Datafordeler PUSHes event messages to, as an OData 4.0 service:
 * `POST {base}/Events` with one event (or, leniently, an array of them) and
 * `POST {base}/$batch` with a multipart batch of such POSTs. Each request is
 * parsed, minimally validated, handed whole to `record` (the caller's durable
 * store) and answered only once that has resolved: success means "stored",
 * so the sender may forget the events; a failed `record` is a 503 so it
 * sends them again. Duplicates are passed on: dedup is the caller's job.
 *
 * Validation here is shallow (an object with an `Id` and a `Message`); the
 * caller may add its decoder (`validate`) so a malformed event is a clear 400
 * and nothing of the request is stored.
 *
 * Bodies hold personal data: nothing here logs, and error messages name
 * fields and positions, never values. `onOutcome` lets the caller log.
 */
import { once } from "node:events"
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import type { AddressInfo } from "node:net"
import type { TLSSocket } from "node:tls"
import { type BatchOperation, formatBatchResponse, type OperationResult, parseBatch, parseMediaType } from "./ODataBatch.js"

export interface PushedEvent {
  /** The event's `Id` as text: the dedup key. */
  readonly envelopeId: string
  /** The event as sent (parsed JSON). */
  readonly raw: unknown
}

export interface PushReceiverTls {
  readonly key: string | Buffer
  readonly cert: string | Buffer
  /** The CA(s) client certificates must chain to (Datafordeler's issuer). */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>
  /** Require a client certificate signed by `ca`: none → 401, untrusted → 403, before the body is read. */
  readonly requestClientCert: boolean
  /** If given, the client certificate's subject CN must be one of these (else 403). */
  readonly allowedSubjects?: ReadonlyArray<string>
}

/** What became of one request, for the caller to log: no bodies, no values. */
export interface PushOutcome {
  readonly method: string
  readonly path: string
  readonly status: number
  /** Events handed to `record` (0 when nothing was). */
  readonly recorded: number
  /** Why the request, or some operations of a batch, were refused. */
  readonly problems: ReadonlyArray<string>
}

export interface PushReceiverOptions {
  readonly host: string
  /** 0 = any free port. */
  readonly port: number
  /** Where the OData service root is: `/` (default) serves `/Events` and `/$batch`. */
  readonly basePath?: string
  readonly tls?: PushReceiverTls
  /**
   * Behind a TLS terminator that verifies client certificates and passes the
   * verified subject (e.g. `CN=…,O=…` or `/O=…/CN=…`) in this header: read the
   * subject from it, and refuse a request without it (401). Only for a
   * receiver reachable solely through that terminator: anyone who can reach
   * it directly can write the header.
   */
  readonly trustProxyClientCertHeader?: string
  /** With `trustProxyClientCertHeader`: the CNs accepted from that header (else any verified subject). */
  readonly allowedForwardedSubjects?: ReadonlyArray<string>
  /** Larger bodies are answered 413 (default 64 MiB). */
  readonly maxBodyBytes?: number
  /** Durably records one request's events; the receiver answers success only after it resolves. */
  readonly record: (events: ReadonlyArray<PushedEvent>) => Promise<void>
  /** A deeper check of each event (the caller's decoder): a problem refuses it with 400, nothing of the request stored. */
  readonly validate?: (raw: unknown) => string | undefined
  readonly onOutcome?: (outcome: PushOutcome) => void
}

export interface PushReceiver {
  /** The service root, e.g. `https://127.0.0.1:8443/daf`. */
  readonly url: string
  close(): Promise<void>
}

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
const JSON_TYPE = "application/json;odata.metadata=minimal"
const CLOSE_GRACE_MS = 5_000

/** A response that ends the exchange: status, OData error or payload, extra headers. */
interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly contentType?: string
  readonly recorded?: number
  readonly problems?: ReadonlyArray<string>
  /** Stop reading the connection after answering (body unread or too large). */
  readonly closeConnection?: boolean
}

const odataError = (status: number, code: string, message: string, extra: Partial<Answer> = {}): Answer => ({
  status,
  contentType: JSON_TYPE,
  body: JSON.stringify({ error: { code, message } }),
  problems: [message],
  ...extra
})

// ---------------------------------------------------------------- events

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** The `Id` as a dedup key, or why it cannot be one. */
const envelopeIdOf = (id: unknown): string | { readonly problem: string } => {
  if (typeof id === "string") return id.length > 0 ? id : { problem: "'Id' is an empty string" }
  if (typeof id === "number") {
    // A number beyond 2^53 has already lost digits in JSON.parse: as a dedup key it would merge distinct events.
    return Number.isSafeInteger(id) ? String(id) : { problem: "'Id' is a number that is not an exact integer (send it as a string)" }
  }
  return { problem: id === undefined ? "'Id' is missing" : "'Id' must be a string or a number" }
}

/** One event checked: the recorded form, or what is wrong with it (prefixed by `where`). */
type Validate = ((raw: unknown) => string | undefined) | undefined

const checkEvent = (value: unknown, where: string, validate: Validate): PushedEvent | { readonly problem: string } => {
  if (!isObject(value)) return { problem: `${where} must be a JSON object` }
  const id = envelopeIdOf(value["Id"])
  if (typeof id !== "string") return { problem: `${where}: ${id.problem}` }
  const message = value["Message"]
  if (message === undefined || message === null) return { problem: `${where}: 'Message' is missing` }
  if (typeof message !== "string" && !isObject(message)) return { problem: `${where}: 'Message' must be an object or a string` }
  if (typeof message === "string" && message.length === 0) return { problem: `${where}: 'Message' is an empty string` }
  const problem = validate?.(value)
  if (problem !== undefined) return { problem: `${where}: ${problem}` }
  return { envelopeId: id, raw: value }
}

/** A JSON body holding one event or an array of them → the events, or the first thing wrong. */
const eventsOfJson = (text: string, where: string, validate: Validate): { readonly events: ReadonlyArray<PushedEvent>; readonly echo: unknown } | { readonly problem: string } => {
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch (e) {
    // V8's message may quote the body: keep only the position.
    const position = /position (\d+)/.exec((e as Error).message)?.[1]
    return { problem: `${where} is not valid JSON${position === undefined ? "" : ` (at position ${position})`}` }
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { problem: `${where} is an empty array: no events` }
    const events: Array<PushedEvent> = []
    for (const [i, item] of value.entries()) {
      const checked = checkEvent(item, `${where}[${i}]`, validate)
      if ("problem" in checked) return checked
      events.push(checked)
    }
    return { events, echo: value }
  }
  const checked = checkEvent(value, where, validate)
  return "problem" in checked ? checked : { events: [checked], echo: value }
}

/** OData key literal for the created entity's URL: `Events('a''b')` or `Events(42)`. */
const entityLocation = (events: ReadonlyArray<PushedEvent>): string | undefined => {
  if (events.length !== 1) return undefined
  const event = events[0]!
  const id = isObject(event.raw) ? event.raw["Id"] : undefined
  const key = typeof id === "number" ? String(id) : `'${event.envelopeId.replace(/'/g, "''")}'`
  return `Events(${encodeURIComponent(key).replace(/%27/g, "'")})`
}

const isJsonMediaType = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const type = parseMediaType(contentType).type
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"))
}

// ---------------------------------------------------------------- client certificates

/** The CN values of a subject written as `CN=a,O=b` (RFC 2253) or `/O=b/CN=a` (OpenSSL one-line). */
const commonNamesOf = (subject: string): Array<string> => {
  const parts = subject.startsWith("/") ? subject.split("/") : subject.split(/(?<!\\),/)
  return parts.map((p) => p.trim()).filter((p) => /^CN=/i.test(p)).map((p) => p.slice(3).replace(/\\(.)/g, "$1").trim())
}

const subjectAllowed = (names: ReadonlyArray<string>, allowed: ReadonlyArray<string> | undefined): boolean =>
  allowed === undefined || (names.length > 0 && names.every((n) => allowed.includes(n)))

/**
 * Refuse before the body is read, or null to go on. `tls.allowedSubjects`
 * applies to the certificate on the connection (behind a terminator, the
 * terminator's own); `allowedForwardedSubjects` to the one it forwards.
 */
const checkClient = (req: IncomingMessage, options: PushReceiverOptions): Answer | null => {
  const refuse = (status: 401 | 403, message: string) => odataError(status, status === 401 ? "Unauthorized" : "Forbidden", message, { closeConnection: true })
  if (options.tls?.requestClientCert === true) {
    const socket = req.socket as TLSSocket
    const cert = socket.getPeerCertificate()
    if (cert === null || Object.keys(cert).length === 0) return refuse(401, "a client certificate is required")
    if (!socket.authorized) return refuse(403, `the client certificate is not trusted (${String(socket.authorizationError ?? "unverified")})`)
    const cn = cert.subject?.CN as string | Array<string> | undefined
    if (!subjectAllowed(cn === undefined ? [] : Array.isArray(cn) ? cn : [cn], options.tls.allowedSubjects)) return refuse(403, "the client certificate's subject is not allowed")
  }
  if (options.trustProxyClientCertHeader !== undefined) {
    const forwarded = req.headers[options.trustProxyClientCertHeader.toLowerCase()]
    if (typeof forwarded !== "string" || forwarded.trim() === "") return refuse(401, "a client certificate is required")
    if (!subjectAllowed(commonNamesOf(forwarded), options.allowedForwardedSubjects)) return refuse(403, "the client certificate's subject is not allowed")
  }
  return null
}

// ---------------------------------------------------------------- bodies

class TooLarge extends Error {}

const readBody = async (req: IncomingMessage, maxBytes: number): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) throw new TooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

// ---------------------------------------------------------------- handlers

const recordOr503 = async (options: PushReceiverOptions, events: ReadonlyArray<PushedEvent>): Promise<Answer | null> => {
  if (events.length === 0) return null
  try {
    await options.record(events)
    return null
  } catch {
    // The caller's store failed and the caller knows why; the sender only needs to send again.
    return odataError(503, "Unavailable", "the events could not be recorded; send them again", { headers: { "Retry-After": "5" } })
  }
}

const handleEvents = async (options: PushReceiverOptions, body: Buffer): Promise<Answer> => {
  const parsed = eventsOfJson(body.toString("utf8"), "the body", options.validate)
  if ("problem" in parsed) return odataError(400, "BadRequest", parsed.problem)
  const failed = await recordOr503(options, parsed.events)
  if (failed !== null) return failed
  const location = entityLocation(parsed.events)
  return {
    status: 201,
    contentType: JSON_TYPE,
    body: JSON.stringify(parsed.echo),
    recorded: parsed.events.length,
    ...(location === undefined ? {} : { headers: { Location: location } })
  }
}

/** The path of a batch operation's URL (absolute, absolute path or relative), without query. */
const operationPath = (url: string): string => {
  try {
    return new URL(url, "http://batch.invalid/").pathname
  } catch {
    return url.split("?")[0] ?? url
  }
}

type Checked =
  | { readonly ok: true; readonly events: ReadonlyArray<PushedEvent>; readonly echo: unknown }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string }

const checkOperation = (op: BatchOperation, where: string, validate: Validate): Checked => {
  const path = operationPath(op.url)
  if (!/(?:^|\/)Events$/.test(path)) return { ok: false, status: 404, code: "NotFound", message: `${where}: only POST Events is served here` }
  if (op.method !== "POST") return { ok: false, status: 405, code: "MethodNotAllowed", message: `${where}: ${op.method} is not allowed on Events (POST only)` }
  const contentType = op.headers["content-type"]
  // Lenient where the embedded request leaves the type out; strict where it names another.
  if (contentType !== undefined && !isJsonMediaType(contentType)) return { ok: false, status: 415, code: "UnsupportedMediaType", message: `${where}: Content-Type must be application/json` }
  const parsed = eventsOfJson(op.body, `${where}: the body`, validate)
  if ("problem" in parsed) return { ok: false, status: 400, code: "BadRequest", message: parsed.problem }
  return { ok: true, events: parsed.events, echo: parsed.echo }
}

const handleBatch = async (options: PushReceiverOptions, contentType: string, body: Buffer): Promise<Answer> => {
  const parsed = parseBatch(contentType, body)
  if (!parsed.ok) return odataError(400, "BadRequest", parsed.error)
  const operations = parsed.operations
  const checked = operations.map((op, i) => checkOperation(op, `operation ${i + 1}${op.contentId === null ? "" : ` (Content-ID ${op.contentId})`}`, options.validate))

  // A change set is atomic: one bad operation and none of its events are recorded.
  const failedChangesets = new Set(operations.flatMap((op, i) => (op.changeset !== null && !checked[i]!.ok ? [op.changeset] : [])))
  const kept = (i: number) => checked[i]!.ok && !failedChangesets.has(operations[i]!.changeset ?? "")
  const events = checked.flatMap((c, i) => (c.ok && kept(i) ? c.events : []))
  const problems = checked.flatMap((c) => (c.ok ? [] : [c.message]))
  // Unlike a strict OData service we go on past a failed operation (as with `continue-on-error`): every
  // valid event is stored now, so a retry of the batch only repeats what the caller deduplicates.
  const failed = await recordOr503(options, events)
  if (failed !== null) return failed

  const results: Array<OperationResult> = operations.map((op, i): OperationResult => {
    const c = checked[i]!
    if (!c.ok) return { contentId: op.contentId, changeset: op.changeset, status: c.status, body: { error: { code: c.code, message: c.message } } }
    const location = entityLocation(c.events)
    return { contentId: op.contentId, changeset: op.changeset, status: 201, body: c.echo, ...(location === undefined ? {} : { headers: { Location: location } }) }
  })
  const response = formatBatchResponse(results)
  return { status: 200, contentType: response.contentType, body: response.body, recorded: events.length, problems }
}

const trimSlashes = (path: string) => path.replace(/\/+$/, "")

const route = (pathname: string, base: string): "events" | "batch" | null => {
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname) // some clients send %24batch
  } catch {
    return null
  }
  if (decoded === `${base}/Events`) return "events"
  if (decoded === `${base}/$batch`) return "batch"
  return null
}

const answerFor = async (req: IncomingMessage, res: ServerResponse, options: PushReceiverOptions, base: string, maxBodyBytes: number): Promise<Answer> => {
  // Who is asking comes first: an unauthenticated peer learns nothing, not even which paths exist.
  const refused = checkClient(req, options)
  if (refused !== null) return refused
  const pathname = (req.url ?? "/").split("?")[0] ?? "/"
  const target = route(pathname, base)
  if (target === null) return odataError(404, "NotFound", `nothing is served at this path; POST to ${base}/Events or ${base}/$batch`, { closeConnection: true })
  if (req.method !== "POST") return odataError(405, "MethodNotAllowed", `${req.method ?? "?"} is not allowed here (POST only)`, { headers: { Allow: "POST" }, closeConnection: true })

  const contentType = req.headers["content-type"]
  if (target === "events" && !isJsonMediaType(contentType)) return odataError(415, "UnsupportedMediaType", "Content-Type must be application/json", { closeConnection: true })
  if (target === "batch" && (contentType === undefined || parseMediaType(contentType).type !== "multipart/mixed")) {
    return odataError(415, "UnsupportedMediaType", "Content-Type must be multipart/mixed with a boundary (the OData 4.0 batch format)", { closeConnection: true })
  }
  const encoding = req.headers["content-encoding"]
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") return odataError(415, "UnsupportedMediaType", "Content-Encoding is not supported", { closeConnection: true })
  const declared = Number(req.headers["content-length"])
  if (Number.isFinite(declared) && declared > maxBodyBytes) return odataError(413, "PayloadTooLarge", `the body is over ${maxBodyBytes} bytes`, { closeConnection: true })

  // Only now invite a sender that waits for it (Expect: 100-continue) to send its body.
  if (/100-continue/i.test(req.headers.expect ?? "")) res.writeContinue()
  let body: Buffer
  try {
    body = await readBody(req, maxBodyBytes)
  } catch (e) {
    if (e instanceof TooLarge) return odataError(413, "PayloadTooLarge", `the body is over ${maxBodyBytes} bytes`, { closeConnection: true })
    throw e
  }
  return target === "events" ? handleEvents(options, body) : handleBatch(options, contentType!, body)
}

const send = (req: IncomingMessage, res: ServerResponse, answer: Answer) => {
  const headers: Record<string, string> = { "OData-Version": "4.0", ...(answer.headers ?? {}) }
  if (answer.contentType !== undefined) headers["Content-Type"] = answer.contentType
  const payload = answer.body === undefined ? undefined : Buffer.from(answer.body, "utf8")
  headers["Content-Length"] = String(payload?.length ?? 0)
  // Do not read (or wait for) a body we refused: with `Connection: close` node drops the connection once answered.
  if (answer.closeConnection === true && !req.complete) headers["Connection"] = "close"
  res.writeHead(answer.status, headers)
  res.end(payload)
}

// ---------------------------------------------------------------- server

const formatHost = (host: string) => (host.includes(":") ? `[${host}]` : host)

export const startPushReceiver = async (options: PushReceiverOptions): Promise<PushReceiver> => {
  const base = trimSlashes(options.basePath ?? "/").replace(/^(?!\/)/, "/").replace(/^\/$/, "")
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    answerFor(req, res, options, base, maxBodyBytes)
      .catch((): Answer => odataError(500, "InternalError", "the request could not be handled", { closeConnection: true }))
      .then((answer) => {
        send(req, res, answer)
        options.onOutcome?.({
          method: req.method ?? "?",
          path: (req.url ?? "/").split("?")[0] ?? "/",
          status: answer.status,
          recorded: answer.recorded ?? 0,
          problems: answer.problems ?? []
        })
      })
      .catch(() => res.destroy()) // a throwing onOutcome or a dead socket: nothing left to answer
  }

  const tls = options.tls
  const server: Server = tls === undefined
    ? createHttpServer(handler)
    : createHttpsServer(
      {
        key: tls.key,
        cert: tls.cert,
        ...(tls.ca === undefined ? {} : { ca: tls.ca as string | Buffer | Array<string | Buffer> }),
        requestCert: tls.requestClientCert,
        // Verified per request instead of in the handshake, so a refusal is an HTTP answer that says why.
        rejectUnauthorized: false
      },
      handler
    )

  // Handled like any request, so the checks above run before the sender is told to go on.
  server.on("checkContinue", handler)
  server.listen(options.port, options.host)
  await Promise.race([once(server, "listening"), once(server, "error").then(([e]) => Promise.reject(e as Error))])
  const address = server.address() as AddressInfo
  const url = `${tls === undefined ? "http" : "https"}://${formatHost(options.host)}:${address.port}${base === "" ? "" : base}`

  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e === undefined ? resolve() : reject(e)))
        server.closeIdleConnections()
        // Requests in flight get a grace period to finish recording and answer, then their connections go.
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref()
      })
  }
}
