/**
 * OData 4.0 multipart batches (OData Version 4.0 Part 1: Protocol, 11.7), as
 * Datafordeler's PUSH sends them to `{base}/$batch`: a `multipart/mixed` body
 * whose parts are either one `application/http` request or a change set (a
 * nested `multipart/mixed` of `application/http` requests). Pure functions:
 * text in, operations out; results in, response text out.
 *
 * Read leniently where senders differ and the meaning is still clear: CRLF or
 * bare LF line ends, quoted boundaries, preamble and epilogue (ignored, as the
 * spec says), a request line without `HTTP/1.1` (the spec's own example has
 * one), `Content-ID` on the MIME part or (older clients) inside the request.
 */
import { randomUUID } from "node:crypto"
import { STATUS_CODES } from "node:http"

export interface BatchOperation {
  /** The part's `Content-ID` (the request identifier), echoed in its response. */
  readonly contentId: string | null
  readonly method: string
  /** As written on the request line: absolute, absolute path, or relative to the batch URL. */
  readonly url: string
  /** The embedded request's headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** Which change set the operation belongs to (its boundary), or null outside one. */
  readonly changeset: string | null
}

export type ParsedBatch =
  | { readonly ok: true; readonly operations: ReadonlyArray<BatchOperation> }
  | { readonly ok: false; readonly error: string }

export interface OperationResult {
  readonly contentId: string | null
  readonly changeset: string | null
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  /** Serialised as JSON when present. */
  readonly body?: unknown
}

export interface BatchResponse {
  readonly contentType: string
  readonly body: string
}

class Malformed extends Error {}

// ---------------------------------------------------------------- content types

export interface MediaType {
  /** Lower case, without parameters: `multipart/mixed`. */
  readonly type: string
  /** Parameter names in lower case; values unquoted. */
  readonly params: Readonly<Record<string, string>>
}

/** `multipart/mixed; boundary="a b"; charset=utf-8` → its type and parameters (quoted values unescaped). */
export const parseMediaType = (header: string): MediaType => {
  const semi = header.indexOf(";")
  const type = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase()
  const params: Record<string, string> = {}
  let rest = semi < 0 ? "" : header.slice(semi + 1)
  const param = /^\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))\s*(?:;|$)/
  while (rest.trim() !== "") {
    const m = param.exec(rest)
    if (m === null) {
      // A parameter without '=': skip it rather than give up on the header.
      const next = rest.indexOf(";")
      if (next < 0) break
      rest = rest.slice(next + 1)
      continue
    }
    const name = m[1]!.toLowerCase()
    params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!.trim()
    rest = rest.slice(m[0].length)
  }
  return { type, params }
}

// ---------------------------------------------------------------- MIME reading

/** Lines of a header block → lower-case names; folded lines joined; repeats joined with ", ". */
const parseHeaderLines = (lines: ReadonlyArray<string>, where: string): Record<string, string> => {
  const headers: Record<string, string> = {}
  let last: string | undefined
  for (const line of lines) {
    if (/^[ \t]/.test(line) && last !== undefined) {
      headers[last] += " " + line.trim()
      continue
    }
    const colon = line.indexOf(":")
    if (colon <= 0) throw new Malformed(`${where}: a header line without 'Name: value'`)
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    last = name
  }
  return headers
}

/** Split at the first empty line (either line end): header lines, and the rest verbatim; null when there is no empty line. */
const splitHead = (text: string): { readonly head: Array<string>; readonly rest: string } | null => {
  const lines: Array<string> = []
  let pos = 0
  while (pos <= text.length) {
    const nl = text.indexOf("\n", pos)
    const end = nl < 0 ? text.length : nl
    const line = text.slice(pos, end).replace(/\r$/, "")
    if (line === "") return { head: lines, rest: nl < 0 ? "" : text.slice(nl + 1) }
    lines.push(line)
    if (nl < 0) return null
    pos = nl + 1
  }
  return null
}

/**
 * The body parts of a multipart body (RFC 2046 5.1.1): text between delimiter
 * lines `--boundary`, up to the close delimiter `--boundary--`. The line end
 * before a delimiter belongs to the delimiter, not to the part.
 */
