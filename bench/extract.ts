/**
 * Full loads from files (`npm run bench:extract`), each in a child process, for
 * N and N/10 records, printing records/s and peak RSS side by side — a load must
 * run in constant memory, so the large file's peak is printed as a ratio to the
 * small one's:
 *   - `skygge import-extract` of a CSV dump of current state;
 *   - `skygge import-extract --mirror` of a Datafordeler-style zip of bitemporal rows
 *     (`{"AdresseList": [...]}`, half the objects with a closed and a current row).
 * SKYGGE_BENCH_EXTRACT_N sets N (default 1,000,000). Writing the zip needs python3.
 */
import { execFileSync, spawn } from "node:child_process"
import { once } from "node:events"
import { createWriteStream, mkdirSync, rmSync, statSync } from "node:fs"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { fmt, PEAK_RSS_HOOK, peakRssMiB } from "./support.js"

const N = Number(process.env.SKYGGE_BENCH_EXTRACT_N ?? 1_000_000)
const dir = resolve(".bench", `extract-${process.pid}`)
const root = resolve(import.meta.dirname, "..")

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

/** A zip of one JSON document of N Datafordeler-named rows, written by Python's zipfile as a stream. */
const writeZip = (path: string, rows: number) => {
  const script = `
import sys, zipfile
n = int(sys.argv[2])
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("DAR_Totaludtraek_1.json", "w", force_zip64=True) as f:
        f.write(b'{"AdresseList":[')
        for i in range(n):
            obj = i // 2
            if i % 2 == 0:
                row = '{"id_lokalId":"a-%d","registreringFra":"2019-01-01T00:00:00.000000+01:00","registreringTil":"2020-01-01T00:00:00.000000+01:00","virkningFra":"2019-01-01T00:00:00.000000+01:00","status":"3","adressebetegnelse":"Gammelvej %d, 1000 By"}' % (obj, obj)
            else:
                row = '{"id_lokalId":"a-%d","registreringFra":"2020-01-01T00:00:00.000000+01:00","virkningFra":"2019-01-01T00:00:00.000000+01:00","status":"3","adressebetegnelse":"Nyvej %d, 1000 By","datafordelerOpdateringstid":"2020-01-01T00:00:01.123456+01:00"}' % (obj, obj)
            f.write((row if i == 0 else "," + row).encode())
        f.write(b"]}")
`
  execFileSync("python3", ["-c", script, path, String(rows)])
}

const load = async (file: string, db: string, extra: ReadonlyArray<string> = ["--id-field", "ansattnummer"]) => {
  const start = performance.now()
  const child = spawn(
    process.execPath,
    ["--import", PEAK_RSS_HOOK, join(root, "bin/skygge.js"), "import-extract", file, "--type", extra.includes("--mirror") ? "dar" : "hr.ansatt", ...extra, "--json"],
    { cwd: dir, env: { ...process.env, SKYGGE_STORE_URL: `sqlite:${db}`, SKYGGE_STORE_SYNCHRONOUS: "NORMAL", SKYGGE_LOG_LEVEL: "Warn" }, stdio: ["ignore", "pipe", "pipe"] }
  )
  let stdout = "", stderr = ""
  child.stdout.on("data", (d) => (stdout += String(d)))
  child.stderr.on("data", (d) => (stderr += String(d)))
  const [code] = (await once(child, "exit")) as [number]
  const seconds = (performance.now() - start) / 1000
  const rss = peakRssMiB(stderr)
  if (code !== 0 || rss === undefined) throw new Error(`import-extract exited ${code}: ${stderr.slice(-2000)}`)
  const summary = JSON.parse(stdout) as { records?: number; applied?: number; rows?: number; inserted?: number }
  return { seconds, records: summary.records ?? summary.rows ?? 0, applied: summary.applied ?? summary.inserted ?? 0, rssMiB: rss }
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

  const smallZip = join(dir, "small.zip"), largeZip = join(dir, "large.zip")
  writeZip(smallZip, Math.ceil(N / 10))
  writeZip(largeZip, N)
  const c = await load(smallZip, join(dir, "small-mirror.db"), ["--mirror"])
  const d = await load(largeZip, join(dir, "large-mirror.db"), ["--mirror"])
  if (d.applied !== N) throw new Error(`expected ${N} rows inserted, got ${d.applied}`)
  console.log(`import-extract --mirror N/10 (zip ${fmt(statSync(smallZip).size / 1048576)} MiB)   ${fmt(c.records / c.seconds).padStart(8)} rows/s   peak RSS ${fmt(c.rssMiB)} MiB`)
  console.log(
    `import-extract --mirror N    (zip ${fmt(statSync(largeZip).size / 1048576)} MiB)   ${fmt(d.records / d.seconds).padStart(8)} rows/s   peak RSS ${fmt(d.rssMiB)} MiB   ` +
      `RSS ratio ${fmt(d.rssMiB / c.rssMiB, 2)}   target constant memory (≤ 1.5): ${d.rssMiB / c.rssMiB <= 1.5 ? "PASS" : "MISS"}`
  )
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  rmSync(dir, { recursive: true, force: true })
  process.exitCode = 1
})
