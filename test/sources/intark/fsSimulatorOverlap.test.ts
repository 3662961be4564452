/**
 * The FS simulator counts requests for an entity that arrive while another
 * request for it is still being answered: how the several-engines tests see
 * that two processes fetched one object at once.
 */
import { afterEach, expect, it } from "vitest"
import { type FsSimulator, startFsSimulator } from "../../../src/sources/intark/simulator/FsSimulator.js"
import { brokerNames, deleteBrokerObjects } from "../../support/intark.js"
import { RABBIT_URL } from "../../support/rabbit.js"

let sim: FsSimulator | undefined
const names = brokerNames()
afterEach(async () => {
  await sim?.close()
  await deleteBrokerObjects(names)
})

it("counts a fetch of an entity that overlaps another fetch of it, and no other", async () => {
  sim = await startFsSimulator({ amqpUrl: RABBIT_URL, exchange: names.exchange, seed: 1, faults: { slowRate: 1, slowMs: 300 } })
  await sim.upsert("personer", "1", { personlopenummer: 1 })
  await sim.upsert("personer", "2", { personlopenummer: 2 })
  const get = (id: string) => fetch(`${sim!.baseUrl}/personer/${id}`).then((r) => r.status)
  // One at a time, and two different entities at once: no overlap.
  await get("1")
  await Promise.all([get("1"), get("2")])
  expect(sim.overlapping().length).toBe(0)
  // Two requests for one entity at once: one overlap.
  expect(await Promise.all([get("1"), get("1")])).toEqual([200, 200])
  expect(sim.overlapping().length).toBe(1)
})
