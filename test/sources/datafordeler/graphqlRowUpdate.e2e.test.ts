/**
 * A GraphQL `u` event (a row updated: in a bitemporal register, closed) is
 * shown by the data only once the row shows the update — not by the row being
 * there, which it was before. An object invalidated (its rows closed, none
 * inserted) and fetched while the data service lagged used to be taken as
 * shown: mirrored unchanged, the cursor moved past its events, and the close
 * never reached the shadow. The real `skygge run` against the register simulator.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { freePort } from "../../support/net.js"

const bin = fileURLToPath(new URL("../../../bin/skygge.js", import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("Datafordeler GraphQL: a row's update", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c()
    cleanups.length = 0
  })

  it.each([["REST"], ["GraphQL"]])("an object invalidated while the data service lags reaches the shadow closed once the cursor has passed its events (rows by %s)", async (rows) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-update-"))
    const sim = await startDafSimulator({ seed: 47 })
    const port = await freePort()
    const configFile = join(dir, "skygge.json")
    const entity = rows === "REST"
      ? { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` }
      : { objectType: "dar.adresse", graphql: { query: "query($id: String!) { DAR_Adresse(where: { id_lokalId: { eq: $id } }) { nodes { id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid } } }" } }
    writeFileSync(
      configFile,
      JSON.stringify({
        store: { url: `sqlite:${join(dir, "skygge.db")}`, synchronous: "NORMAL" },
        api: { host: "127.0.0.1", port },
        log: { level: "Error" },
        sources: [{ kind: "datafordeler", name: "dar", graphql: { url: sim.graphqlUrl, register: "DAR", startAfterEventId: 0, pollSeconds: 0.1, maxAttempts: 3, maxBackoffSeconds: 0.2 }, entities: { Adresse: entity } }]
      })
    )
    sim.randomChanges(10)
    const child: ChildProcess = spawn(process.execPath, [bin, "run", "--config", configFile], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", (d) => (stderr += String(d)))
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        await once(child, "exit")
      }
      await sim.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const api = `http://127.0.0.1:${port}`
    const cursorReaches = async (eventid: number) => {
      const deadline = Date.now() + 30_000
      for (;;) {
        const res = await fetch(`${api}/v1/sources`).catch(() => undefined)
        const body = res?.status === 200 ? ((await res.json()) as { cursors: Array<{ source: string; cursor: string }> }) : undefined
        const cursor = Number(body?.cursors.find((c) => c.source === "dar:graphql")?.cursor ?? -1)
        if (cursor >= eventid) return
        if (Date.now() > deadline) throw new Error(`the cursor stayed at ${cursor}, before ${eventid}\n${stderr}`)
        await sleep(100)
      }
    }
    await cursorReaches(sim.rowEvents())

    // The data service now shows changes seconds after their events.
    sim.setFaults({ restLagMs: 3000 })
    const id = sim.ids()[0]!
    sim.invalidate([id])
    await cursorReaches(sim.rowEvents())
    const res = await fetch(`${api}/v1/objects/dar.adresse/${id}/history`)
    const held = ((await res.json()) as { rows: Array<{ registreringFra: string; registreringTil: string | null }> }).rows
    expect(held.filter((r) => r.registreringTil === null), stderr).toEqual([])
    expect(held.length).toBe(sim.rows(id).length)
  }, 60_000)
})