const splitMultipart = (text: string, boundary: string, where: string): Array<string> => {
  const delimiter = "--" + boundary
  // Where each delimiter line starts, where its line ends, and whether it closes.
  const findDelimiter = (from: number): { start: number; after: number; closes: boolean } | null => {
    let at = text.indexOf(delimiter, from)
    while (at >= 0) {
      const atLineStart = at === 0 || text[at - 1] === "\n"
      let p = at + delimiter.length
      const closes = text.startsWith("--", p)
      if (closes) p += 2
      while (text[p] === " " || text[p] === "\t") p++ // transport padding
      const lineEnds = p === text.length || text[p] === "\n" || (text[p] === "\r" && text[p + 1] === "\n")
      if (atLineStart && lineEnds) {
        const after = p === text.length ? p : text[p] === "\r" ? p + 2 : p + 1
        return { start: at, after, closes }
      }
      at = text.indexOf(delimiter, at + 1)
    }
    return null
  }
  const partEnd = (delimiterStart: number) =>
    delimiterStart >= 2 && text.slice(delimiterStart - 2, delimiterStart) === "\r\n" ? delimiterStart - 2 : delimiterStart >= 1 && text[delimiterStart - 1] === "\n" ? delimiterStart - 1 : delimiterStart

  let current = findDelimiter(0) // what precedes it is the preamble
  if (current === null) throw new Malformed(`${where}: no line '--${boundary}' starts a part (wrong boundary?)`)
  const parts: Array<string> = []
  while (!current.closes) {
    const next = findDelimiter(current.after)
    if (next === null) throw new Malformed(`${where}: part ${parts.length + 1} is unterminated (the body ends without '--${boundary}--')`)
    parts.push(text.slice(current.after, partEnd(next.start)))
    current = next
  }
  return parts // what follows the close delimiter is the epilogue
}

const boundaryOf = (contentType: string, where: string): string => {
  const media = parseMediaType(contentType)
  if (media.type !== "multipart/mixed") throw new Malformed(`${where}: Content-Type is '${media.type}', not multipart/mixed`)
  const boundary = media.params["boundary"]
  if (boundary === undefined || boundary === "") throw new Malformed(`${where}: multipart/mixed without a boundary parameter`)
  if (boundary.length > 70) throw new Malformed(`${where}: the boundary is longer than 70 characters`)
  return boundary
}

const transferEncodingIsReadable = (headers: Record<string, string>): boolean => {
  const encoding = (headers["content-transfer-encoding"] ?? "binary").toLowerCase()
  return encoding === "binary" || encoding === "8bit" || encoding === "7bit"
}

/** An `application/http` part's content: request line, headers, empty line, body. */
const parseEmbeddedRequest = (content: string, where: string): { method: string; url: string; headers: Record<string, string>; body: string } => {
  const trimmed = content.replace(/^(?:\r?\n)+/, "") // some senders put an extra empty line first
  const split = splitHead(trimmed)
  // Without an empty line the request is headers only (a GET whose empty body was eaten by the delimiter's line end).
  const head = split?.head ?? trimmed.split(/\r?\n/).filter((l, i, all) => !(l === "" && i === all.length - 1))
  const body = split?.rest ?? ""
  const requestLine = head[0]
  if (requestLine === undefined) throw new Malformed(`${where}: an application/http part without a request line`)
  const m = /^([A-Za-z]+) +(\S+)(?: +HTTP\/\d+(?:\.\d+)?)? *$/.exec(requestLine)
  if (m === null) throw new Malformed(`${where}: malformed request line (expected 'METHOD URL HTTP/1.1')`)
  return { method: m[1]!.toUpperCase(), url: m[2]!, headers: parseHeaderLines(head.slice(1), where), body }
}

const parseMimePart = (part: string, where: string): { headers: Record<string, string>; content: string } => {
  const split = splitHead(part)
  if (split === null) throw new Malformed(`${where}: no empty line after the part's headers`)
  const headers = parseHeaderLines(split.head, where)
  if (!transferEncodingIsReadable(headers)) throw new Malformed(`${where}: Content-Transfer-Encoding '${headers["content-transfer-encoding"]}' is not supported (use binary)`)
  return { headers, content: split.rest }
}

const operationOf = (headers: Record<string, string>, content: string, changeset: string | null, where: string): BatchOperation => {
  const request = parseEmbeddedRequest(content, where)
  const contentId = headers["content-id"] ?? request.headers["content-id"] ?? null
  return { contentId, method: request.method, url: request.url, headers: request.headers, body: request.body, changeset }
}

/**
 * A multipart batch request → its operations in order, or what is wrong with
 * it (naming the part). Change sets cannot nest (11.7.7.1); each change set
 * is named by its boundary (made unique if a sender reuses one).
 */
