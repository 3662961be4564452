/**
 * SQL for analysts on PostgreSQL (drizzle/pg/0003_analyst_views.sql, README "SQL for analysts"):
 * after the DESIGN.md worked examples (and a few more operations) went in through the Store
 * service, analyst.rows_as_of answers every point of a grid as Store.asOf does, its timestamptz
 * overload the same, changes_between every window as Store.changes does, object_history is
 * Store.history and current_rows the open rows; the planner
 * inlines the functions onto the index; and the README's read-only role, run as written, may read
 * through them but not write.
 */
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import { type Context, Effect, Option } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { instant } from "../../src/domain/core/Instant.js"
import { ingestNdjson } from "../../src/ingest/Ingest.js"
import { type MirrorRow, storedKey } from "../../src/domain/core/Mirror.js"
import { MirrorStore } from "../../src/store/Mirror.js"
import { type RowRecord, toRow } from "../../src/store/RowRecord.js"
import { type Row, Store } from "../../src/store/Store.js"
import type { StoreServices } from "../../src/store/StoreServices.js"
import { migratePg } from "../../src/store/pg/PgOpen.js"
import { PgStoreLive } from "../../src/store/pg/PgStoreLive.js"
import { pgTestDatabases } from "../support/pg.js"
import { openServices, runTest } from "./contract/backend.js"
import { ingestWorkedExamples } from "./contract/workedExamples.js"

const databases = pgTestDatabases()
const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8")

/** Beyond the worked examples: a retract, open and bounded virkning starts, two registrations in one instant. */
const more = [
  { op: "retract", objectType: "vej", objectId: "xxxx", registreringstid: "2017-06-01", virkningFra: "2018-01-01", virkningTil: null, eventId: "m-1" },
  { op: "assert", objectType: "husnummer", objectId: "h1", registreringstid: "2017-01-04", virkningFra: null, virkningTil: "2017-02-01", data: { nr: "1" }, eventId: "m-2" },
  { op: "assert", objectType: "husnummer", objectId: "h1", registreringstid: "2017-01-04T00:00:00.000001", virkningFra: "2016-12-01T12:00:00.5", virkningTil: "2017-03-01", data: { nr: "1A" }, eventId: "m-3" },
  { op: "assert", objectType: "husnummer", objectId: "h1", registreringstid: "2017-01-04T00:00:00.000001", virkningFra: "2017-01-01", virkningTil: null, data: { nr: "1B", etage: [1, 2] }, eventId: "m-4" }
]
/** A mirrored upstream's own overlaps (stored as it has them): ties go to the latest registrering_fra, then the highest id. */
const mirrored = [
  ["2020-01-01", null, "2020-01-01", null, 1],
  ["2020-01-01", null, "2020-01-01", "2021-01-01", 2],
  ["2020-06-01", null, "2019-01-01", "2020-06-01", 3]
].map(([registreringFra, registreringTil, virkningFra, virkningTil, nr]): MirrorRow => {
  const row = {
    objectId: "m1",
    registreringFra: instant(registreringFra as string),
    registreringTil: registreringTil === null ? null : instant(registreringTil as string),
    virkningFra: instant(virkningFra as string),
    virkningTil: virkningTil === null ? null : instant(virkningTil as string),
    data: JSON.stringify({ nr })
  }
  return { ...row, key: storedKey(row, ["nr"]) }
})
const objects = [["vej", "xxxx"], ["vej", "yyyy"], ["husnummer", "h1"], ["dar.vej", "m1"], ["vej", "none"]] as const

let url: string
let services: { readonly context: Context.Context<StoreServices>; readonly close: Effect.Effect<void> }
let admin: pg.Client
const onStore = <A, E>(effect: Effect.Effect<A, E, Store>) => runTest(Effect.provide(effect, services.context))

