/**
 * `store.url: postgres://…` through the real command, on the real server (a fresh database each):
 * `skygge migrate` applies PostgreSQL's migrations once, two at once take turns under the advisory lock,
 * and what cannot be opened (host, database, CA file, a URL that does not parse) stops with one line
 * naming the store — never its password, from the URL or from SKYGGE_STORE_PASSWORD.
 */
import { Redacted } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { pgConnectionUrl } from "../../src/store/pg/PgOpen.js"
import { pgTestDatabases } from "../support/pg.js"
import { CLI_BUDGET_MS, repo, skygge, skyggeEach, type Result } from "./skygge.js"

const databases = pgTestDatabases()
const dir = mkdtempSync(join(tmpdir(), "skygge-cli-pg-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const secret = "Pw-Never-Shown-7f3a"
const envSecret = "Env-Pw-Never-Shown-91c2"
const journal = (JSON.parse(readFileSync(join(repo, "drizzle", "pg", "meta", "_journal.json"), "utf8")) as { entries: Array<{ tag: string }> }).entries

let files = 0
/** A configuration file holding `store`. */
const config = (store: Record<string, unknown>) => {
  const file = join(dir, `config-${files++}.json`)
  writeFileSync(file, JSON.stringify({ store }))
  return file
}

/** The URL with a password in it (trust auth takes any). */
const withPassword = (url: string, password = secret) => {
  const u = new URL(url)
  u.password = password
  return u.toString()
}
const redacted = (url: string) => {
  const u = new URL(url)
  u.password = "***"
  return u.toString()
}

const neverShows = (r: Result, ...secrets: ReadonlyArray<string>) => {
  for (const s of secrets) {
    expect(r.stdout).not.toContain(s)
    expect(r.stderr).not.toContain(s)
  }
}

const oneLine = (stderr: string) => {
  const lines = stderr.trim().split("\n")
  expect(lines, stderr).toHaveLength(1)
  return lines[0]!
}

describe("store.url: postgres:// through the CLI", () => {
  it("skygge migrate: a fresh database gets every migration, a second run is up to date; the password never shows", async () => {
    const url = withPassword(await databases.create())
    const file = config({ url })
    const first = await skygge(["migrate", "--config", file])
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" })
    expect(first.stdout.trim().split("\n")).toEqual(journal.map((e) => `applied ${e.tag}`))
    const again = await skygge(["migrate", "--config", file])
    expect({ code: again.code, stdout: again.stdout, stderr: again.stderr }).toEqual({ code: 0, stdout: "store is up to date\n", stderr: "" })
    neverShows(first, secret)
  }, CLI_BUDGET_MS)

  it("two skygge migrate started at once both succeed, each migration applied once (the advisory lock)", async () => {
    const file = config({ url: await databases.create() })
    const [a, b] = await Promise.all([skygge(["migrate", "--config", file]), skygge(["migrate", "--config", file])])
    for (const r of [a, b]) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" })
    const applied = [a, b].flatMap((r) => r.stdout.trim().split("\n")).filter((line) => line !== "store is up to date")
    expect(applied.sort()).toEqual(journal.map((e) => `applied ${e.tag}`).sort())
  }, CLI_BUDGET_MS)

  it("SKYGGE_STORE_PASSWORD is used when the URL has none, and is never shown, in success or failure", async () => {
    const url = await databases.create()
    const ok = await skygge(["migrate", "--config", config({ url })], { SKYGGE_STORE_PASSWORD: envSecret })
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: "" })
    neverShows(ok, envSecret)
    const refused = new URL(url)
    refused.port = "1"
    const down = await skygge(["migrate", "--config", config({ url: refused.toString() })], { SKYGGE_STORE_PASSWORD: envSecret })
    expect(down.code).toBe(1)
    expect(oneLine(down.stderr)).toMatch(new RegExp(`^skygge: cannot connect to store ${escape(refused.toString())}: .*ECONNREFUSED`))
    neverShows(down, envSecret)
  }, CLI_BUDGET_MS)

  it("a wrong port, a missing database, a missing CA file, a URL that does not parse, TLS the server lacks, reading an unmigrated database: one line naming the store, never the password", async () => {
    const url = await databases.create()
    const closedPort = new URL(withPassword(url))
    closedPort.port = "1"
    const noDatabase = new URL(withPassword(url))
    noDatabase.pathname = "/skygge_no_such_database"
    const tls = new URL(withPassword(url))
    tls.searchParams.set("sslmode", "verify-full")
    const [port, database, ca, unparsable, noTls, unmigrated] = await skyggeEach(
      [
        ["migrate", "--config", config({ url: closedPort.toString() })],
        ["migrate", "--config", config({ url: noDatabase.toString() })],
        ["migrate", "--config", config({ url: withPassword(url), sslCa: join(dir, "absent-ca.pem") })],
        ["migrate", "--config", config({ url: `postgres://postgres:${secret}@127.0.0.1:99999/x` })],
        // sslmode is honoured: the test server speaks no TLS, so a store that asks for it is refused.
        ["migrate", "--config", config({ url: tls.toString() })],
        // A reading command never migrates: on a database behind this skygge it says what to do.
        ["get", "vej", "x", "--config", config({ url: withPassword(url) })]
      ].map((args) => () => skygge(args)),
      3
    ) as [Result, Result, Result, Result, Result, Result]
    for (const r of [port, database, ca, unparsable, noTls, unmigrated]) {
      expect(r.code).toBe(1)
      expect(r.stdout).toBe("")
      neverShows(r, secret)
    }
    expect(oneLine(port.stderr)).toMatch(new RegExp(`^skygge: cannot connect to store ${escape(redacted(closedPort.toString()))}: .*ECONNREFUSED`))
    expect(oneLine(database.stderr)).toBe(`skygge: cannot connect to store ${redacted(noDatabase.toString())}: database "skygge_no_such_database" does not exist`)
    expect(oneLine(ca.stderr)).toBe(
      `skygge: cannot open store ${redacted(withPassword(url))}: cannot read its CA file ${join(dir, "absent-ca.pem")} (store.sslCa or sslrootcert): ENOENT`
    )
    expect(oneLine(noTls.stderr)).toBe(`skygge: cannot connect to store ${redacted(tls.toString())}: The server does not support SSL connections`)
    expect(oneLine(unmigrated.stderr)).toBe(
      `skygge: store ${redacted(withPassword(url))} has 0 of the ${journal.length} migrations this skygge needs: migrate it first (skygge migrate)`
    )
    expect(oneLine(unparsable.stderr)).toBe("skygge: store.url 'postgres://***@127.0.0.1:99999/x' is not a valid URL: expected postgres://user@host:5432/database")
  }, CLI_BUDGET_MS)

  it("the password and the CA reach node-postgres as libpq's URL keys; a password in the URL wins", () => {
    const parsed = (url: string) => (new pg.Client({ connectionString: url }) as unknown as { connectionParameters: { password: unknown; ssl: unknown } }).connectionParameters
    const awkward = "p%41@:/ x?#"
    const folded = pgConnectionUrl({ url: "postgres://u@h:5432/db?sslmode=verify-full", password: Redacted.make(awkward), sslCa: "/dev/null" })
    expect(parsed(folded).password).toBe(awkward)
    expect(parsed(folded).ssl).toEqual({ ca: "" })
    expect(pgConnectionUrl({ url: folded, password: Redacted.make(awkward), sslCa: "/dev/null" })).toBe(folded)
    expect(parsed(pgConnectionUrl({ url: "postgres://u:inurl@h/db", password: Redacted.make("other") })).password).toBe("inurl")
    expect(pgConnectionUrl({ url: "postgres://u@h/db" })).toBe("postgres://u@h/db")
  })
})

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