export const parseBatch = (contentType: string, body: Buffer | string): ParsedBatch => {
  try {
    const boundary = boundaryOf(contentType, "batch")
    const text = typeof body === "string" ? body : body.toString("utf8")
    const operations: Array<BatchOperation> = []
    const changesetNames = new Set<string>()
    splitMultipart(text, boundary, "batch").forEach((rawPart, i) => {
      const where = `batch part ${i + 1}`
      const { headers, content } = parseMimePart(rawPart, where)
      const type = headers["content-type"]
      if (type === undefined) throw new Malformed(`${where}: no Content-Type (expected application/http or multipart/mixed)`)
      const media = parseMediaType(type)
      if (media.type === "application/http") return void operations.push(operationOf(headers, content, null, where))
      if (media.type !== "multipart/mixed") throw new Malformed(`${where}: Content-Type '${media.type}' is neither application/http nor multipart/mixed`)
      const changesetBoundary = boundaryOf(type, `${where} (change set)`)
      let name = changesetBoundary
      for (let n = 2; changesetNames.has(name); n++) name = `${changesetBoundary}#${n}`
      changesetNames.add(name)
      splitMultipart(content, changesetBoundary, `${where} (change set)`).forEach((rawOp, j) => {
        const opWhere = `${where}, change set part ${j + 1}`
        const op = parseMimePart(rawOp, opWhere)
        const opType = op.headers["content-type"]
        const opMedia = opType === undefined ? undefined : parseMediaType(opType)
        if (opMedia?.type === "multipart/mixed") throw new Malformed(`${opWhere}: change sets cannot be nested`)
        if (opMedia?.type !== "application/http") throw new Malformed(`${opWhere}: Content-Type '${opMedia?.type ?? "(none)"}' is not application/http`)
        operations.push(operationOf(op.headers, op.content, name, opWhere))
      })
    })
    return { ok: true, operations }
  } catch (e) {
    if (e instanceof Malformed) return { ok: false, error: e.message }
    throw e
  }
}

// ---------------------------------------------------------------- response writing

const CRLF = "\r\n"

const reasonPhrase = (status: number): string => STATUS_CODES[status] ?? "Unknown"

const httpPart = (result: OperationResult, contentId: string | null): string => {
  const partHeaders = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
  if (contentId !== null) partHeaders.push(`Content-ID: ${contentId}`)
  const responseHeaders: Record<string, string> = { ...(result.headers ?? {}) }
  const hasHeader = (name: string) => Object.keys(responseHeaders).some((k) => k.toLowerCase() === name)
  let payload = ""
  if (result.body !== undefined) {
    payload = JSON.stringify(result.body)
    if (!hasHeader("content-type")) responseHeaders["Content-Type"] = "application/json;odata.metadata=minimal"
    if (!hasHeader("content-length")) responseHeaders["Content-Length"] = String(Buffer.byteLength(payload))
  }
  const head = [`HTTP/1.1 ${result.status} ${reasonPhrase(result.status)}`, ...Object.entries(responseHeaders).map(([k, v]) => `${k}: ${v}`)]
  return partHeaders.join(CRLF) + CRLF + CRLF + head.join(CRLF) + CRLF + CRLF + payload
}

const multipart = (boundary: string, parts: ReadonlyArray<string>): string =>
  parts.map((p) => `--${boundary}${CRLF}${p}${CRLF}`).join("") + `--${boundary}--${CRLF}`

/** Consecutive results of the same change set, and loose results one by one, in order. */
const groupByChangeset = (results: ReadonlyArray<OperationResult>): Array<ReadonlyArray<OperationResult>> => {
  const groups: Array<Array<OperationResult>> = []
  for (const r of results) {
    const last = groups[groups.length - 1]
    if (r.changeset !== null && last !== undefined && last[0]!.changeset === r.changeset) last.push(r)
    else groups.push([r])
  }
  return groups
}

/**
 * Results (in request order) → a multipart/mixed batch response with fresh
 * boundaries, shaped like the request. A change set is atomic: if any of its
 * operations failed (status ≥ 400) it is answered by that one error response
 * in place of the change set (11.7.7.3); otherwise by a nested multipart with
 * one response per operation, each with its Content-ID echoed.
 */
export const formatBatchResponse = (results: ReadonlyArray<OperationResult>): BatchResponse => {
  const render = (batchBoundary: string, changesetBoundary: () => string): string =>
    multipart(
      batchBoundary,
      groupByChangeset(results).map((group) => {
        const first = group[0]!
        if (first.changeset === null) return httpPart(first, first.contentId)
        const failed = group.find((r) => r.status >= 400)
        if (failed !== undefined) return httpPart(failed, failed.contentId)
        const boundary = changesetBoundary()
        return `Content-Type: multipart/mixed; boundary=${boundary}${CRLF}${CRLF}` + multipart(boundary, group.map((r) => httpPart(r, r.contentId))).slice(0, -CRLF.length)
      })
    )
  // A boundary must not occur in what it encloses: fresh UUIDs make that all but certain; check anyway.
  for (;;) {
    const id = randomUUID()
    const batchBoundary = `batchresponse_${id}`
    let n = 0
    const body = render(batchBoundary, () => `changesetresponse_${id}_${++n}`)
    const payloads = results.map((r) => (r.body === undefined ? "" : JSON.stringify(r.body)))
    if (!payloads.some((p) => p.includes(`batchresponse_${id}`) || p.includes(`changesetresponse_${id}`))) {
      return { contentType: `multipart/mixed; boundary=${batchBoundary}`, body }
    }
  }
}