beforeAll(async () => {
  url = await databases.create()
  await runTest(migratePg(url))
  services = await runTest(openServices(PgStoreLive({ url, poolSize: 2 })))
  const lines = more.map((op) => JSON.stringify(op)).join("\n") + "\n"
  const summaries = await onStore(Effect.all([
    ingestWorkedExamples,
    ingestNdjson(Readable.from([Buffer.from(lines)]), { source: "more", batchSize: 1, maxLineBytes: 1 << 20, timeZone: "UTC" })
  ]))
  expect(summaries.map((s) => s.applied)).toEqual([4, 4])
  const [result] = await runTest(Effect.provide(Effect.flatMap(MirrorStore, (store) =>
    store.mirror("upstream", "mirrored-1", [{ objectType: "dar.vej", objectId: "m1", rows: mirrored, complete: true, identity: ["nr"], checkOverlaps: true }])), services.context))
  expect(result).toMatchObject({ inserted: 3 })
  admin = new pg.Client({ connectionString: url })
  await admin.connect()
  // The timestamptz overload must not depend on the session's zone (+05:45, never a whole hour).
  await admin.query("SET TimeZone = 'Asia/Kathmandu'")
})

afterAll(async () => {
  await admin?.end()
  if (services !== undefined) await runTest(services.close)
})

type AnalystRecord = RowRecord & { data_json: unknown; closed_at: string | null; mirrored: boolean }
const asRows = (records: ReadonlyArray<AnalystRecord>): Array<Row> => records.map(toRow)
const sorted = (rows: ReadonlyArray<Row>) => [...rows].sort((a, b) => a.objectType.localeCompare(b.objectType) || a.objectId.localeCompare(b.objectId))

const history = (objectType: string, objectId: string) => onStore(Effect.flatMap(Store, (store) => store.history(objectType, objectId)))

/** Canonical instant text ± microseconds (the grid's neighbours of every boundary). */
const shift = (at: string, micros: number): string => {
  const total = Date.parse(`${at.slice(0, 23)}Z`) * 1000 + Number(at.slice(23, 26)) + micros
  const millis = Math.floor(total / 1000)
  return `${new Date(millis).toISOString().slice(0, 23)}${String(total - millis * 1000).padStart(3, "0")}Z`
}

/** Every instant of every row, a microsecond before each, and the ends of time. */
const instantGrid = async () => {
  const all = (await Promise.all(objects.map(([t, id]) => history(t, id)))).flat()
  const boundaries = new Set(all.flatMap((r) => [r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil]).filter((b) => b !== null))
  return [...new Set(["0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z", ...[...boundaries].flatMap((b) => [shift(b, -1), b])])].sort()
}

