/**
 * A GraphQL `u` event (a row updated: in a bitemporal register, closed) is
 * shown by the data only once the row shows the update — not by the row being
 * there, which it was before. An object invalidated (its rows closed, none
 * inserted) and fetched while the data service lagged used to be taken as
 * shown: mirrored unchanged, the cursor moved past its events, and the close
 * never reached the shadow. Likewise answers without row ids: an object having
 * rows showed nothing; rows written before the events mean the data lags.
 * The real `skygge run` against the register simulator.
 */
import { describe, expect, it } from "vitest"
import { type DafSimulator, startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { useCleanups } from "../../support/cleanups.js"
import { waitFor } from "../../support/wait.js"
import { runSkygge } from "./skyggeRun.js"

describe("Datafordeler GraphQL: a row's update", () => {
  const cleanups = useCleanups()

  /**
   * A register of a few objects and `skygge run` following its GraphQL events from the first (rows of
   * `Adresse` as `entity(sim)` fetches them), caught up; then the data service lags its events by 3 s.
   */
  const caughtUp = async (seed: number, entity: (sim: DafSimulator) => Record<string, unknown>) => {
    const sim = await startDafSimulator({ seed })
    cleanups.push(() => sim.close())
    sim.randomChanges(10)
    const running = await runSkygge({
      graphql: { url: sim.graphqlUrl, register: "DAR", startAfterEventId: 0, pollSeconds: 0.1, maxAttempts: 3, maxBackoffSeconds: 0.2 },
      entities: { Adresse: entity(sim) }
    }, "Error")
    cleanups.push(running.close)
    /** Wait until the cursor has passed every event so far. */
    const cursorPassesAll = () => {
      const last = sim.rowEvents()
      return waitFor(`the GraphQL cursor to reach ${last}`, async () => Number((await running.cursor("dar:graphql")) ?? -1) >= last, 30_000)
    }
    await cursorPassesAll()
    sim.setFaults({ restLagMs: 3000 })
    return { sim, running, cursorPassesAll }
  }

  it.each([["REST"], ["GraphQL"]])("an object invalidated while the data service lags reaches the shadow closed once the cursor has passed its events (rows by %s)", async (rows) => {
    const { sim, running, cursorPassesAll } = await caughtUp(47, (sim) =>
      rows === "REST"
        ? { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` }
        : { objectType: "dar.adresse", graphql: { query: "query($id: String!) { DAR_Adresse(where: { id_lokalId: { eq: $id } }) { nodes { id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid } } }" } }
    )
    const id = sim.ids()[0]!
    sim.invalidate([id])
    await cursorPassesAll()
    const res = await fetch(`${running.api}/v1/objects/dar.adresse/${id}/history`)
    const held = ((await res.json()) as { rows: Array<{ registreringFra: string; registreringTil: string | null }> }).rows
    expect(held.filter((r) => r.registreringTil === null), running.stderr()).toEqual([])
    expect(held.length).toBe(sim.rows(id).length)
  }, 60_000)

  it("rows without row ids show a change only once written no earlier than its events (datafordelerOpdateringstid), not by being there", async () => {
    // The answers carry no row id the events could be checked against.
    const { sim, running, cursorPassesAll } = await caughtUp(53, (sim) => ({ objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}`, rowIdField: "noSuchField" }))
    const ids = sim.ids().slice(0, 3)
    sim.change(ids)
    await cursorPassesAll()
    for (const id of ids) {
      const res = await fetch(`${running.api}/v1/objects/dar.adresse/${id}/history`)
      const held = ((await res.json()) as { rows: Array<unknown> }).rows
      expect(held.length, `${id}\n${running.stderr()}`).toBe(sim.rows(id).length)
    }
  }, 60_000)
})
