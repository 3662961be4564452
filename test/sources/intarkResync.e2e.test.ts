/**
 * A resync through the real doors when one resource's listing fails: a real
 * `skygge run` (fetches failing) leaves abandoned work items in two resources;
 * then the real `skygge resync` runs with one resource's endpoint down. Only
 * the resource whose own listing succeeded gets its abandoned items back, and
 * its report counts only those; the failed one revives nothing until its own
 * listing succeeds. Reports are read with `skygge resync-reports --json`.
 */
import type { ChildProcess } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { fsPerson, fsPersonrolle, startFsSimulator } from "../../src/sources/intark/simulator/FsSimulator.js"
import type { ResyncReport } from "../../src/store/ResyncReports.js"
import { brokerNames, declareDeadLetter, fsSourceConfig, stopSkyggeRun, waitForConsumer } from "../support/intark.js"
import { freePort } from "../support/net.js"
import { startSkygge } from "../support/process.js"
import { connectRabbit, RABBIT_URL } from "../support/rabbit.js"
import { skygge } from "../cli/skygge.js"

describe("IntArk resync with one resource's listing failing", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  beforeAll(async () => {
    await (await connectRabbit()).close()
  })
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
    cleanups.length = 0
  })

  it("revives abandoned items per resource, only after that resource's own listing succeeded, and counts them in its own report", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-resync-revive-"))
    const names = brokerNames()
    await declareDeadLetter(names)
    // Both resources down: every fetch fails, and with maxAttempts 1 is abandoned at once.
    const sim = await startFsSimulator({ amqpUrl: RABBIT_URL, exchange: names.exchange, seed: 5, faults: { unavailable: ["personer", "personroller"] } })
    const configFile = join(dir, "skygge.json")
    const apiPort = await freePort()
    const source = fsSourceConfig(names, sim, RABBIT_URL, {
      resources: {
        personer: { objectType: "fs.person", list: "/personer" },
        personroller: { objectType: "fs.personrolle", validFrom: "periode.fraDato", validTo: "periode.tilDato", list: "/personroller" }
      }
    })
    const config = { ...source, provider: { ...source.provider, maxAttempts: 1 } }
    writeFileSync(configFile, JSON.stringify({ store: { url: `sqlite:${join(dir, "skygge.db")}` }, api: { host: "127.0.0.1", port: apiPort }, log: { level: "Error" }, sources: [config] }))
    let child: ChildProcess | undefined
    cleanups.push(stopSkyggeRun(() => child, sim, names, dir))
    const cli = (args: ReadonlyArray<string>) => skygge([...args, "--config", configFile])
    const reports = async () => {
      const out = await cli(["resync-reports", "--json"])
      expect(out.code, out.stderr).toBe(0)
      return out.stdout.trim().split("\n").map((l) => JSON.parse(l) as ResyncReport)
    }

    child = startSkygge(configFile)
    await waitForConsumer(names.queue)
    const origin = new URL(sim.baseUrl).origin
    await sim.upsert("personer", "101", fsPerson(origin, "101", 1))
    await sim.upsert("personer", "102", fsPerson(origin, "102", 1))
    await sim.upsert("personroller", "201,1", fsPersonrolle(origin, "201,1", 1))
    await sim.flush()
    // The engine gives up on all three: monitoring shows them abandoned.
    const abandoned = new RegExp(`skygge_source_work_items\\{source="${names.source}",state="abandoned"\\} 3\\b`)
    let metrics = ""
    // A budget, not a retry: the engine's start (sources compiled at start) is slow on a loaded 2-core machine.
    for (let i = 0; i < 450 && !abandoned.test(metrics); i++) {
      await new Promise((r) => setTimeout(r, 200))
      metrics = await fetch(`http://127.0.0.1:${apiPort}/metrics`).then((r) => r.text(), () => "")
    }
    expect(metrics).toMatch(abandoned)
    child.kill("SIGTERM")
    await once(child, "exit")

    // The person roles are back, the persons' endpoint is still down.
    sim.setFaults({ unavailable: ["personer"] })
    const partial = await cli(["resync", "--json", "--wait-seconds", "20"])
    expect(partial.code).toBe(1) // a report with an error
    const [personer1, personroller1] = partial.stdout.trim().split("\n").map((l) => JSON.parse(l) as ResyncReport)
    expect(personer1).toMatchObject({ resource: "personer", revived: 0, repaired: 0, error: expect.stringContaining("listing failed") })
    expect(personroller1).toMatchObject({ resource: "personroller", revived: 1, missing: 1, repaired: 1, error: null })
    expect((await reports()).map((r) => [r.resource, r.revived, r.error === null])).toEqual([
      ["personroller", 1, true],
      ["personer", 0, false]
    ])

    // Once the persons' listing succeeds, their own abandoned items come back, counted in their report.
    sim.setFaults({ unavailable: [] })
    const full = await cli(["resync", "--json", "--wait-seconds", "20"])
    expect(full.code, full.stderr).toBe(0)
    const [personer2, personroller2] = full.stdout.trim().split("\n").map((l) => JSON.parse(l) as ResyncReport)
    expect(personer2).toMatchObject({ resource: "personer", revived: 2, missing: 2, error: null })
    expect(personroller2).toMatchObject({ resource: "personroller", revived: 0, missing: 0, error: null })
  }, 180_000)
})
