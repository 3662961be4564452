/**
 * Several real `skygge run` processes on one configuration file (one PostgreSQL database), each with its
 * own API port and member name from the environment, as an operator runs them: start, SIGKILL, start
 * again, and ask any of them what the cluster looks like.
 */
import type { ChildProcess } from "node:child_process"
import { freePort } from "./net.js"
import { killIfRunning, startSkygge } from "./process.js"
import { sleep } from "./wait.js"

export type { ClusterView } from "../../src/domain/cluster/ClusterView.js"
import type { ClusterView } from "../../src/domain/cluster/ClusterView.js"

export interface Engines {
  readonly size: number
  readonly port: (i: number) => number
  readonly running: (i: number) => boolean
  /** Start engine `i` (again), named `engine-i`. */
  readonly start: (i: number) => void
  /** SIGKILL engine `i` and wait for it to exit. */
  readonly kill: (i: number) => Promise<void>
  /** SIGSTOP engine `i`: frozen, alive, its connections open (a paused VM). */
  readonly freeze: (i: number) => void
  /** SIGCONT engine `i`: a frozen one goes on where it stopped. */
  readonly thaw: (i: number) => void
  /** GET /v1/cluster of engine `i` (undefined while it does not answer). */
  readonly cluster: (i: number) => Promise<ClusterView | undefined>
  /** The engine holding singleton `name`, as a running engine sees it (undefined: nobody yet, or none answers). */
  readonly holderOf: (name: string) => Promise<number | undefined>
  /** Until engine `i` answers /ready (or `ms` pass). */
  readonly ready: (i: number, ms?: number) => Promise<void>
  readonly stopAll: () => Promise<void>
}

export const startEngines = async (configFile: string, size: number, options: { readonly stderr?: Array<string> } = {}): Promise<Engines> => {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()))
  const children: Array<ChildProcess | undefined> = Array.from({ length: size }, () => undefined)
  const name = (i: number) => `engine-${i}`
  const start = (i: number) => {
    children[i] = startSkygge(configFile, {
      env: { SKYGGE_API_PORT: String(ports[i]), SKYGGE_CLUSTER_MEMBER_NAME: name(i) },
      ...(options.stderr !== undefined ? { stderr: options.stderr } : {})
    })
  }
  const running = (i: number) => {
    const c = children[i]
    return c !== undefined && c.exitCode === null && c.signalCode === null
  }
  const cluster = async (i: number): Promise<ClusterView | undefined> => {
    if (!running(i)) return undefined
    try {
      const res = await fetch(`http://127.0.0.1:${ports[i]}/v1/cluster`, { signal: AbortSignal.timeout(2000) })
      return res.ok ? ((await res.json()) as ClusterView) : undefined
    } catch {
      return undefined
    }
  }
  const holderOf = async (singleton: string) => {
    for (let i = 0; i < size; i++) {
      const view = await cluster(i)
      if (view === undefined) continue
      const holder = view.singletons.find((s) => s.name === singleton)?.holder
      if (holder === undefined || holder === null) return undefined
      const member = view.members.find((m) => m.id === holder)
      const index = member === undefined ? -1 : Number(member.name.replace(/^engine-/, ""))
      return index >= 0 && index < size ? index : undefined
    }
    return undefined
  }
  const ready = async (i: number, ms = 30_000) => {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      if (!running(i)) throw new Error(`engine-${i} exited before it was ready`)
      const ok = await fetch(`http://127.0.0.1:${ports[i]}/ready`).then((r) => r.ok, () => false)
      if (ok) return
      await sleep(100)
    }
    throw new Error(`engine-${i} not ready within ${ms} ms`)
  }
  for (let i = 0; i < size; i++) start(i)
  return {
    size,
    port: (i) => ports[i]!,
    running,
    start,
    kill: async (i) => {
      await killIfRunning(children[i])
      children[i] = undefined
    },
    freeze: (i) => void children[i]?.kill("SIGSTOP"),
    thaw: (i) => void children[i]?.kill("SIGCONT"),
    cluster,
    holderOf,
    ready,
    stopAll: async () => {
      for (const c of children) await killIfRunning(c)
    }
  }
}
