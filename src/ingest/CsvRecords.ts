/**
 * A streaming RFC 4180 reader: records from a byte stream in constant memory
 * (a quoted field may hold commas, quotes and line breaks, and may span
 * chunks). The first record is the header; each later one becomes an object
 * keyed by it. A record longer than `maxRecordBytes` is reported, not kept.
 */
export type CsvRecord =
  | { readonly _tag: "Record"; readonly line: number; readonly values: Record<string, string> }
  | { readonly _tag: "Bad"; readonly line: number; readonly reason: string }

export async function* csvRecords(chunks: AsyncIterable<Uint8Array>, options: { readonly maxRecordBytes: number; readonly progress?: { bytes: number } }): AsyncGenerator<CsvRecord> {
  const decoder = new TextDecoder("utf-8")
  let header: Array<string> | undefined
  let fields: Array<string> = []
  let field = ""
  let quoted = false
  let afterQuote = false // just closed a quoted field: the next char must be a separator
  let line = 1, recordLine = 1, size = 0, tooLong = false, bad: string | undefined

  const finish = (): CsvRecord | undefined => {
    fields.push(field)
    const values = fields
    const at = recordLine
    const problem = tooLong ? `record is over ${options.maxRecordBytes} bytes` : bad
    fields = []
    field = ""
    size = 0
    tooLong = false
    bad = undefined
    if (values.length === 1 && values[0] === "" && problem === undefined) return undefined // a blank line
    if (header === undefined) {
      if (problem !== undefined) return { _tag: "Bad", line: at, reason: `header: ${problem}` }
      header = values.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, "") : h))
      return undefined
    }
    if (problem !== undefined) return { _tag: "Bad", line: at, reason: problem }
    if (values.length !== header.length) return { _tag: "Bad", line: at, reason: `${values.length} fields where the header has ${header.length}` }
    const record: Record<string, string> = {}
    header.forEach((name, i) => (record[name] = values[i]!))
    return { _tag: "Record", line: at, values: record }
  }

  const consume = function* (text: string): Generator<CsvRecord> {
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!
      if (++size > options.maxRecordBytes && !tooLong) {
        tooLong = true
        field = ""
      }
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            if (!tooLong) field += '"'
            i++
          } else if (i + 1 === text.length) {
            // The quote may be the first of a doubled pair split across chunks: decide with the next chunk.
            pendingQuote = true
          } else {
            quoted = false
            afterQuote = true
          }
        } else {
          if (c === "\n") line++
          if (!tooLong) field += c
        }
        continue
      }
      if (c === ",") {
        fields.push(field)
        field = ""
        afterQuote = false
      } else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++
        if (c === "\r" && i + 1 === text.length) pendingCr = true
        line++
        afterQuote = false
        const record = finish()
        recordLine = line
        if (record !== undefined) yield record
      } else if (c === '"' && field === "" && !afterQuote) {
        quoted = true
      } else {
        if (afterQuote && bad === undefined) bad = "text after a closing quote"
        if (!tooLong) field += c
      }
    }
  }

  let pendingQuote = false
  let pendingCr = false
  for await (const chunk of chunks) {
    if (options.progress) options.progress.bytes += chunk.byteLength
    let text = decoder.decode(chunk, { stream: true })
    if (pendingCr) {
      pendingCr = false
      if (text.startsWith("\n")) text = text.slice(1)
    }
    if (pendingQuote) {
      pendingQuote = false
      if (text.startsWith('"')) {
        if (!tooLong) field += '"'
        text = text.slice(1)
      } else {
        quoted = false
        afterQuote = true
      }
    }
    yield* consume(text)
  }
  const rest = decoder.decode()
  if (rest.length > 0) yield* consume(rest)
  if (pendingQuote) {
    quoted = false
    afterQuote = true
  }
  if (quoted) {
    yield { _tag: "Bad", line: recordLine, reason: "the file ends inside a quoted field" }
    return
  }
  if (field !== "" || fields.length > 0) {
    const record = finish()
    if (record !== undefined) yield record
  }
}
