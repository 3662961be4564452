/**
 * syncObjects against the register simulator and a real store: an object whose batch answer shows its
 * events and holds every row we hold is Ready with the rows held then; one whose answer does not show
 * them is asked again alone and parked; one whose answer lacks a row we hold is asked again and parked
 * while an import runs. Results come in the order of the objects given.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DATAFORDELER_SHAPE } from "../../../src/domain/datafordeler/DatafordelerRows.js"
import { decodeMirrorRow, type MirrorRow } from "../../../src/domain/core/Mirror.js"
import { decodeDafSources } from "../../../src/sources/datafordeler/DafConfig.js"
import { makePools, noCredentials, type FetchedObject } from "../../../src/sources/datafordeler/ObjectFetch.js"
import { type ObjectWork, syncObjects } from "../../../src/sources/datafordeler/ObjectSync.js"
import { type DafSimulator, dafInstant, startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { tempStore } from "../../support/engine.js"

const BY_IDS = "query ($ids: [String!]!) { DAR_Adresse(where: { id_lokalId: { in: $ids } }) { nodes { id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid } } }"

describe("syncObjects", () => {
  const state = tempStore("skygge-object-sync-")
  let sim: DafSimulator
  beforeAll(async () => {
    sim = await startDafSimulator({ seed: 11 })
    sim.randomChanges(40)
  })
  afterAll(() => sim.close())

  it("settles objects whose batch answer shows their events and covers our rows; asks the others again, parking what still lags or lacks", async () => {
    const [source] = Effect.runSync(decodeDafSources([{ kind: "datafordeler", name: "dar", graphql: { url: sim.graphqlUrl, register: "DAR" }, entities: { Adresse: { objectType: "dar.adresse", graphql: { query: BY_IDS } } } }]))
    const [fresh, held, lagging, lacking] = sim.ids()
    const decode = (raw: unknown): MirrorRow => decodeMirrorRow(raw, DATAFORDELER_SHAPE, "UTC") as MirrorRow
    const { mirror } = state.engine
    // `held`: its rows as upstream has them; `lacking`: a row of ours upstream does not have (a re-import half-way).
    const restRows = (id: string) => sim.rows(id).map((r) => ({ id_lokalId: id, registreringFra: dafInstant(r.registreringFra), virkningFra: r.virkningFra === null ? null : dafInstant(r.virkningFra), ...(r.registreringTil === null ? {} : { registreringTil: dafInstant(r.registreringTil) }), ...(r.virkningTil === null ? {} : { virkningTil: dafInstant(r.virkningTil) }), ...(r.data as object) }))
    const gone = decode({ id_lokalId: lacking, registreringFra: "1999-01-01T00:00:00Z", status: "gone" })
    Effect.runSync(mirror.mirror("test", "seed", [
      { objectType: "dar.adresse", objectId: held!, rows: restRows(held!).map(decode), complete: false, identity: [], checkOverlaps: false },
      { objectType: "dar.adresse", objectId: lacking!, rows: [gone], complete: false, identity: [], checkOverlaps: false }
    ]))
    const asked = new Map<string, number>()
    const work = (objectId: string, shows: boolean): ObjectWork<string> => ({
      entity: "Adresse",
      objectId,
      shows: (_: FetchedObject) => (asked.set(objectId, (asked.get(objectId) ?? 0) + 1), shows),
      tag: objectId
    })
    const synced = await Effect.runPromise(
      Effect.scoped(Effect.flatMap(makePools, (pools) =>
        syncObjects(source!, {
          service: { pools, credentials: noCredentials, policy: { concurrency: 4, timeoutSeconds: 5, maxAttempts: 2, maxBackoffSeconds: 0.1 } },
          graphqlUrl: sim.graphqlUrl,
          register: "DAR",
          importRunning: Effect.succeed(true)
        }, [work(fresh!, true), work(lagging!, false), work(held!, true), work(lacking!, true)])
      )).pipe(Effect.provide(state.engine.context))
    )
    expect(synced.map((s) => [s.work.objectId, s._tag])).toEqual([[fresh, "Ready"], [lagging, "Parked"], [held, "Ready"], [lacking, "Parked"]])
    const ready = synced.flatMap((s) => (s._tag === "Ready" ? [s] : []))
    expect(ready[0]!.held.size).toBe(0)
    expect(ready[0]!.fetched.rows.length).toBe(sim.rows(fresh!).length)
    // The rows held when the answer was checked: what the mirror may take its absence from upstream as testimony of.
    expect([...ready[1]!.held.keys()].sort()).toEqual(restRows(held!).map(decode).map((r) => r.key).sort())
    expect(synced.map((s) => (s._tag === "Parked" ? s.reason : ""))).toEqual(["", "the rows do not yet show the event", "", "its history lacks rows we hold while an import is running"])
    // The settled ones checked once; the others' answers again after the object was fetched alone (maxAttempts 2).
    expect([asked.get(fresh!), asked.get(held!)]).toEqual([1, 1])
    expect(Math.min(asked.get(lagging!)!, asked.get(lacking!)!)).toBeGreaterThanOrEqual(2)
  }, 30_000)
})
