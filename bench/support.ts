/** What every benchmark prints and measures with. */
import { once } from "node:events"
import { createServer } from "node:net"

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** Loaded into a child with `--import`: prints its own peak resident set (KiB on Linux) at exit, as `peak-rss-kib=N`. */
export const PEAK_RSS_HOOK = `data:text/javascript,process.on("exit",()=>process.stderr.write("peak-rss-kib="+process.resourceUsage().maxRSS+"\\n"))`

/** The peak RSS a child printed through PEAK_RSS_HOOK, in MiB. */
export const peakRssMiB = (stderr: string): number | undefined => {
  const match = /peak-rss-kib=(\d+)/.exec(stderr)
  return match === null ? undefined : Number(match[1]) / 1024
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
