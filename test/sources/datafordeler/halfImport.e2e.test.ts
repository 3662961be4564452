/**
 * An import longer than the retry budget, seen through the real `skygge run
 * --config FILE`: objects named by a failed import and then re-imported are
 * parked while the import runs — the GraphQL cursor's age grows in
 * /v1/sources and /metrics — and mirrored unchanged once it completes; the
 * PULL path beside it, asking the same import status, parks objects it
 * fetches half-way through a re-import too.
 */
import { Effect } from "effect"
import { type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "vitest"
import { type DafSimulator, startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { openStore } from "../../support/engine.js"
import { freePort } from "../../support/net.js"
import { useCleanups } from "../../support/cleanups.js"
import { killIfRunning, startSkygge } from "../../support/process.js"
import { sleep } from "../../support/wait.js"

const cleanups = useCleanups()

const FIELDS = "id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid datafordelerRegisterImportSequenceNumber"

/** A register simulator and `skygge run --config FILE` on one source of it (`paths`: its event paths and entities); ways to watch both. */
const setUp = async (seed: number, paths: (sim: DafSimulator) => Record<string, unknown>) => {
  const sim = await startDafSimulator({ seed })
  const dir = mkdtempSync(join(tmpdir(), "skygge-daf-import-"))
  const dbFile = join(dir, "skygge.db"), configFile = join(dir, "skygge.json")
  const apiPort = await freePort()
  writeFileSync(
    configFile,
    JSON.stringify({
      store: { url: `sqlite:${dbFile}` },
      api: { host: "127.0.0.1", port: apiPort },
      log: { level: "Error" },
      sources: [{ kind: "datafordeler", name: "dar", ...paths(sim) }]
    })
  )
  let child: ChildProcess | undefined = startSkygge(configFile)
  const engine = openStore(dbFile)
  cleanups.push(async () => {
    await killIfRunning(child)
    child = undefined
    await sim.close()
    engine.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const rowsOf = (rows: ReadonlyArray<{ registreringFra: string; registreringTil: string | null; virkningFra: string | null; virkningTil: string | null; data: unknown }>) =>
    rows.map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])).sort()
  const equal = () => sim.ids().every((id) => JSON.stringify(rowsOf(Effect.runSync(engine.store.history("dar.adresse", id)))) === JSON.stringify(rowsOf(sim.rows(id))))
  const sources = async (path = "dar:graphql") =>
    ((await (await fetch(`http://127.0.0.1:${apiPort}/v1/sources`)).json()) as { cursors: Array<{ source: string; cursor: string; ageSeconds: number }> }).cursors.find((c) => c.source === path)!
  const metricAge = async () => Number(/skygge_source_cursor_age_seconds\{source="dar:graphql"\} ([0-9.]+)/.exec(await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text())?.[1])
  const until = async (ok: () => boolean | Promise<boolean>, ms: number) => {
    const deadline = Date.now() + ms
    while (!(await Promise.resolve().then(ok).catch(() => false)) && Date.now() < deadline) await sleep(200)
  }
  const anomalies = () => Effect.runSync(engine.mirror.anomalies({ after: 0, limit: 10 })).map((a) => `${a.kind}: ${a.detail}`)
  return { sim, engine, equal, sources, metricAge, until, anomalies }
}


it("skygge run parks objects half-way through a long import, shows the wait as cursor age, and ends exact", async () => {
  const { sim, engine, equal, sources, metricAge, until, anomalies } = await setUp(67, (sim) => ({
    graphql: { url: sim.graphqlUrl, register: "DAR", pollSeconds: 0.1, maxAttempts: 3, maxBackoffSeconds: 0.1 },
    entities: { Adresse: { objectType: "dar.adresse", graphql: { query: `query ($ids: [String!]!) { DAR_Adresse(where: { id_lokalId: { in: $ids } }) { nodes { ${FIELDS} } } }` } } }
  }))
  // Started (the first start sets the cursor), then some history mirrored.
  await until(async () => (await sources()) !== undefined, 30_000)
  sim.randomChanges(15)
  await until(async () => equal() && Number((await sources()).cursor) === sim.rowEvents(), 20_000)
  expect(equal()).toBe(true)
  const before = (await sources()).cursor

  // A failed import of four objects, then their re-import taking 6 s: their rows are gone meanwhile.
  const ids = sim.ids().slice(0, 4)
  sim.failedImport(ids)
  sim.setFaults({ importMs: 6000 })
  sim.reimport(ids)
  sim.setFaults({ importMs: 0 })
  await sleep(3500)
  const waiting = await sources()
  expect(waiting.cursor).toBe(before)
  expect(waiting.ageSeconds).toBeGreaterThanOrEqual(2)
  expect(await metricAge()).toBeGreaterThanOrEqual(2)
  expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)

  // The import completes: mirrored unchanged, the cursor at the last event and fresh again.
  await until(async () => Number((await sources()).cursor) === sim.rowEvents(), 20_000)
  expect(Number((await sources()).cursor)).toBe(sim.rowEvents())
  expect(equal()).toBe(true)
  expect(await metricAge()).toBeLessThan(2)
  expect(anomalies()).toEqual([])
}, 90_000)

it("skygge run parks what the PULL path fetches half-way through a re-import while the import status says one runs, and ends exact", async () => {
  const { sim, equal, sources, until, anomalies } = await setUp(79, (sim) => ({
    pull: { url: sim.baseUrl, lagSeconds: 0.2, overlapSeconds: 1, pollSeconds: 0.2, maxAttempts: 5, maxBackoffSeconds: 0.5 },
    graphql: { url: sim.graphqlUrl, register: "DAR", pollSeconds: 0.2, maxAttempts: 3, maxBackoffSeconds: 0.1 },
    entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
  }))
  await until(async () => (await sources("dar")) !== undefined && (await sources()) !== undefined, 30_000)
  sim.randomChanges(20)
  await until(equal, 20_000)
  expect(equal()).toBe(true)

  // Objects with several rows change, and a re-import of them starts before the PULL path fetches them: it takes
  // 6 s, and REST shows their newest rows again well before their older ones.
  const ids = sim.ids().filter((id) => sim.rows(id).length >= 3).slice(0, 4)
  expect(ids.length).toBeGreaterThan(0)
  sim.change(ids)
  sim.setFaults({ importMs: 6000 })
  sim.reimport(ids)
  sim.setFaults({ importMs: 0 })
  await sleep(4000)
  expect(anomalies()).toEqual([])

  await until(async () => equal() && Number((await sources()).cursor) === sim.rowEvents(), 25_000)
  expect(equal()).toBe(true)
  expect(anomalies()).toEqual([])
}, 90_000)
