/**
 * Two `skygge run` on one PostgreSQL database consuming one IntArk queue (issue 15), from outside:
 * real processes, the real broker, the FS simulator. A claim is a lease of a live member: a process
 * starting while another holds claims in flight does not take them (the store shows them still the
 * other's, and the simulator never sees an object fetched twice at once); when the holder is killed
 * (SIGKILL: no goodbye), its claims return after about `cluster.memberTimeoutSeconds` and the other
 * process fetches them — every person converges.
 */
import { Effect } from "effect"
import { type ChildProcess } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { toEpochMillis } from "../../src/domain/core/Instant.js"
import { fsPerson, type FsSimulator, startFsSimulator } from "../../src/sources/intark/simulator/FsSimulator.js"
import type { Received, WorkItem } from "../../src/store/WorkQueue.js"
import { useCleanups } from "../support/cleanups.js"
import { type OpenStore, openPgStore } from "../support/engine.js"
import { brokerNames, declareDeadLetter, deleteBrokerObjects, fsSourceConfig, waitConverged, waitForConsumer } from "../support/intark.js"
import { freePort } from "../support/net.js"
import { pgTestDatabases } from "../support/pg.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { connectRabbit, RABBIT_URL } from "../support/rabbit.js"
import { sleep, waitFor, waitForReady } from "../support/wait.js"

const databases = pgTestDatabases()

const HEARTBEAT_SECONDS = 0.5
const MEMBER_TIMEOUT_SECONDS = 3
const PERSONS = 30

