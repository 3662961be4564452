/**
 * Stopping what the README says to run, the way a service manager stops it: SIGTERM to the process it
 * started. The command lines are read from the README itself (Quick start's `npx skygge run`, the
 * systemd unit's ExecStart, the container's exec-form ENTRYPOINT + CMD), so the docs and this test
 * cannot drift. Each must free its port, leave no process of its tree running, and close the store.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/net.js"
import { repo } from "./skygge.js"

const readme = readFileSync(join(repo, "README.md"), "utf8")

/** The fenced blocks of a language in the README. */
const blocks = (lang: string) => [...readme.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!)

/** `KEY=value` lines of a unit's section, or the values of a Dockerfile instruction. */
const unitValues = (unit: string, key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]!.trim())

const quickStart = () => {
  const line = blocks("sh").flatMap((b) => b.split("\n")).find((l) => l.startsWith("npx skygge run"))
  expect(line, "Quick start runs npx skygge run").toBeDefined()
  return { argv: line!.split("#")[0]!.trim().split(/\s+/), env: {} as Record<string, string> }
}

const systemdUnit = (config: string) => {
  const unit = blocks("ini").find((b) => b.includes("ExecStart="))
  expect(unit, "README has a systemd unit").toBeDefined()
  const [execStart] = unitValues(unit!, "ExecStart")
  expect(unitValues(unit!, "WorkingDirectory")).toEqual(["/opt/skygge"]) // the checkout: here, this one
  // Its Environment= names, with this test's configuration file for SKYGGE_CONFIG.
  const env = Object.fromEntries(unitValues(unit!, "Environment").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]))
  expect(Object.keys(env)).toEqual(["SKYGGE_CONFIG"])
  return { argv: execStart!.split(/\s+/), env: { SKYGGE_CONFIG: config } }
}

const containerEntry = (dataDir: string) => {
  const file = blocks("dockerfile")[0]
  expect(file, "README has a Dockerfile").toBeDefined()
  const json = (instruction: string) => JSON.parse(file!.match(new RegExp(`^${instruction} (\\[.*\\])$`, "m"))![1]!) as Array<string>
  expect(file).toMatch(/^WORKDIR \/app$/m) // the checkout: here, this one
  const env = Object.fromEntries(
    file!
      .match(/^ENV (.*)$/m)![1]!
      .split(/\s+/)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1).replace(/^sqlite:\/data\//, `sqlite:${dataDir}/`)])
  )
  return { argv: [...json("ENTRYPOINT"), ...json("CMD")], env }
}

/** Can a TCP connection be made to the port? */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port })
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })

/** Process ids below `pid`, from /proc. */
const descendants = (pid: number): Array<number> => {
  const parents = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {
      // gone meanwhile
    }
  }
  const found: Array<number> = []
  const walk = (p: number) => {
    for (const [child, parent] of parents) if (parent === p) (found.push(child), walk(child))
  }
  walk(pid)
  return found
}

/** Still running: it exists and is not a zombie waiting for a parent to reap it. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

const until = async (what: () => boolean | Promise<boolean>, seconds: number) => {
  const deadline = Date.now() + seconds * 1000
  while (Date.now() < deadline) {
    if (await what()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return what()
}

/** Environment as a service manager gives it: no npm variables from a test run started by npm. */
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("npm_")))

const startAndStop = async (argv: ReadonlyArray<string>, env: Record<string, string>, port: number) => {
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { cwd: repo, env: { ...cleanEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let stderr = ""
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
  child.stdout!.resume()
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  try {
    expect(await until(() => listening(port), 90), `listening on ${port}: ${stderr}`).toBe(true)
    const tree = [child.pid!, ...descendants(child.pid!)]
    child.kill("SIGTERM")
    const stopped = await until(async () => !(await listening(port)) && tree.every((pid) => !alive(pid)), 10)
    expect({ stopped, running: tree.filter(alive).map((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")) }).toEqual({ stopped: true, running: [] })
    expect(stderr).toContain("skygge stopped: server closed, store closed")
    return { code: await exited, stderr }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    for (const pid of descendants(child.pid!)) if (alive(pid)) process.kill(pid, "SIGKILL")
  }
}

describe("stopping what the README says to run, on SIGTERM", () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skygge-service-"))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("the Quick start's npx skygge run (npm, a shell, then node): port freed, process tree gone", async () => {
    const port = await freePort()
    const { argv } = quickStart()
    const db = join(dir, "npx", "skygge.db")
    await startAndStop(argv, { SKYGGE_STORE_URL: `sqlite:${db}`, SKYGGE_API_PORT: String(port) }, port)
    expect(existsSync(`${db}-wal`)).toBe(false) // closed: the last connection checkpointed and removed it
  }, 180_000)

  it("the systemd unit's ExecStart, as systemd runs it: SIGTERM to the main process stops it cleanly", async () => {
    const port = await freePort()
    const db = join(dir, "systemd", "skygge.db")
    const config = join(dir, "systemd.json")
    writeFileSync(config, JSON.stringify({ store: { url: `sqlite:${db}` }, api: { port } }))
    const { argv, env } = systemdUnit(config)
    const { code } = await startAndStop(argv, env, port)
    expect(code).toBe(0)
    expect(existsSync(`${db}-wal`)).toBe(false)
  }, 180_000)

  it("the container's exec-form entry point: SIGTERM to it stops it cleanly", async () => {
    const port = await freePort()
    const data = join(dir, "data")
    const { argv, env } = containerEntry(data)
    const { code } = await startAndStop(argv, { ...env, SKYGGE_API_PORT: String(port) }, port)
    expect(code).toBe(0)
    expect(existsSync(join(data, "skygge.db"))).toBe(true)
    expect(existsSync(join(data, "skygge.db-wal"))).toBe(false)
  }, 180_000)
})
