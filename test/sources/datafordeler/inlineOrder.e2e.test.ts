/**
 * Rows carried inline by events of one object that arrive out of order (a PUSH redelivered late, a page
 * not in time order): a row only ever goes from open to closed, so its closed copy stands whatever order
 * the copies came in — through a real `skygge run` receiving them by PUSH.
 */
import { afterEach, expect, it } from "vitest"
import { freePort } from "../../support/net.js"
import { waitFor } from "../../support/wait.js"
import { runSkygge, type SkyggeRun } from "./skyggeRun.js"

let run: SkyggeRun | undefined
afterEach(async () => {
  await run?.close()
  run = undefined
})

const envelope = (id: number, registreringstid: string, rows: Array<Record<string, unknown>>) => ({
  Id: id,
  Message: {
    Grunddatabesked: {
      Hændelsesbesked: {
        beskedID: `b-${id}`,
        Beskedkuvert: { Filtreringsdata: { beskedtype: "AdresseUpdate", Objektregistrering: [{ objektID: "a", objekttype: "Adresse", registreringstid }] } },
        Beskeddata: rows.map((r) => ({ Objektdata: r }))
      }
    }
  },
  Format: "Json"
})

it("keeps a row's close when the event that closed it is PUSHed before the one that created it (one current row, not two over the same validity)", async () => {
  const pushPort = await freePort()
  // No data service is reachable: everything the shadow holds came inline.
  run = await runSkygge({ push: { port: pushPort }, entities: { Adresse: { objectType: "dar.adresse", rest: "http://127.0.0.1:9/nowhere?id={id}" } } }, "Error")
  const r1 = { id_lokalId: "a", registreringFra: "2026-01-01T10:00:00Z", virkningFra: "2026-01-01T00:00:00Z", navn: "Aabakke" }
  const r2 = { id_lokalId: "a", registreringFra: "2026-01-02T10:00:00Z", virkningFra: "2026-01-01T00:00:00Z", navn: "Åbakke" }
  // E2 (r1 closed, r2 inserted) before E1 (r1 open), in one request.
  const body = JSON.stringify([envelope(2, "2026-01-02T10:00:00Z", [{ ...r1, registreringTil: "2026-01-02T10:00:00Z" }, r2]), envelope(1, "2026-01-01T10:00:00Z", [r1])])
  await waitFor("the PUSH receiver to take the events", async () => {
    const res = await fetch(`http://127.0.0.1:${pushPort}/Events`, { method: "POST", headers: { "content-type": "application/json" }, body }).catch(() => undefined)
    return res?.status === 201
  }, 30_000)
  let rows: Array<{ registreringFra: string; registreringTil: string | null }> = []
  await waitFor("both rows in the shadow", async () => {
    const res = await fetch(`${run!.api}/v1/objects/dar.adresse/a/history`).catch(() => undefined)
    rows = res?.status === 200 ? ((await res.json()) as { rows: typeof rows }).rows : []
    return rows.length >= 2
  })
  expect(rows.map((r) => [r.registreringFra, r.registreringTil])).toEqual([
    ["2026-01-01T10:00:00.000000Z", "2026-01-02T10:00:00.000000Z"],
    ["2026-01-02T10:00:00.000000Z", null]
  ])
}, 60_000)
