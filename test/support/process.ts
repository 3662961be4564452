/** A real `skygge run` as a child process, for tests that kill it hard and start it again. */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../../bin/skygge.js", import.meta.url))

/**
 * Start `skygge run --config FILE` (without a file when `configFile` is undefined:
 * configuration from the environment alone); an unexpected exit prints the end of its stderr.
 * `env` is laid over this process's environment; `stderr` collects what it logs.
 */
export const startSkygge = (configFile: string | undefined, options: { readonly env?: NodeJS.ProcessEnv; readonly stderr?: Array<string> } = {}): ChildProcess => {
  const args = configFile === undefined ? [bin, "run"] : [bin, "run", "--config", configFile]
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...options.env } })
  let stderr = ""
  child.stderr!.on("data", (d) => {
    stderr = (stderr + String(d)).slice(-4000)
    options.stderr?.push(String(d))
  })
  child.on("exit", (code) => {
    if (code !== null && code !== 0) console.error(`skygge run exited ${code}: ${stderr}`)
  })
  return child
}

/** SIGKILL it if it still runs, and wait for the exit. */
export const killIfRunning = async (child: ChildProcess | undefined) => {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGKILL")
  await once(child, "exit")
}
