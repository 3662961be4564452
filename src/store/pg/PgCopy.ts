/**
 * A unit of work's bulk inserts, one statement each: `COPY … FROM STDIN` (text format) for many records,
 * `INSERT … SELECT FROM unnest(…)` for a few. the server parses COPY's
 * tab-separated lines for less than it parses the same values as `unnest` arrays (measured by
 * `npm run bench:pg`, line (a)). Sent on node-postgres's own protocol handling, as pg-copy-streams
 * does: a query whose copy-in response the client hands to it. A COPY waits for the server's
 * copy-in response before its data goes: for a few records a plain INSERT is faster (measured: the
 * model-based contract test, all small batches, took three times as long with COPY everywhere).
 */
import pg from "pg"

type Value = string | number | boolean | null

/** The fewest records a unit of work writes by COPY rather than by INSERT … unnest. */
export const COPY_FROM = 256

/** COPY's text format: backslash, newline, carriage return and tab escaped; NULL as \N. */
const field = (v: Value): string => {
  if (v === null) return "\\N"
  if (typeof v === "boolean") return v ? "t" : "f"
  if (typeof v === "number") return String(v)
  return /[\\\n\r\t]/.test(v) ? v.replace(/[\\\n\r\t]/g, (c) => (c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t")) : v
}

interface CopyConnection {
  sendCopyFromChunk(chunk: Buffer): void
  endCopyFrom(): void
}

class CopyIn extends pg.Query {
  constructor(text: string, private readonly data: Buffer) {
    super(text)
  }
  handleCopyInResponse(connection: CopyConnection) {
    connection.sendCopyFromChunk(this.data)
    connection.endCopyFrom()
  }
}

/** Insert `rows` (values in the order of `columns`) into `table` in one COPY. */
export const copyInto = (client: pg.ClientBase, table: string, columns: string, rows: ReadonlyArray<ReadonlyArray<Value>>): Promise<void> => {
  if (rows.length === 0) return Promise.resolve()
  // Each line is encoded into one growing buffer as it is made (measured: less than half the time of
  // one string for the batch, built by +=, encoded at the end).
  let data = Buffer.allocUnsafe(1 << 16)
  let size = 0
  for (const row of rows) {
    const line = row.map(field).join("\t") + "\n"
    const most = size + line.length * 3 // UTF-8 needs at most 3 bytes for each UTF-16 unit
    if (most > data.length) {
      const grown = Buffer.allocUnsafe(Math.max(most, data.length * 2))
      data.copy(grown, 0, 0, size)
      data = grown
    }
    size += data.write(line, size)
  }
  return new Promise<void>((done, fail) => {
    const query = client.query(new CopyIn(`COPY ${table} (${columns}) FROM STDIN`, data.subarray(0, size)))
    query.on("end", () => done())
    query.on("error", fail)
  })
}

/** A column of a bulk insert: its name and its PostgreSQL type (for the unnest arrays). */
export type Column = readonly [name: string, type: "bigint" | "text" | "boolean"]

/**
 * Insert `rows` (values in the order of `columns`) into `table` in one statement: COPY from COPY_FROM
 * records on, INSERT … unnest (one array per column) below.
 */
export const bulkInsert = async (client: pg.ClientBase, table: string, columns: ReadonlyArray<Column>, rows: ReadonlyArray<ReadonlyArray<Value>>): Promise<void> => {
  if (rows.length === 0) return
  const names = columns.map(([name]) => name).join(", ")
  if (rows.length >= COPY_FROM) return copyInto(client, table, names, rows)
  const arrays = columns.map((_, i) => rows.map((row) => row[i]!))
  await client.query(`INSERT INTO ${table} (${names}) SELECT * FROM unnest(${columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")})`, arrays)
}
