/**
 * A real `skygge run --config FILE` on one Datafordeler source `dar`, for the e2e tests: a fresh
 * directory with a SQLite store and the config file, the child's stderr, a path's cursor as
 * `GET /v1/sources` shows it, and one cleanup that stops the child and removes the directory.
 */
import { once } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "../../support/net.js"
import { startSkygge } from "../../support/process.js"

export interface SkyggeRun {
  readonly api: string
  /** Everything it wrote to stderr so far. */
  readonly stderr: () => string
  /** A path's cursor (`dar`: PULL, `dar:graphql`), undefined until the engine answers with one. */
  readonly cursor: (path: string) => Promise<string | undefined>
  /** Stop the child (SIGTERM) and remove its directory. */
  readonly close: () => Promise<void>
}

/** Start `skygge run` on source `dar` with `settings` (its paths and entities), logging at `level`. */
export const runSkygge = async (settings: Record<string, unknown>, level = "Warn"): Promise<SkyggeRun> => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-daf-"))
  const port = await freePort()
  const configFile = join(dir, "skygge.json")
  const config = { store: { url: `sqlite:${join(dir, "skygge.db")}`, synchronous: "NORMAL" }, api: { host: "127.0.0.1", port }, log: { level }, sources: [{ kind: "datafordeler", name: "dar", ...settings }] }
  writeFileSync(configFile, JSON.stringify(config))
  const stderr: Array<string> = []
  const child = startSkygge(configFile, { stderr })
  const api = `http://127.0.0.1:${port}`
  return {
    api,
    stderr: () => stderr.join(""),
    cursor: async (path) => {
      const res = await fetch(`${api}/v1/sources`).catch(() => undefined)
      if (res?.status !== 200) return undefined
      return ((await res.json()) as { cursors: Array<{ source: string; cursor: string }> }).cursors.find((c) => c.source === path)?.cursor
    },
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        await once(child, "exit")
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
