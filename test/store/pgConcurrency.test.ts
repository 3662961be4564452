/**
 * PostgreSQL under concurrent writers: several stores on one database (each its own pool, as
 * separate engine processes would be) ingest batches on shared objects at once, while a reader
 * follows the outbox and the event log by `seq` the way a publisher does.
 *
 * - The history is that of a serial order: replaying the accepted events in `seq` order into an
 *   empty SQLite store gives the same rows, the same outcomes.
 * - A unit of work the server rolls back to break a deadlock is run again.
 * - Sequence numbers are in commit order: the reader, which only ever asks for what is after the
 *   highest `seq` it has seen, ends up having seen every record (a record committed after a higher
 *   one would be skipped for good).
 */
import { Effect, Layer } from "effect"
import { copyFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fromEpochMillis } from "../../src/domain/core/Instant.js"
import { canonicalJson, type Operation } from "../../src/domain/core/Operation.js"
import { OutboxStore } from "../../src/store/Outbox.js"
import { migratePg } from "../../src/store/pg/PgOpen.js"
import { PgStoreLive } from "../../src/store/pg/PgStoreLive.js"
import { allocate, insertOutbox, lockHistory } from "../../src/store/pg/PgHistory.js"
import { inPgTransaction } from "../../src/store/pg/PgTransaction.js"
import { migrateSqliteFile } from "../../src/store/sqlite/SqliteOpen.js"
import { SqliteStoreLive } from "../../src/store/sqlite/SqliteStoreLive.js"
import { type Row, Store } from "../../src/store/Store.js"
import type { StoreServices } from "../../src/store/StoreServices.js"
import { pgTestDatabases } from "../support/pg.js"
import { openServices, runTest } from "./contract/backend.js"

