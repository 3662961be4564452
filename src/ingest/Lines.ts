/**
 * Split a byte stream into NDJSON lines in constant memory. A line longer than
 * `maxLineBytes` is not buffered: it is reported as too long and skipped up to
 * its newline, so one bad line cannot take the process down or lose the rest.
 */
export type Line =
  | { readonly _tag: "Text"; readonly line: number; readonly text: string }
  | { readonly _tag: "TooLong"; readonly line: number; readonly bytes: number; readonly head: string }

const NEWLINE = 0x0a

export interface LineProgress {
  /** Bytes consumed so far. */
  bytes: number
}

/**
 * Yields lines in groups of up to `groupSize` (a group per transaction on the
 * bulk path), blank lines skipped. `progress.bytes` counts bytes consumed.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array>,
  options: {
    readonly maxLineBytes: number
    readonly groupSize: number
    readonly progress?: LineProgress
    /** True when the source was cut short: its unfinished last line is then dropped, not decoded. */
    readonly truncated?: () => boolean
  }
): AsyncGenerator<Array<Line>> {
  const decoder = new TextDecoder("utf-8")
  let pending: Array<Buffer> = []
  let pendingBytes = 0
  let skipping = 0 // >0 while discarding an over-long line: bytes seen so far
  let skippingHead = ""
  let lineNo = 0
  let group: Array<Line> = []

  const emitText = (bytes: Buffer) => {
    lineNo++
    let end = bytes.length
    if (end > 0 && bytes[end - 1] === 0x0d) end-- // tolerate CRLF
    const text = decoder.decode(bytes.subarray(0, end))
    if (text.trim().length > 0) group.push({ _tag: "Text", line: lineNo, text })
  }
  const emitTooLong = (bytes: number, head: string) => {
    lineNo++
    group.push({ _tag: "TooLong", line: lineNo, bytes, head })
  }

  for await (const raw of chunks) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
    if (options.progress) options.progress.bytes += chunk.length
    let start = 0
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start)
      const end = nl === -1 ? chunk.length : nl
      const piece = chunk.subarray(start, end)
      if (skipping > 0) {
        skipping += piece.length
      } else if (pendingBytes + piece.length > options.maxLineBytes) {
        const head = Buffer.concat([...pending, piece.subarray(0, 200)]).subarray(0, 200)
        skippingHead = decoder.decode(head)
        skipping = pendingBytes + piece.length
        pending = []
        pendingBytes = 0
      } else if (nl === -1) {
        pending.push(Buffer.from(piece)) // copy: the chunk's memory may be reused
        pendingBytes += piece.length
      }
      if (nl === -1) break
      if (skipping > 0) {
        emitTooLong(skipping, skippingHead)
        skipping = 0
      } else if (pending.length === 0) {
        emitText(piece)
      } else {
        pending.push(piece)
        emitText(Buffer.concat(pending))
        pending = []
        pendingBytes = 0
      }
      start = nl + 1
      if (group.length >= options.groupSize) {
        yield group
        group = []
      }
    }
  }
  if (options.truncated?.() !== true) {
    if (skipping > 0) emitTooLong(skipping, skippingHead)
    else if (pendingBytes > 0) emitText(Buffer.concat(pending))
  }
  if (group.length > 0) yield group
}
