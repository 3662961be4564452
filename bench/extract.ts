/**
 * Full load from a dump (`npm run bench:extract`): `skygge import-extract` of a CSV
 * of N current-state records and of N/10, each in a child process, printing
 * records/s and peak RSS side by side — the load must run in constant memory,
 * so the large file's peak is printed as a ratio to the small one's.
 * SKYGGE_BENCH_EXTRACT_N sets N (default 1,000,000).
 */
import { spawn } from "node:child_process"
import { once } from "node:events"
import { createWriteStream, mkdirSync, rmSync, statSync } from "node:fs"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"

const N = Number(process.env.SKYGGE_BENCH_EXTRACT_N ?? 1_000_000)
const dir = resolve(".bench", `extract-${process.pid}`)
const root = resolve(import.meta.dirname, "..")
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
const PEAK_RSS_HOOK = `data:text/javascript,process.on("exit",()=>process.stderr.write("peak-rss-kib="+process.resourceUsage().maxRSS+"\\n"))`

const writeCsv = async (path: string, rows: number) => {
  const out = createWriteStream(path)
  out.write("ansattnummer,fornavn,etternavn,enhet,stilling,epost\r\n")
  let chunk: Array<string> = []
  for (let i = 0; i < rows; i++) {
    chunk.push(`${100000 + i},Fornavn ${i % 997},"Etternavn, ${i % 1009}",${200 + (i % 50)},Rådgiver,ansatt${i}@example.org`)
    if (chunk.length === 5000) {
      if (!out.write(chunk.join("\r\n") + "\r\n")) await once(out, "drain")
      chunk = []
    }
  }
  out.end(chunk.length > 0 ? chunk.join("\r\n") + "\r\n" : "")
  await once(out, "finish")
}

const load = async (file: string, db: string) => {
  const start = performance.now()
  const child = spawn(
    process.execPath,
    ["--import", PEAK_RSS_HOOK, join(root, "bin/skygge.js"), "import-extract", file, "--type", "hr.ansatt", "--id-field", "ansattnummer", "--json"],
    { cwd: dir, env: { ...process.env, SKYGGE_STORE_URL: `sqlite:${db}`, SKYGGE_STORE_SYNCHRONOUS: "NORMAL", SKYGGE_LOG_LEVEL: "Warn" }, stdio: ["ignore", "pipe", "pipe"] }
  )
  let stdout = "", stderr = ""
  child.stdout.on("data", (d) => (stdout += String(d)))
  child.stderr.on("data", (d) => (stderr += String(d)))
  const [code] = (await once(child, "exit")) as [number]
  const seconds = (performance.now() - start) / 1000
  const rss = /peak-rss-kib=(\d+)/.exec(stderr)
  if (code !== 0 || rss === null) throw new Error(`import-extract exited ${code}: ${stderr.slice(-2000)}`)
  const summary = JSON.parse(stdout) as { records: number; applied: number }
  return { seconds, records: summary.records, applied: summary.applied, rssMiB: Number(rss[1]) / 1024 }
}

const main = async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`skygge extract benchmark — N = ${fmt(N)} CSV records, node ${process.version}, ${new Date().toISOString()}`)
  const small = join(dir, "small.csv"), large = join(dir, "large.csv")
  await writeCsv(small, Math.ceil(N / 10))
  await writeCsv(large, N)
  const a = await load(small, join(dir, "small.db"))
  const b = await load(large, join(dir, "large.db"))
  if (b.applied !== N) throw new Error(`expected ${N} applied, got ${b.applied}`)
  console.log(`import-extract N/10 (${fmt(statSync(small).size / 1048576)} MiB)   ${fmt(a.records / a.seconds).padStart(8)} records/s (process wall time)   peak RSS ${fmt(a.rssMiB)} MiB`)
  console.log(
    `import-extract N    (${fmt(statSync(large).size / 1048576)} MiB)   ${fmt(b.records / b.seconds).padStart(8)} records/s (process wall time)   peak RSS ${fmt(b.rssMiB)} MiB   ` +
      `RSS ratio ${fmt(b.rssMiB / a.rssMiB, 2)}   target constant memory (≤ 1.5): ${b.rssMiB / a.rssMiB <= 1.5 ? "PASS" : "MISS"}`
  )
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  rmSync(dir, { recursive: true, force: true })
  process.exitCode = 1
})
