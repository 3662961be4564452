/**
 * Exactly the same answers on both backends, seen through the real door: two `skygge run --config FILE`,
 * one on a SQLite file and one on a PostgreSQL database, take the same registrations over HTTP
 * (including equal instants, open ends, a 7th fractional digit, a retract, a stale and a duplicate one,
 * ids that sort differently under a locale collation), and every read answers the same bytes —
 * history, as-of, a keyset-paged snapshot, the changes window (NDJSON and CSV), refused inputs and
 * activations — but for `storedAt`, the instant each engine stored a row.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "vitest"
import { useCleanups } from "../support/cleanups.js"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { TEST_BACKENDS, testStores } from "../support/testStores.js"
import { waitForReady } from "../support/wait.js"

const cleanups = useCleanups()
const newStore = testStores()

const IDS = ["a", "B", "æble", "Z", "10", "9", "a-b", "a_b", "ø"]
const operations = (): Array<Record<string, unknown>> => {
  const ops: Array<Record<string, unknown>> = []
  IDS.forEach((id, i) => {
    ops.push({ op: "assert", objectType: "person", objectId: id, registreringstid: "2020-01-01T00:00:00Z", virkningFra: null, virkningTil: null, data: { name: `n${i}`, tags: ["x", i] }, eventId: `c-${i}` })
    ops.push({ op: "assert", objectType: "person", objectId: id, registreringstid: "2020-06-01T12:00:00.1234567Z", virkningFra: "2021-01-01T00:00:00Z", virkningTil: "2040-01-01T00:00:00Z", data: { z: 1, a: { y: 2, b: [3] }, name: `m${i}` }, eventId: `u-${i}` })
    if (i % 3 === 0) ops.push({ op: "retract", objectType: "person", objectId: id, registreringstid: "2020-06-01T12:00:00.1234567Z", virkningFra: "2030-01-01T00:00:00Z", virkningTil: null, eventId: `r-${i}` })
  })
  ops.push({ op: "assert", objectType: "person", objectId: "a", registreringstid: "2019-01-01T00:00:00Z", virkningFra: null, virkningTil: null, data: { stale: true }, eventId: "stale-1" })
  ops.push(ops[0]!) // a duplicate
  ops.push({ ...ops[0]!, data: { other: true } }) // the same eventId for another operation
  return ops
}

const READS = [
  "/v1/objects/person/a/history",
  "/v1/objects/person/%C3%A6ble/history",
  "/v1/objects/person/a?registreringstid=2020-03-01T00:00:00Z&virkningstid=2025-01-01T00:00:00Z",
  "/v1/objects/person/9?registreringstid=2020-06-01T12:00:00.123456Z&virkningstid=2021-01-01T00:00:00Z",
  "/v1/objects/person?registreringstid=2020-07-01T00:00:00Z&virkningstid=2022-01-01T00:00:00Z&limit=4",
  "/v1/objects/person?registreringstid=2020-07-01T00:00:00Z&virkningstid=2022-01-01T00:00:00Z&limit=4&after=Z",
  "/v1/objects/person?registreringstid=2020-07-01T00:00:00Z&virkningstid=2035-01-01T00:00:00Z&format=ndjson",
  "/v1/changes?since=2019-01-01T00:00:00Z&until=2021-01-01T00:00:00Z",
  "/v1/changes?since=2020-01-01T00:00:00Z&until=2020-06-01T12:00:00.123456Z&format=csv",
  "/v1/refused?after=0&limit=100",
  "/v1/activations?status=all&limit=100"
]

/** A body without the instants each engine stamped itself (when it stored, refused or settled): those near now; the data's are years away. */
const withoutOwnInstants = (text: string) =>
  text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, (t) => (Math.abs(Date.parse(t) - Date.now()) < 86_400_000 ? "…" : t))

it("both backends answer every read with the same bytes, through skygge run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-same-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const answers: Array<Array<string>> = []
  for (const backend of TEST_BACKENDS) {
    const store = await newStore(backend, dir)
    const port = await freePort()
    const configFile = join(dir, `${backend}.json`)
    writeFileSync(configFile, JSON.stringify({ store: store.config, api: { host: "127.0.0.1", port }, log: { level: "Error" } }))
    const child = startSkygge(configFile)
    cleanups.push(() => killIfRunning(child))
    await waitForReady(port)
    const api = `http://127.0.0.1:${port}`
    const posted = await fetch(`${api}/v1/registrations`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: operations().map((o) => JSON.stringify(o)).join("\n") })
    const summary = await posted.text()
    const bodies = [`${posted.status} ${summary}`]
    for (const path of READS) {
      const response = await fetch(`${api}${path}`)
      bodies.push(`${path} → ${response.status} ${response.headers.get("content-type")}\n${withoutOwnInstants(await response.text())}`)
    }
    answers.push(bodies)
    await killIfRunning(child)
  }
  const [sqlite, postgres] = answers
  expect(sqlite![0]).toMatch(/^422 /) // some refused (stale, reused id), the rest applied
  expect(sqlite!.join("\n")).toContain("æble")
  expect(postgres).toEqual(sqlite)
}, 120_000)
