/** A real `skygge run` as a child process, for tests that kill it hard and start it again. */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../../bin/skygge.js", import.meta.url))

/** Start `skygge run --config FILE`; an unexpected exit prints the end of its stderr. */
export const startSkygge = (configFile: string): ChildProcess => {
  const child = spawn(process.execPath, [bin, "run", "--config", configFile], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr!.on("data", (d) => (stderr = (stderr + String(d)).slice(-4000)))
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