describe("analyst SQL on PostgreSQL", () => {
  it("rows_as_of answers every point of the grid as Store.asOf does, and its timestamptz overload the same", async () => {
    const grid = await instantGrid()
    expect(grid.length).toBeGreaterThan(25)
    const pairs = grid.flatMap((r) => grid.map((v) => [r, v] as const))
    const viaSql = async (type: "text" | "timestamptz") => {
      const found = await admin.query<AnalystRecord & { r: string; v: string }>(
        `SELECT g.r, g.v, t.* FROM unnest($1::text[], $2::text[]) AS g(r, v)
         CROSS JOIN LATERAL analyst.rows_as_of(g.r::${type}, g.v::${type}) AS t ORDER BY g.r, g.v, t.object_type, t.object_id`,
        [pairs.map(([r]) => r), pairs.map(([, v]) => v)]
      )
      const byPair = new Map<string, Array<AnalystRecord>>()
      for (const record of found.rows) byPair.set(`${record.r} ${record.v}`, [...(byPair.get(`${record.r} ${record.v}`) ?? []), record])
      return byPair
    }
    const [text, timestamptz] = await Promise.all([viaSql("text"), viaSql("timestamptz")])
    const expected = await onStore(Effect.flatMap(Store, (store) =>
      Effect.forEach(pairs, ([r, v]) =>
        Effect.map(
          Effect.forEach(objects, ([objectType, objectId]) => store.asOf({ objectType, objectId, registreringstid: instant(r), virkningstid: instant(v) })),
          (answers) => [`${r} ${v}`, sorted(answers.flatMap(Option.toArray))] as const
        ), { concurrency: 2 })))
    let answered = 0
    for (const [pair, rows] of expected) {
      expect({ pair, rows: asRows(text.get(pair) ?? []) }).toEqual({ pair, rows })
      expect({ pair, rows: asRows(timestamptz.get(pair) ?? []) }).toEqual({ pair, rows })
      answered += rows.length
    }
    expect(answered).toBeGreaterThan(100) // the grid sees rows, not only empty answers
  })

  it("changes_between answers every window of the grid as Store.changes does, and its timestamptz overload the same", async () => {
    const grid = await instantGrid()
    const windows = grid.flatMap((since) => grid.filter((until) => until > since).map((until) => [since, until] as const))
    const viaSql = async (type: "text" | "timestamptz") => {
      const found = await admin.query<AnalystRecord & { since: string; until: string; change: "registered" | "closed"; change_at: string }>(
        `SELECT g.since, g.until, c.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS g(since, until, n)
         CROSS JOIN LATERAL analyst.changes_between(g.since::${type}, g.until::${type}) AS c ORDER BY g.n`,
        [windows.map(([since]) => since), windows.map(([, until]) => until)]
      )
      const byWindow = new Map<string, Array<unknown>>()
      for (const { since, until, change, change_at, ...record } of found.rows) {
        byWindow.set(`${since} ${until}`, [...(byWindow.get(`${since} ${until}`) ?? []), { ...toRow(record as AnalystRecord), change, changeAt: change_at }])
      }
      return byWindow
    }
    const [text, timestamptz] = await Promise.all([viaSql("text"), viaSql("timestamptz")])
    const expected = await onStore(Effect.flatMap(Store, (store) =>
      Effect.forEach(windows, ([since, until]) =>
        Effect.map(store.changes({ since: instant(since), until: instant(until), limit: 1000 }), (changes) => [`${since} ${until}`, changes] as const), { concurrency: 2 })))
    let told = 0
    for (const [window, changes] of expected) {
      expect({ window, changes: text.get(window) ?? [] }).toEqual({ window, changes })
      expect({ window, changes: timestamptz.get(window) ?? [] }).toEqual({ window, changes })
      told += changes.length
    }
    expect(told).toBeGreaterThan(1000)
    expect(new Set(expected.flatMap(([, changes]) => changes.map((c) => c.change)))).toEqual(new Set(["registered", "closed"]))
  })

  it("answers the analyst's question of the worked example, and half-open at registrering_til", async () => {
    const navn = async (r: string, v: string, id: string) =>
      (await admin.query("SELECT data_json->>'navn' AS navn FROM analyst.rows_as_of($1, $2) WHERE object_type = 'vej' AND object_id = $3", [r, v, id])).rows
    expect(await navn("2017-01-05T00:00:00.000000Z", "2017-03-01T00:00:00.000000Z", "yyyy")).toEqual([{ navn: "Åbakke" }])
    expect(await navn("2016-09-07T00:00:00.000000Z", "2016-10-01T00:00:00.000000Z", "xxxx")).toEqual([{ navn: "Grøndal" }])
    expect(await navn("2016-09-06T23:59:59.999999Z", "2016-10-01T00:00:00.000000Z", "xxxx")).toEqual([{ navn: "Grøndahl" }])
    const tz = await admin.query("SELECT data_json->>'navn' AS navn FROM analyst.rows_as_of('2016-09-07 01:59:59.999999+02'::timestamptz, '2016-10-01 00:00+00'::timestamptz) WHERE object_id = 'xxxx'")
    expect(tz.rows).toEqual([{ navn: "Grøndahl" }])
    // Of the mirrored overlaps: equal registrering_fra, the highest id; then the later registrering_fra.
    const m1 = async (r: string, v: string) =>
      (await admin.query("SELECT id::int, data FROM analyst.rows_as_of($1, $2) WHERE object_id = 'm1'", [r, v])).rows
    const ids = (await admin.query<{ id: number; data: string }>("SELECT id::int, data FROM rows WHERE object_id = 'm1' ORDER BY id")).rows
    expect(ids.map((r) => r.data)).toEqual(['{"nr":1}', '{"nr":2}', '{"nr":3}'])
    expect(await m1("2020-03-01T00:00:00.000000Z", "2020-03-01T00:00:00.000000Z")).toEqual([ids[1]])
    expect(await m1("2020-06-01T00:00:00.000000Z", "2020-03-01T00:00:00.000000Z")).toEqual([ids[2]])
    expect(await m1("2020-06-01T00:00:00.000000Z", "2020-06-01T00:00:00.000000Z")).toEqual([ids[1]])
    expect(await m1("2020-06-01T00:00:00.000000Z", "2021-06-01T00:00:00.000000Z")).toEqual([ids[0]])
  })

  it("the README's examples run, and its question is answered Åbakke", async () => {
    const block = /```sql\n(-- The worked example's question[\s\S]*?)```/.exec(readme)?.[1]
    const statements = (block ?? "").split(/;[^\n]*\n/).map((sql) => sql.trim()).filter((sql) => sql !== "")
    expect(statements.length).toBeGreaterThan(3)
    const answers = []
    for (const sql of statements) answers.push((await admin.query(sql)).rows)
    expect(answers[0]).toEqual([{ navn: "Åbakke" }])
  })

  it("rows_as_of(now(), now()) is rows_as_of at now's canonical text", async () => {
    const both = await admin.query<{ same: boolean; n: string }>(
      `SELECT (SELECT array_agg(id ORDER BY id) FROM analyst.rows_as_of(now(), now()))
            = (SELECT array_agg(id ORDER BY id) FROM analyst.rows_as_of(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))) AS same,
              (SELECT count(*) FROM analyst.rows_as_of(now(), now())) AS n`
    )
    const instants = await admin.query("SELECT analyst.instant('2017-01-05 01:00:00.000001+01') AS a, analyst.instant('9999-12-31 23:59:59.999999Z') AS b")
    expect(instants.rows).toEqual([{ a: "2017-01-05T00:00:00.000001Z", b: "9999-12-31T23:59:59.999999Z" }])
    expect(both.rows).toEqual([{ same: true, n: "3" }]) // yyyy, h1 and m1 (xxxx is retracted from 2018 on)
  })

  it("object_history is Store.history, current_rows the open rows, data_json the data", async () => {
    const current: Array<Row> = []
    for (const [objectType, objectId] of objects) {
      const expected = await history(objectType, objectId)
      const found = await admin.query<AnalystRecord>("SELECT * FROM analyst.object_history($1, $2)", [objectType, objectId])
      expect(asRows(found.rows)).toEqual(expected)
      current.push(...expected.filter((row) => row.registreringTil === null))
    }
    expect(current.length).toBeGreaterThan(4)
    const open = await admin.query<AnalystRecord>("SELECT * FROM analyst.current_rows ORDER BY id")
    expect(asRows(open.rows)).toEqual([...current].sort((a, b) => a.id - b.id))
    const everything = await admin.query<AnalystRecord>("SELECT * FROM analyst.all_rows")
    expect(everything.rows.length).toBe((await admin.query("SELECT * FROM rows")).rows.length)
    for (const record of everything.rows) expect(record.data_json).toEqual(JSON.parse(record.data))
  })

  it("the functions are inlined: a filter on the object reaches rows_object_idx", async () => {
    await admin.query("BEGIN")
    try {
      await admin.query("SET LOCAL enable_seqscan = off")
      for (const query of [
        "SELECT * FROM analyst.rows_as_of('2017-01-05T00:00:00.000000Z', '2017-03-01T00:00:00.000000Z') WHERE object_type = 'vej' AND object_id = 'yyyy'",
        "SELECT * FROM analyst.rows_as_of(now(), now()) WHERE object_type = 'vej' AND object_id = 'yyyy'",
        "SELECT * FROM analyst.object_history('vej', 'yyyy')",
        "SELECT * FROM analyst.current_rows WHERE object_type = 'vej' AND object_id = 'yyyy'"
      ]) {
        const plan = (await admin.query<{ "QUERY PLAN": string }>(`EXPLAIN ${query}`)).rows.map((r) => r["QUERY PLAN"]).join("\n")
        expect(plan).toMatch(/rows_object_idx/)
        expect(plan).not.toMatch(/Function Scan/)
      }
      const changes = (await admin.query<{ "QUERY PLAN": string }>("EXPLAIN SELECT * FROM analyst.changes_between('2017-01-01T00:00:00.000000Z', '2017-02-01T00:00:00.000000Z')")).rows.map((r) => r["QUERY PLAN"]).join("\n")
      expect(changes).toMatch(/rows_registered_idx[\s\S]*rows_closed_idx/)
      expect(changes).not.toMatch(/Function Scan/)
    } finally {
      await admin.query("ROLLBACK")
    }
  })

  it("the README's read-only role reads through the views and functions and may write nothing", async () => {
    const block = /```sql\n(CREATE ROLE skygge_analyst [\s\S]*?)```/.exec(readme)?.[1]
    expect(block).toBeDefined()
    const role = `skygge_analyst_${randomBytes(4).toString("hex")}`
    const database = new URL(url).pathname.slice(1)
    const grants = block!.replaceAll(/\bskygge_analyst\b/g, role).replaceAll(/ON DATABASE skygge\b/g, `ON DATABASE "${database}"`)
    expect(grants).not.toMatch(/DATABASE skygge\b/)
    const asRole = new URL(url)
    asRole.username = role
    asRole.password = ""
    const analyst = new pg.Client({ connectionString: asRole.toString() })
    try {
      await admin.query(grants)
      await analyst.connect()
      const answer = async (sql: string) => (await analyst.query(sql)).rows
      expect(await answer("SELECT current_user AS who")).toEqual([{ who: role }])
      expect(await answer("SELECT data_json->>'navn' AS navn FROM analyst.rows_as_of('2017-01-05T00:00:00.000000Z', '2017-03-01T00:00:00.000000Z') WHERE object_id = 'yyyy'")).toEqual([{ navn: "Åbakke" }])
      expect(await answer("SELECT count(*)::int AS n FROM analyst.rows_as_of(now(), now())")).toEqual([{ n: 3 }])
      expect((await answer("SELECT * FROM analyst.object_history('vej', 'yyyy')")).length).toBe(3)
      expect((await answer("SELECT * FROM analyst.changes_between('2017-01-04T00:00:00.000000Z'::timestamptz, now())")).length).toBeGreaterThan(4)
      expect((await answer("SELECT * FROM analyst.current_rows")).length).toBeGreaterThan(4)
      expect((await answer("SELECT * FROM rows")).length).toBeGreaterThan(8)
      const refused = (sql: string) => analyst.query(sql).then(() => "accepted", (e: { code?: string }) => e.code)
      const writes = [
        "INSERT INTO rows (object_type, object_id, registrering_fra, data, event_id, stored_at) VALUES ('t', 'x', '2020-01-01T00:00:00.000000Z', '{}', 'e', '2020-01-01T00:00:00.000000Z')",
        "UPDATE rows SET registrering_til = '2030-01-01T00:00:00.000000Z' WHERE object_id = 'yyyy'",
        "DELETE FROM rows"
      ]
      // The role's sessions are read-only by default (a convenience: it may turn that off) …
      for (const write of writes) expect(await refused(write)).toBe("25006") // read_only_sql_transaction
      await analyst.query("SET default_transaction_read_only = off")
      // … the privileges are the guard.
      for (const write of [...writes, "SELECT * FROM events", "SELECT * FROM outbox", "TRUNCATE rows", "CREATE TABLE analyst.mine (x int)", "CREATE TABLE public.mine (x int)", "CREATE VIEW analyst.mine AS SELECT 1"]) {
        expect({ write, code: await refused(write) }).toEqual({ write, code: "42501" }) // insufficient_privilege
      }
      expect(await answer("SELECT count(*)::int AS n FROM analyst.current_rows WHERE object_id = 'yyyy'")).toEqual([{ n: 2 }])
    } finally {
      await analyst.end().catch(() => {})
      await admin.query(`DROP OWNED BY "${role}"`).catch(() => {})
      await admin.query(`DROP ROLE IF EXISTS "${role}"`)
    }
  })
})
