/**
 * `store.url` and the PostgreSQL store keys as the engine reads them: which URLs name which store, and
 * that a message about one never shows its password — not even for a URL that does not parse.
 */
import { Effect, Either, Option, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { configProvider, parseStoreUrl, showStoreUrl, StoreConfig } from "../../src/config/Config.js"
import { redactPgUrl } from "../../src/store/pg/PgOpen.js"

const parse = (url: string) => Effect.runSync(Effect.either(parseStoreUrl(url)))
const refusal = (url: string) => {
  const result = parse(url)
  if (Either.isRight(result)) throw new Error(`${url} was accepted`)
  return result.left.message
}
const storeConfig = (env: NodeJS.ProcessEnv) => Effect.runSync(Effect.either(Effect.withConfigProvider(StoreConfig, configProvider(undefined, env))))

describe("store.url", () => {
  it("names SQLite or PostgreSQL", () => {
    expect(parse("sqlite:./data/skygge.db")).toEqual(Either.right({ dialect: "sqlite", filename: "./data/skygge.db" }))
    for (const url of ["postgres://skygge@db:5432/skygge?sslmode=verify-full", "postgresql://u:p@h/db", "postgres:///db?host=/var/run/postgresql"]) {
      expect(parse(url)).toEqual(Either.right({ dialect: "postgres", url }))
    }
  })

  it("refuses what it cannot use, never showing the password", () => {
    const secret = "s3c@r/et"
    expect(refusal(`postgres://u:${secret}@h:99999/db`)).toBe(
      "store.url 'postgres://***@h:99999/db' has an @ after its host: percent-encode a password's / @ : ? # (or give it in SKYGGE_STORE_PASSWORD)"
    )
    expect(refusal("postgres://u:s3c@ret@h:99999/db")).toBe("store.url 'postgres://***@h:99999/db' is not a valid URL: expected postgres://user@host:5432/database")
    expect(refusal("postgres://u:pw@h")).toBe("store.url 'postgres://***@h' must name a host and a database: postgres://user@host:5432/database")
    expect(refusal("mysql://u:pw@h/db")).toBe("store.url 'mysql://***@h/db' is not understood: expected sqlite:PATH or postgres://user@host:5432/database")
    expect(showStoreUrl("postgres://u:pw@h/db")).toBe("postgres://u:***@h/db")
    expect(showStoreUrl(`postgres://u:${secret}@h:99999/db`)).toBe("postgres://***@h:99999/db")
    expect(redactPgUrl(`postgres://u:${secret}@h:99999/db`)).toBe("postgres://***@h:99999/db")
    expect(redactPgUrl("postgres://u:pw@h/db")).toBe("postgres://u:***@h/db")
    expect(showStoreUrl("sqlite:./data/skygge.db")).toBe("sqlite:./data/skygge.db")
  })

  it("reads poolSize, the password (SKYGGE_STORE_PASSWORD, a secret; empty is none) and sslCa", () => {
    const defaults = storeConfig({})
    expect(Either.map(defaults, (c) => [c.poolSize, c.password, c.sslCa])).toEqual(Either.right([10, Option.none(), Option.none()]))
    const set = Either.getOrThrow(storeConfig({ SKYGGE_STORE_POOL_SIZE: "3", SKYGGE_STORE_PASSWORD: "from-env", SKYGGE_STORE_SSL_CA: "/etc/ca.pem" }))
    expect([set.poolSize, Option.map(set.password, Redacted.value), set.sslCa]).toEqual([3, Option.some("from-env"), Option.some("/etc/ca.pem")])
    expect(String(set.password)).not.toContain("from-env")
    expect(Either.isLeft(storeConfig({ SKYGGE_STORE_POOL_SIZE: "0" }))).toBe(true)
    expect(Either.isLeft(storeConfig({ SKYGGE_STORE_POOL_SIZE: "1001" }))).toBe(true)
  })
})
