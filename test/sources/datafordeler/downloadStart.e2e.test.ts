/**
 * A first start from the register's file download, as the platform makes it:
 * generated daily or weekly, so the register has changed since. Through the
 * real `skygge run --config FILE`, on each event path: the changes between the
 * download's generation and the start come from events (read from before the
 * download's newest row), the shadow ends row for row equal to the register
 * with zero anomalies, the cursor at the last event, and what it cost the
 * register per change is printed.
 */
import { type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "vitest"
import { type DafSimulator, startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { useCleanups } from "../../support/cleanups.js"
import { freePort } from "../../support/net.js"
import { killIfRunning, startSkygge } from "../../support/process.js"
import { sleep } from "../../support/wait.js"

const cleanups = useCleanups()

const FIELDS = "id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid datafordelerRegisterImportSequenceNumber"
const BY_IDS = `query ($ids: [String!]!) { DAR_Adresse(where: { id_lokalId: { in: $ids } }) { nodes { ${FIELDS} } } }`

type Path = "graphql ($ids)" | "graphql (REST rows)" | "pull"

const sourceOf = (path: Path, sim: DafSimulator): Record<string, unknown> => {
  const graphql = { url: sim.graphqlUrl, register: "DAR", pollSeconds: 0.2, maxAttempts: 3, maxBackoffSeconds: 0.1 }
  const rest = { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
  if (path === "pull") return { pull: { url: sim.baseUrl, lagSeconds: 0.2, overlapSeconds: 1, pollSeconds: 0.2, maxAttempts: 3, maxBackoffSeconds: 0.1 }, entities: rest }
  if (path === "graphql (REST rows)") return { graphql, entities: rest }
  return { graphql, entities: { Adresse: { objectType: "dar.adresse", graphql: { query: BY_IDS } } } }
}

/**
 * A register simulator, and `start(path)`: `skygge run --config FILE` on one path of a source whose full load is
 * the simulator's file download, with no overlap — the start must find the first event at the download's newest
 * row exactly (equal instants included). It returns the process's log lines as they come.
 */
const setUp = async (seed: number) => {
  const sim = await startDafSimulator({ seed })
  const dir = mkdtempSync(join(tmpdir(), "skygge-daf-download-"))
  const configFile = join(dir, "skygge.json")
  const port = await freePort()
  let child: ChildProcess | undefined
  cleanups.push(async () => {
    await killIfRunning(child)
    await sim.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const start = (path: Path) => {
    writeFileSync(
      configFile,
      JSON.stringify({
        store: { url: `sqlite:${join(dir, "skygge.db")}` },
        api: { host: "127.0.0.1", port },
        log: { level: "Warn" },
        sources: [{ kind: "datafordeler", name: "dar", fullLoad: { download: sim.downloadUrl, downloadOverlapMinutes: 0 }, ...sourceOf(path, sim) }]
      })
    )
    const logs: Array<string> = []
    child = startSkygge(configFile, { stderr: logs })
    return logs
  }
  return { sim, port, start }
}

it.each<Path>(["graphql ($ids)", "graphql (REST rows)", "pull"])(
  "%s: a first start from a download generated before the start reads the events since it and ends exact",
  async (path) => {
    const { sim, port, start } = await setUp(71)

    // The register's history, its file download generated (Sunday night), and then the register going on (Monday).
    sim.randomChanges(40)
    sim.generateDownload()
    const inDownload = sim.rowEvents()
    await sleep(5)
    sim.randomChanges(30)
    const afterDownload = { rowEvents: sim.rowEvents(), objects: sim.ids().length }
    const started = sim.requests()
    const logs = start(path)

    const api = `http://127.0.0.1:${port}`
    const rowsOf = (rows: ReadonlyArray<{ registreringFra: string; registreringTil: string | null; virkningFra: string | null; virkningTil: string | null; data: unknown }>) =>
      rows.map((r) => JSON.stringify([r.registreringFra, r.registreringTil, r.virkningFra, r.virkningTil, r.data])).sort()
    /** Objects whose history over the engine's API differs from the register's. */
    const diff = async () => {
      const out: Array<string> = []
      for (const id of sim.ids()) {
        const res = await fetch(`${api}/v1/objects/dar.adresse/${id}/history`).catch(() => undefined)
        const got = res?.status === 200 ? rowsOf(((await res.json()) as { rows: Parameters<typeof rowsOf>[0] }).rows) : []
        if (JSON.stringify(got) !== JSON.stringify(rowsOf(sim.rows(id)))) out.push(id)
      }
      return out
    }
    const json = async <A>(p: string): Promise<A | undefined> => {
      const res = await fetch(`${api}${p}`).catch(() => undefined)
      return res?.status === 200 ? ((await res.json()) as A) : undefined
    }
    const cursor = async () => (await json<{ cursors: Array<{ source: string; cursor: string }> }>("/v1/sources"))?.cursors.find((c) => c.source === (path === "pull" ? "dar" : "dar:graphql"))?.cursor
    const settled = async () => (await diff()).length === 0 && (path === "pull" || Number(await cursor()) === sim.rowEvents())
    const until = async (ok: () => Promise<boolean>, ms: number) => {
      const deadline = Date.now() + ms
      while (!(await ok()) && Date.now() < deadline) await sleep(200)
    }
    const said = () => logs.join("").split("\n").filter((l) => /level=(WARN|ERROR)/.test(l)).join("\n")

    await until(settled, 45_000)
    expect(await diff(), said()).toEqual([])
    if (path !== "pull") expect(Number(await cursor()), said()).toBe(sim.rowEvents())
    expect((await json<{ anomalies: Array<unknown> }>("/v1/anomalies"))?.anomalies, said()).toEqual([])
    expect(said()).toMatch(/full load: file download loaded/)
    expect(said()).toMatch(/fullLoad\.downloadOverlapMinutes\) before the file download's newest row/)
    expect(said()).not.toMatch(/level=ERROR/)

    // What the start cost the register for the changes it caught up with (the download aside), printed and bounded.
    const caughtUp = sim.requests()
    const fetches = caughtUp.rest - started.rest + caughtUp.graphqlRows - started.graphqlRows
    const changes = afterDownload.rowEvents - inDownload
    console.log(`${path}: first start from a download, ${changes} row events since it — ${fetches} row fetches (REST ${caughtUp.rest - started.rest}, GraphQL ${caughtUp.graphqlRows - started.graphqlRows}), ${caughtUp.pull - started.pull} PULL, ${caughtUp.graphql - started.graphql - (caughtUp.graphqlRows - started.graphqlRows)} GraphQL event/status requests for ${afterDownload.objects} objects`)
    expect(fetches, "row fetches: at most one per object the catch-up touched").toBeLessThanOrEqual(afterDownload.objects)
    expect(changes).toBeGreaterThan(0)

    // And it goes on from there.
    sim.randomChanges(10)
    await until(settled, 30_000)
    expect(await diff(), said()).toEqual([])
    expect((await json<{ anomalies: Array<unknown> }>("/v1/anomalies"))?.anomalies, said()).toEqual([])
  },
  120_000
)

it("a download older than the events the service still keeps: the start says loudly which changes are missing", async () => {
  const { sim, start } = await setUp(73)
  sim.randomChanges(20)
  sim.generateDownload()
  await sleep(5)
  sim.randomChanges(20)
  // The service has dropped the events of the first changes after the download.
  sim.forgetRowEvents(sim.rowEvents() - 5)
  const logs = start("graphql ($ids)")
  const missing = /level=ERROR .*the file download's newest row was written at \S+, before the oldest event the service keeps \(\d+, \S+\); changes in between are missing until a newer download is loaded \(fullLoad\.cron\)/
  const deadline = Date.now() + 30_000
  while (!missing.test(logs.join("")) && Date.now() < deadline) await sleep(100)
  expect(logs.join("")).toMatch(missing)
}, 60_000)
