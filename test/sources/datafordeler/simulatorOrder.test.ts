/**
 * The register simulator's data service shows each object's writes in the
 * order they were made: what a lagging replica of one database would show.
 * A re-import that starts while an earlier change is still lagging rewrites
 * the object from the register's current rows, so once the re-import's rows
 * show, that change's rows show too — never the re-import's rows (stamped
 * later) without them. The engine relies on this: rows written no earlier
 * than an object's newest event are taken as showing every earlier event.
 * (A simulator that broke it once made the Datafordeler e2e test fail about
 * one run in six with an object short of its newest rows.)
 */
import { afterEach, expect, it } from "vitest"
import { startDafSimulator, type DafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { sleep } from "../../support/wait.js"

let sim: DafSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

type RestRow = { readonly datafordelerRowId: string; readonly datafordelerOpdateringstid: string; readonly registreringFra: string; readonly registreringTil?: string }

const restRows = async (s: DafSimulator, id: string) => (await (await fetch(`${s.baseUrl}/rest/adresse?id=${id}`)).json()) as Array<RestRow>

it("a re-import during an earlier change's lag shows that change once its own rows show", async () => {
  sim = await startDafSimulator({ seed: 3, faults: { restLagMs: 1500, importMs: 200 } })
  sim.randomChanges(1)
  const id = sim.ids()[0]!
  await sleep(1600) // the object's first rows show
  expect(await restRows(sim, id)).toHaveLength(sim.rows(id).length)
  sim.change([id]) // lags 1,500 ms
  const rowsAfterChange = sim.rows(id).length
  sim.reimport([id]) // complete after 200 ms
  await sleep(400)
  // The import is complete; what shows is the object as the register holds it now, the change included.
  const shown = await restRows(sim, id)
  expect(shown).toHaveLength(rowsAfterChange)
  expect(shown.filter((r) => r.registreringTil === undefined)).toHaveLength(sim.rows(id).filter((r) => r.registreringTil === null).length)
})
