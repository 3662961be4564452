/** A real skygge API on 127.0.0.1:<ephemeral>, over a real SQLite file in a temp dir. */
import { HttpServer } from "@effect/platform"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Metrics } from "../../src/api/Metrics.js"
import { HttpAppLive, NodeServerLive } from "../../src/api/Server.js"
import { Store } from "../../src/store/Store.js"
import { MigratedSqliteStoreLive } from "../../src/store/sqlite/SqliteStoreLive.js"
import type { StoreServices } from "../../src/store/StoreServices.js"
import { configProvider } from "../../src/config/Config.js"

export interface TestServer {
  readonly baseUrl: string
  readonly store: Store["Type"]
  readonly dir: string
  /** Run an effect against the server's own services (to set up state a test needs). */
  readonly run: <A>(effect: Effect.Effect<A, unknown, StoreServices>) => Promise<A>
  readonly close: () => Promise<void>
}

/**
 * `config` is the file's sections (`{ api: { maxBodyBytes: 2000 } }`): written to a real file in the temp dir and
 * read by the reader `skygge run` uses, so a setting behaves here as it does in a user's file.
 */
export const startServer = async (config: Record<string, Record<string, unknown>> = {}): Promise<TestServer> => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-http-"))
  const configFile = join(dir, "skygge.json")
  writeFileSync(configFile, JSON.stringify(config))
  const storeLayer = MigratedSqliteStoreLive({ filename: join(dir, "skygge.db"), synchronous: "NORMAL" })
  const layer = HttpAppLive.pipe(
    Layer.provideMerge(NodeServerLive({ port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Metrics.layer),
    Layer.provideMerge(storeLayer),
    Layer.provide(Layer.setConfigProvider(configProvider(configFile, {})))
  )
  const runtime = ManagedRuntime.make(layer)
  const { address, store } = await runtime.runPromise(
    Effect.all({ address: Effect.map(HttpServer.HttpServer, (s) => s.address), store: Store })
  )
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    store,
    dir,
    run: (effect) => runtime.runPromise(effect),
    close: async () => {
      await runtime.dispose()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** NDJSON text of operations. */
export const ndjson = (ops: ReadonlyArray<unknown>) => ops.map((op) => JSON.stringify(op)).join("\n") + "\n"

export const postNdjson = (baseUrl: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${baseUrl}/v1/registrations`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", ...headers },
    body
  })

export const parseNdjson = (text: string): Array<Record<string, unknown>> =>
  text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
