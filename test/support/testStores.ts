/**
 * A store of either backend for an end-to-end test that runs `skygge run`: the `store` section of
 * its configuration file, and how the test opens the same store to read what the engine did.
 * Call `testStores()` at the top of a test file: the PostgreSQL databases it creates are dropped
 * after the file (and a test on PostgreSQL fails, saying how to start it, when the server is down).
 */
import { join } from "node:path"
import { openPgStore, openStore, type OpenStore } from "./engine.js"
import { pgTestDatabases } from "./pg.js"

export const TEST_BACKENDS = ["sqlite", "postgres"] as const
export type TestBackend = (typeof TEST_BACKENDS)[number]

export interface TestStore {
  /** The configuration file's `store` section. */
  readonly config: Record<string, unknown>
  /** The store opened (and migrated) for the test's own reads. */
  readonly open: () => Promise<OpenStore>
}

export const testStores = () => {
  const databases = pgTestDatabases()
  return async (backend: TestBackend, dir: string): Promise<TestStore> => {
    if (backend === "sqlite") {
      const file = join(dir, "skygge.db")
      return { config: { url: `sqlite:${file}`, synchronous: "NORMAL" }, open: () => Promise.resolve(openStore(file)) }
    }
    const url = await databases.create()
    return { config: { url, poolSize: 4 }, open: () => openPgStore(url) }
  }
}
