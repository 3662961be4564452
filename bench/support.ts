/** What every benchmark prints and measures with. */
import { spawn } from "node:child_process"
import { once } from "node:events"
import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { performance } from "node:perf_hooks"
import { request } from "undici"

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

/**
 * Loaded into a child with `--import`: prints its own peak resident set (KiB) at exit, as `peak-rss-kib=N`.
 * On Linux from /proc/self/status (VmHWM, this program's own since its exec): getrusage's maxRSS survives
 * execve, so a child spawned by a large parent (this benchmark, after its in-process import) reported the
 * parent's size — (d) printed the same figure for both files.
 */
export const PEAK_RSS_HOOK =
  `data:text/javascript,import{readFileSync}from"node:fs";process.on("exit",()=>{let kib=process.resourceUsage().maxRSS;` +
  `try{const m=/VmHWM:\\s*(\\d+)/.exec(readFileSync("/proc/self/status","utf8"));if(m)kib=Number(m[1])}catch{}` +
  `process.stderr.write("peak-rss-kib="+kib+"\\n")})`

/** The peak RSS a child printed through PEAK_RSS_HOOK, in MiB. */
export const peakRssMiB = (stderr: string): number | undefined => {
  const match = /peak-rss-kib=(\d+)/.exec(stderr)
  return match === null ? undefined : Number(match[1]) / 1024
}

/**
 * A running child's CPU time so far, user + system, in seconds (from /proc/<pid>/stat; undefined where there is
 * none): steadier than its wall time on a machine shared with other work. Read before the child is stopped.
 */
export const childCpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // After the command's name (in parentheses, may hold spaces): fields 3 on; utime and stime are 14 and 15, in clock ticks (USER_HZ, 100).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

export const freePort = async (): Promise<number> => {
  const server = createServer().listen(0, "127.0.0.1")
  await once(server, "listening")
  const port = (server.address() as { port: number }).port
  await new Promise((r) => server.close(r))
  return port
}

export const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
export const verdict = (ok: boolean) => (ok ? "PASS" : "MISS")

/**
 * Point queries over loopback HTTP against a real `skygge run` on `storeUrl` (started here, stopped after):
 * `count` GETs of `/v1/objects/adresse/{id}` as of the picked instants, one at a time. Returns the sorted
 * latencies in ms and how many found a row.
 */
export const httpPointQueries = async (
  storeUrl: string,
  count: number,
  pick: (q: number) => { readonly objectId: string; readonly r: string; readonly v: string }
): Promise<{ readonly times: Array<number>; readonly found: number }> => {
  const port = await freePort()
  const bin = fileURLToPath(new URL("../bin/skygge.js", import.meta.url))
  const server = spawn(process.execPath, [bin, "run"], {
    env: { ...process.env, SKYGGE_STORE_URL: storeUrl, SKYGGE_API_PORT: String(port), SKYGGE_API_HOST: "127.0.0.1", SKYGGE_LOG_LEVEL: "Warn" },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let serverErr = ""
  server.stderr.on("data", (d) => (serverErr += String(d)))
  let exited = false
  server.on("exit", () => (exited = true))
  const base = `http://127.0.0.1:${port}`
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await request(`${base}/health`)
        await res.body.dump()
        if (res.statusCode === 200) break
      } catch {
        if (exited || attempt > 300) throw new Error(`skygge run did not answer: ${serverErr.slice(-2000)}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const times: Array<number> = []
    let found = 0
    for (let q = 0; q < count; q++) {
      const { objectId: id, r, v } = pick(q)
      const t = performance.now()
      const res = await request(`${base}/v1/objects/adresse/${id}?registreringstid=${r}&virkningstid=${v}`)
      await res.body.text()
      times.push(performance.now() - t)
      if (res.statusCode === 200) found++
    }
    return { times: times.sort((a, b) => a - b), found }
  } finally {
    if (!exited) {
      server.kill("SIGTERM")
      await once(server, "exit")
    }
  }
}

/**
 * The memory floor of a `skygge run`: the peak RSS of one with no sources, from start until it has answered
 * /health and idled `idleMs` (the runtime, the bundle, the store and the API; what every path's peak includes).
 */
export const idleRunPeakRssMiB = async (storeUrl: string, idleMs = 2000): Promise<number> => {
  const port = await freePort()
  const bin = fileURLToPath(new URL("../bin/skygge.js", import.meta.url))
  const child = spawn(process.execPath, ["--import", PEAK_RSS_HOOK, bin, "run"], {
    env: { ...process.env, SKYGGE_STORE_URL: storeUrl, SKYGGE_API_PORT: String(port), SKYGGE_API_HOST: "127.0.0.1", SKYGGE_LOG_LEVEL: "Warn" },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr.on("data", (d) => (stderr += String(d)))
  for (let attempt = 0; ; attempt++) {
    const up = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)
    if (up) break
    if (child.exitCode !== null || attempt > 300) throw new Error(`skygge run did not answer: ${stderr.slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  await new Promise((r) => setTimeout(r, idleMs))
  child.kill("SIGTERM")
  await once(child, "exit")
  const rss = peakRssMiB(stderr)
  if (rss === undefined) throw new Error(`skygge run printed no peak RSS: ${stderr.slice(-2000)}`)
  return rss
}
