/** The real `skygge` command as a child process, the way scripts run it: exit code, stdout, stderr. */
import { spawn, type SpawnOptions } from "node:child_process"
import { fileURLToPath } from "node:url"

export const bin = fileURLToPath(new URL("../../bin/skygge.js", import.meta.url))

/**
 * The time budget of a test that starts several CLI processes: each compiles the sources at start (about 2 s of
 * CPU here, far more when the two cores are shared), so such a test is bound by start-up, not by what it checks.
 */
export const CLI_BUDGET_MS = 180_000
export const repo = fileURLToPath(new URL("../..", import.meta.url))

export interface Result {
  code: number | null
  stdout: string
  stderr: string
}

export const skygge = (args: ReadonlyArray<string>, env: Record<string, string> = {}, options: Pick<SpawnOptions, "cwd" | "uid" | "gid"> = {}): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, ...options })
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Run the commands `width` at a time (each start compiles the sources; the machine has few cores), answers in order. */
export const skyggeEach = async (runs: ReadonlyArray<() => Promise<Result>>, width = 4): Promise<Array<Result>> => {
  const results: Array<Result> = new Array(runs.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, runs.length) }, async () => {
      while (next < runs.length) {
        const i = next++
        results[i] = await runs[i]!()
      }
    })
  )
  return results
}