describe("two skygge run on one PostgreSQL, one IntArk queue", () => {
  const cleanups = useCleanups()
  // Fails (never skips) with how to start the broker; PostgreSQL's helper does the same.
  beforeAll(async () => (await connectRabbit()).close())

  it("a starting process leaves a live one's claims alone; a killed one's return after the member timeout to the other; every person converges", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-intark-cluster-"))
    const names = brokerNames()
    await declareDeadLetter(names)
    const sim: FsSimulator = await startFsSimulator({ amqpUrl: RABBIT_URL, exchange: names.exchange, seed: 21 })
    const url = await databases.create()
    const engine: OpenStore = await openPgStore(url)
    const children: Array<ChildProcess> = []
    cleanups.push(async () => {
      for (const child of children) await killIfRunning(child)
      sim.resume()
      await sim.close()
      await engine.close()
      await deleteBrokerObjects(names)
      rmSync(dir, { recursive: true, force: true })
    })
    const start = async (name: string) => {
      const port = await freePort()
      const file = join(dir, `${name}.json`)
      writeFileSync(file, JSON.stringify({
        store: { url, poolSize: 4 },
        api: { host: "127.0.0.1", port },
        log: { level: "Error" },
        cluster: { memberName: name, heartbeatSeconds: HEARTBEAT_SECONDS, memberTimeoutSeconds: MEMBER_TIMEOUT_SECONDS },
        sources: [fsSourceConfig(names, sim, RABBIT_URL)]
      }))
      const child = startSkygge(file)
      children.push(child)
      return { child, port }
    }
    const memberOf = async (child: ChildProcess) => {
      let found: string | undefined
      await waitFor(`pid ${child.pid} to be a member`, async () => {
        found = (await Effect.runPromise(engine.members.list)).find((m) => m.pid === child.pid)?.id
        return found !== undefined
      })
      return found!
    }
    const inFlight = async (): Promise<ReadonlyArray<WorkItem>> => Effect.runPromise(engine.workQueue.list(names.source, "in_flight", 1000))
    const claimedBy = async (member: string) => new Set((await inFlight()).filter((i) => i.claimedBy === member).map((i) => i.objectId))

    // Work queued before anyone runs (as a full load leaves it), so the first process claims it all at once;
    // the provider hangs: every fetch stays in flight, its claim held.
    const origin = new URL(sim.baseUrl).origin
    const persons = new Set<string>()
    const change = async (id: string, version: number) => {
      await sim.upsert("personer", id, fsPerson(origin, id, version))
      persons.add(`personer/${id}`)
    }
    const queued: Array<Received> = []
    for (let i = 0; i < PERSONS; i++) {
      const id = String(700 + i)
      await change(id, 1) // its notification reaches nobody yet: no queue
      queued.push({ _tag: "Hint", hint: { format: "fs", resource: "personer", id, operation: "create", messageId: null, issuedAt: null, location: `personer/${id}`, validFrom: null } })
    }
    await Effect.runPromise(engine.workQueue.record(names.source, queued))
    sim.pause()
    const a = await start("a")
    const memberA = await memberOf(a.child)
    await waitFor("a to claim the queue", async () => (await claimedBy(memberA)).size === PERSONS && sim.openRequests() > 0)
    const heldByA = await claimedBy(memberA)

    // b starts, looks for gone members' claims at start and again every half member timeout: a's are not.
    const b = await start("b")
    await waitForReady(b.port, 60_000)
    const memberB = await memberOf(b.child)
    await sleep(MEMBER_TIMEOUT_SECONDS * 1000)
    expect(await claimedBy(memberA)).toEqual(heldByA)
    expect(sim.overlapping()).toEqual([])
    // Notifications now reach both (competing consumers): new persons, and new versions of some a holds.
    await waitForConsumer(names.queue)
    for (let i = 0; i < 10; i++) await change(String(700 + PERSONS + i), 1)
    for (let i = 0; i < 5; i++) await change(String(700 + i), 2)
    await sim.flush()
    const newIds = Array.from({ length: 10 }, (_, i) => String(700 + PERSONS + i))
    await waitFor("the new persons queued, b fetching", async () => {
      const queuedIds = new Set([...(await inFlight()), ...(await Effect.runPromise(engine.workQueue.list(names.source, "pending", 1000)))].map((i) => i.objectId))
      return newIds.every((id) => queuedIds.has(id)) && (await claimedBy(memberB)).size > 0
    })
    expect(await claimedBy(memberA)).toEqual(heldByA)

    // a dies without a word; its claims stay its own until its heartbeat is MEMBER_TIMEOUT_SECONDS old.
    a.child.kill("SIGKILL")
    await once(a.child, "exit")
    const killedAt = Date.now()
    sim.resume()
    await waitFor("a's claims to return", async () => (await claimedBy(memberA)).size === 0, 20_000)
    const returnedAfterMs = Date.now() - killedAt
    console.log(`a's ${heldByA.size} claims returned ${returnedAfterMs} ms after SIGKILL (member timeout ${MEMBER_TIMEOUT_SECONDS} s, heartbeat ${HEARTBEAT_SECONDS} s)`)
    // Not before its heartbeat could be that old (its last one came up to a heartbeat before the kill; some slack for a busy machine).
    expect(returnedAfterMs).toBeGreaterThanOrEqual(MEMBER_TIMEOUT_SECONDS * 1000 / 2)
    expect(returnedAfterMs).toBeLessThanOrEqual(MEMBER_TIMEOUT_SECONDS * 1.5 * 1000 + 3000)

    await waitConverged(engine, sim, names.source, persons, 20_000)
    expect(await Effect.runPromise(engine.workQueue.counts)).toEqual([])
    expect(sim.overlapping()).toEqual([])
    // a stays listed, dead (its heartbeat old), b alive.
    const members = await Effect.runPromise(engine.members.list)
    expect(members.map((m) => m.id).sort()).toEqual([memberA, memberB].sort())
    const beat = (id: string) => toEpochMillis(members.find((m) => m.id === id)!.heartbeatAt)
    expect(Date.now() - beat(memberA)).toBeGreaterThan(MEMBER_TIMEOUT_SECONDS * 1000)
    expect(Date.now() - beat(memberB)).toBeLessThan(MEMBER_TIMEOUT_SECONDS * 1000)
  }, 60_000)
})
