/** Activations and the outbox as the API shows them, on a real server. */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fromEpochMillis } from "../../src/domain/core/Instant.js"
import { makeSqliteOutbox } from "../../src/store/sqlite/SqliteDownstream.js"
import { openSqlite } from "../../src/store/sqlite/SqliteStore.js"
import { ndjson, postNdjson, startServer, type TestServer } from "../support/server.js"

describe("activations API", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(() => server.close())

  it("lists what is due, pages on, filters, and counts pending ones in /metrics", async () => {
    const ops: Array<Record<string, unknown>> = ["s1", "s2", "s3"].map((id, i) => ({
      op: "assert", objectType: "studierett", objectId: id, registreringstid: "2026-01-01T00:00:00Z",
      virkningFra: `299${i}-08-15T00:00:00Z`, virkningTil: null, data: { program: "MAT" }, eventId: `a-${id}`
    }))
    ops.push({ op: "assert", objectType: "ansatt", objectId: "x", registreringstid: "2026-01-01T00:00:00Z", virkningFra: "2001-01-01T00:00:00Z", virkningTil: "2998-01-01T00:00:00Z", data: { program: "-" }, eventId: "a-x" })
    expect((await postNdjson(server.baseUrl, ndjson(ops))).status).toBe(200)

    const page1 = (await (await fetch(`${server.baseUrl}/v1/activations?limit=2`)).json()) as { activations: Array<Record<string, unknown>>; next: string | null }
    expect(page1.activations.map((a) => [a.objectId, a.kind, a.at, a.status])).toEqual([
      ["s1", "started", "2990-08-15T00:00:00.000000Z", "pending"],
      ["s2", "started", "2991-08-15T00:00:00.000000Z", "pending"]
    ])
    const page2 = (await (await fetch(`${server.baseUrl}/v1/activations?limit=2&after=${encodeURIComponent(page1.next!)}`)).json()) as { activations: Array<Record<string, unknown>>; next: string | null }
    expect(page2.activations.map((a) => [a.objectId, a.kind])).toEqual([["s3", "started"], ["x", "ended"]])
    // A full page always says where to go on; the page after the last one is empty and says stop.
    const page3 = (await (await fetch(`${server.baseUrl}/v1/activations?limit=2&after=${encodeURIComponent(page2.next!)}`)).json()) as { activations: Array<unknown>; next: string | null }
    expect(page3).toEqual({ activations: [], next: null })

    const ended = (await (await fetch(`${server.baseUrl}/v1/activations?objectType=ansatt&from=2998-01-01&to=2998-01-02`)).json()) as { activations: Array<Record<string, unknown>> }
    expect(ended.activations).toMatchObject([{ objectId: "x", kind: "ended", virkningFra: "2001-01-01T00:00:00.000000Z", virkningTil: "2998-01-01T00:00:00.000000Z" }])

    const bad = await fetch(`${server.baseUrl}/v1/activations?from=tomorrow`)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toMatch(/^from: not an ISO 8601 instant/)
    const badStatus = await fetch(`${server.baseUrl}/v1/activations?status=maybe`)
    expect(badStatus.status).toBe(400)

    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text()
    expect(metrics).toMatch(/^skygge_activations_pending 4$/m)
    expect(metrics).toMatch(/^skygge_outbox_records 4$/m)
  })

  it("a retraction cancels the activations of the rows it closes", async () => {
    const op = { op: "retract", objectType: "studierett", objectId: "s1", registreringstid: "2026-02-01T00:00:00Z", virkningFra: null, virkningTil: null, eventId: "r-s1" }
    expect((await postNdjson(server.baseUrl, ndjson([op]))).status).toBe(200)
    const all = (await (await fetch(`${server.baseUrl}/v1/activations?status=all&objectType=studierett`)).json()) as { activations: Array<Record<string, unknown>> }
    expect(all.activations.map((a) => [a.objectId, a.status])).toEqual([["s1", "cancelled"], ["s2", "pending"], ["s3", "pending"]])
  })

  it("prunes only what every publisher has delivered and what is old enough", async () => {
    const db = openSqlite({ filename: `${server.dir}/skygge.db` })
    try {
      const outbox = makeSqliteOutbox(db)
      const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e)
      const records = await run(outbox.after(0, 100))
      expect(records.length).toBe(5)
      await run(outbox.delivered("a", await run(outbox.cursor("a")), records[3]!.seq))
      await run(outbox.delivered("b", await run(outbox.cursor("b")), records[1]!.seq))
      const future = fromEpochMillis(Date.now() + 3_600_000)
      expect(await run(outbox.prune(["a", "b"], fromEpochMillis(Date.UTC(2000, 0, 1))))).toBe(0) // nothing old enough
      expect(await run(outbox.prune(["a", "b"], future))).toBe(2) // what b (the slower) has delivered
      expect((await run(outbox.states(["a", "b"]))).map((s) => [s.publisher, s.backlog])).toEqual([["a", 1], ["b", 3]])
      // A publisher added now starts before the oldest record still kept.
      expect(await run(outbox.cursor("c"))).toBe(records[1]!.seq)
    } finally {
      db.close()
    }
  })
})