const databases = pgTestDatabases()
let url: string
const root = mkdtempSync(join(tmpdir(), "skygge-pg-concurrency-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
beforeAll(async () => {
  url = await databases.create()
  await runTest(migratePg(url))
})

const WRITERS = 4
const BATCHES = 25
const BATCH = 20
const OBJECTS = ["a", "b", "c", "d"]
const DAY = 86_400_000
const BASE = Date.UTC(2024, 0, 1)

/** A deterministic stream per writer: asserts and retracts of portions of shared objects, registration instants interleaving with the other writers'. */
const operations = (writer: number, batch: number): Array<{ input: Operation }> =>
  Array.from({ length: BATCH }, (_, i) => {
    const k = batch * BATCH + i
    const seed = (writer * 7919 + k * 104_729) % 1_000_003
    const from = seed % 10, len = 1 + (seed % 5)
    const base = {
      objectType: "thing",
      objectId: OBJECTS[seed % OBJECTS.length]!,
      // Writers' instants interleave (k steps, writer offsets), so some arrive after a later one: refused as stale.
      registreringstid: fromEpochMillis(BASE + k * 60_000 + writer * 1000),
      virkningFra: seed % 7 === 0 ? null : fromEpochMillis(BASE + from * DAY),
      virkningTil: seed % 11 === 0 ? null : fromEpochMillis(BASE + (from + len) * DAY),
      eventId: `w${writer}-${k}`
    }
    return { input: seed % 5 === 0 ? { op: "retract", ...base } : { op: "assert", ...base, data: canonicalJson({ v: seed % 3, writer }) } }
  })

const shape = (rows: ReadonlyArray<Row>) => rows.map((r) => [r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, canonicalJson(r.data), r.eventId])

const on = <A, E>(context: Awaited<ReturnType<typeof open>>["context"], effect: Effect.Effect<A, E, StoreServices>) => runTest(Effect.provide(effect, context))
const open = (layer: Layer.Layer<StoreServices, unknown>) => runTest(openServices(layer))

describe("PostgreSQL under concurrent writers", () => {
  it("gives the history of a serial order (the seq order) and hands out seq in commit order", async () => {
    const stores = await Promise.all(Array.from({ length: WRITERS }, () => open(PgStoreLive({ url, poolSize: 2 }))))
    const reader = await open(PgStoreLive({ url, poolSize: 2 }))
    let writing = true
    let follow: Promise<void> = Promise.resolve()
    try {
      const seen = { outbox: new Set<number>(), events: new Set<number>() }
      // The reader: a publisher's loop, only ever after the highest seq it has seen.
      follow = (async () => {
        let outboxAt = 0, eventsAt = 0
        for (;;) {
          const done = !writing
          const records = await on(reader.context, Effect.flatMap(OutboxStore, (o) => o.after(outboxAt, 1000)))
          for (const r of records) seen.outbox.add(r.seq)
          outboxAt = records.at(-1)?.seq ?? outboxAt
          const events = await on(reader.context, Effect.flatMap(Store, (s) => s.events(eventsAt, 1000)))
          for (const e of events) seen.events.add(e.seq)
          eventsAt = events.at(-1)?.seq ?? eventsAt
          if (done && records.length === 0 && events.length === 0) return
        }
      })()
      const outcomes = await Promise.all(stores.map(async (store, writer) => {
        const all: Array<string> = []
        for (let b = 0; b < BATCHES; b++) {
          const results = await on(store.context, Effect.flatMap(Store, (s) => s.ingest(`writer-${writer}`, operations(writer, b))))
          all.push(...results.map((r) => r.outcome))
        }
        return all
      }))
      writing = false
      await follow

      const flat = outcomes.flat()
      expect(flat.filter((o) => o === "applied").length).toBeGreaterThan(WRITERS * BATCHES) // the writers really did contend and change things
      expect(flat.filter((o) => o === "refused").length).toBeGreaterThan(0) // and some arrived behind another's later registration

      const { events, outbox, histories } = await on(reader.context, Effect.gen(function* () {
        const store = yield* Store
        const events = yield* store.events(0, 100_000)
        const outbox = yield* (yield* OutboxStore).after(0, 100_000)
        const histories = []
        for (const id of OBJECTS) histories.push(shape(yield* store.history("thing", id)))
        return { events, outbox, histories }
      }))
      expect(events.length).toBe(flat.filter((o) => o === "applied" || o === "unchanged").length)
      expect([...seen.outbox].sort((a, b) => a - b)).toEqual(outbox.map((r) => r.seq))
      expect([...seen.events].sort((a, b) => a - b)).toEqual(events.map((e) => e.seq))

      // The serial order: the accepted events in seq order, replayed into an empty SQLite store.
      const file = join(root, "replay.db")
      migrateSqliteFile({ filename: join(root, "migrated.db") })
      copyFileSync(join(root, "migrated.db"), file)
      const replayed = await runTest(Effect.provide(Effect.gen(function* () {
        const store = yield* Store
        const outcomes = yield* store.ingest("replay", events.map((e) => ({ input: e.operation })))
        const histories = []
        for (const id of OBJECTS) histories.push(shape(yield* store.history("thing", id)))
        return { outcomes: outcomes.map((r) => r.outcome), histories }
      }), SqliteStoreLive({ filename: file })))
      expect(replayed.outcomes).toEqual(events.map((e) => e.outcome))
      expect(replayed.histories).toEqual(histories)
    } finally {
      writing = false
      await follow.catch(() => {}) // its own failure was the test's
      for (const s of [...stores, reader]) await runTest(s.close)
    }
  }, 120_000)

  it("opens a new publisher's cursor before a record whose transaction allocated its seq but had not committed", async () => {
    // A publisher that starts while a unit of work is in flight: the sequence already shows the
    // record's seq, the table does not yet. A cursor placed after the sequence's last value would pass
    // the record by for good (seen in CI: a webhook that never got the first notifications).
    const fresh = await databases.create()
    await runTest(migratePg(fresh))
    const store = await open(PgStoreLive({ url: fresh, poolSize: 2 }))
    const pool = new pg.Pool({ connectionString: fresh, max: 1 })
    const client = await pool.connect()
    try {
      await client.query("BEGIN")
      await lockHistory(client)
      const [seq] = (await allocate(client, { outbox: 1 })).outbox
      const at = fromEpochMillis(BASE)
      await insertOutbox(client, [{ seq: seq!, id: "in-flight", type: "created", objectType: "thing", objectId: "a", registreringstid: at, virkningFra: null, virkningTil: null, eventId: "e1", rowId: null, at: null, late: null }], at)
      const cursor = on(store.context, Effect.flatMap(OutboxStore, (o) => o.cursor("late-publisher")))
      await new Promise((resolve) => setTimeout(resolve, 300))
      await client.query("COMMIT")
      const records = await on(store.context, Effect.flatMap(OutboxStore, (o) => o.after(0, 10)))
      expect(records.map((r) => r.id)).toEqual(["in-flight"])
      const from = await cursor
      expect((await on(store.context, Effect.flatMap(OutboxStore, (o) => o.after(from, 10)))).map((r) => r.id)).toEqual(["in-flight"])
    } finally {
      client.release()
      await pool.end()
      await runTest(store.close)
    }
  })

  it("retries a unit of work the server rolled back to break a deadlock: both complete", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 4 })
    try {
      await pool.query("CREATE TABLE deadlock_probe (k integer PRIMARY KEY, n integer NOT NULL); INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)")
      let attempts = 0
      // Each locks one row, waits until the other holds its row, then wants the other's: a cycle on the first attempt.
      const both = { held: 0 }
      const crossing = (first: number, second: number) =>
        inPgTransaction(pool, "probe", async (client) => {
          attempts++
          await client.query("UPDATE deadlock_probe SET n = n + 1 WHERE k = $1", [first])
          both.held++
          for (let i = 0; i < 200 && both.held < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5))
          await client.query("UPDATE deadlock_probe SET n = n + 1 WHERE k = $1", [second])
        })
      await runTest(Effect.all([crossing(1, 2), crossing(2, 1)], { concurrency: 2 }))
      expect(attempts).toBe(3) // one of the two ran again
      expect((await pool.query("SELECT k, n FROM deadlock_probe ORDER BY k")).rows).toEqual([{ k: 1, n: 2 }, { k: 2, n: 2 }])
    } finally {
      await pool.end()
    }
  })
})
