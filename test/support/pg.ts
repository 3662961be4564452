/**
 * PostgreSQL for tests: the real server on 127.0.0.1:5432 (trust auth, user postgres), which runs on
 * every machine of this project and in CI. Each test file gets databases of its own, named uniquely
 * and dropped after it; a test fails — never skips — when the server is down, saying how to start it.
 */
import { randomBytes } from "node:crypto"
import pg from "pg"
import { afterAll } from "vitest"

export const pgServer = process.env.SKYGGE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432"

const startHint = "start PostgreSQL with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

/** Run `work` on a connection to the server's `postgres` database (creating and dropping databases). */
const onAdmin = async <A>(work: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: `${pgServer}/postgres` })
  client.on("error", () => {})
  try {
    await client.connect()
  } catch (e) {
    throw new Error(`PostgreSQL is not reachable at ${pgServer} (${e instanceof Error ? e.message : String(e)}): ${startHint}`)
  }
  try {
    return await work(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Databases for one test file: `create()` makes an empty one (or a copy of `template`, which must
 * have no open connection) and returns its URL; all are dropped after the file's tests.
 */
export const pgTestDatabases = () => {
  const prefix = `skygge_test_${process.pid}_${randomBytes(4).toString("hex")}`
  const created: Array<string> = []
  afterAll(async () => {
    if (created.length === 0) return // nothing to drop (and a server that is down is reported once, by create)
    // Four connections drop at once (a property test leaves dozens; one by one takes seconds).
    const names = [...created]
    await Promise.all(Array.from({ length: Math.min(4, names.length) }, () =>
      onAdmin(async (client) => {
        for (let name = names.pop(); name !== undefined; name = names.pop()) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      })))
    // A drop waits for a checkpoint the server forces, and one that must sync a busy disk's tens of
    // thousands of files has taken 70–100 s (seen while benchmarks wrote beside a test run).
  }, 300_000)
  let named = 0
  return {
    create: (template?: string): Promise<string> => {
      // Named before connecting: creates run side by side took the same name (the second refused by the server).
      const name = `${prefix}_${named++}`
      return onAdmin(async (client) => {
        await client.query(`CREATE DATABASE "${name}"${template === undefined ? "" : ` TEMPLATE "${databaseOf(template)}"`}`)
        created.push(name)
        return `${pgServer}/${name}`
      })
    }
  }
}

const databaseOf = (url: string) => new URL(url).pathname.slice(1)
