/**
 * Every path that fetches rows has a key of its own for the REST service
 * (`restApiKey`): a source with only `push` reaches a register that requires
 * one. Through the real `skygge run --config FILE`; the key never in a log line.
 */
import { Effect } from "effect"
import { type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "vitest"
import { startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { openStore } from "../../support/engine.js"
import { freePort } from "../../support/net.js"
import { useCleanups } from "../../support/cleanups.js"
import { killIfRunning, startSkygge } from "../../support/process.js"
import { sleep } from "../../support/wait.js"

const cleanups = useCleanups()

it("a PUSH-only source sends push.restApiKey (from the environment) to REST, and logs it nowhere", async () => {
  const apiKey = "rest-key-only-push-3e9b71"
  const sim = await startDafSimulator({ seed: 61, credentials: { apiKey } })
  const dir = mkdtempSync(join(tmpdir(), "skygge-daf-key-"))
  const dbFile = join(dir, "skygge.db"), configFile = join(dir, "skygge.json")
  const pushPort = await freePort()
  writeFileSync(
    configFile,
    JSON.stringify({
      store: { url: `sqlite:${dbFile}` },
      api: { host: "127.0.0.1", port: await freePort() },
      log: { level: "Debug" },
      sources: [{
        kind: "datafordeler",
        name: "dar",
        push: { port: pushPort, maxAttempts: 3, maxBackoffSeconds: 0.2, restApiKey: { env: "SKYGGE_TEST_REST_KEY" } },
        entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
      }]
    })
  )
  const logs: Array<string> = []
  let child: ChildProcess | undefined = startSkygge(configFile, { env: { SKYGGE_TEST_REST_KEY: apiKey }, stderr: logs })
  const engine = openStore(dbFile)
  cleanups.push(async () => {
    await killIfRunning(child)
    child = undefined
    await sim.close()
    engine.close()
    rmSync(dir, { recursive: true, force: true })
  })
  sim.pushTo(`http://127.0.0.1:${pushPort}/`)
  sim.randomChanges(15)
  const equal = () =>
    sim.ids().every((id) => Effect.runSync(engine.store.history("dar.adresse", id)).length === sim.rows(id).length)
  const deadline = Date.now() + 30_000
  while (!equal() && Date.now() < deadline) await sleep(200)
  expect(equal(), logs.join("").slice(-3000)).toBe(true)
  expect(Effect.runSync(engine.mirror.anomalyCount)).toBe(0)
  expect(sim.requests().rest).toBeGreaterThan(0)
  expect(logs.join("").includes(apiKey)).toBe(false)
}, 60_000)
