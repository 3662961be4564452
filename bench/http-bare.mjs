// The reference of bench/http.ts's load line: a bare node:http server, in a process of its own, answering
// `GET /v1/objects/{type}/{id}?registreringstid=…&virkningstid=…` with the store's own as-of statement
// (better-sqlite3, the store's pragmas for reading) and the row as JSON — no router, validation, auth or
// metrics. Usage: node bench/http-bare.mjs <sqlite file> <port>; prints `listening` when ready.
import Database from "better-sqlite3"
import { createServer } from "node:http"

const [file, port] = process.argv.slice(2)
const db = new Database(file, { readonly: true })
db.pragma("cache_size = -65536") // the store's default (store.cacheMiB 64, no mmap)
const asOf = db.prepare(
  `SELECT id, object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til, data, event_id, stored_at FROM rows
   WHERE object_type = @type AND object_id = @id
     AND registrering_fra <= @r AND (registrering_til IS NULL OR registrering_til > @r)
     AND (virkning_fra IS NULL OR virkning_fra <= @v) AND (virkning_til IS NULL OR virkning_til > @v)
   ORDER BY registrering_fra DESC, id DESC LIMIT 1`
)
createServer((req, res) => {
  const url = new URL(req.url, "http://x")
  const [, , , type, id] = url.pathname.split("/")
  const now = new Date().toISOString()
  const r = asOf.get({ type, id, r: url.searchParams.get("registreringstid") ?? now, v: url.searchParams.get("virkningstid") ?? now })
  const body =
    r === undefined
      ? JSON.stringify({ _tag: "NotFound", message: "no row" })
      : JSON.stringify({
          id: r.id,
          objectType: r.object_type,
          objectId: r.object_id,
          registreringFra: r.registrering_fra,
          registreringTil: r.registrering_til,
          virkningFra: r.virkning_fra,
          virkningTil: r.virkning_til,
          data: JSON.parse(r.data),
          eventId: r.event_id,
          storedAt: r.stored_at
        })
  res.writeHead(r === undefined ? 404 : 200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
}).listen(Number(port), "127.0.0.1", () => console.log("listening"))
