/**
 * Typed configuration. Values come from a JSON file (`--config FILE`,
 * `SKYGGE_CONFIG=FILE`, or the embedded `config/default.json`), and every key
 * can be overridden from the environment as `SKYGGE_<SECTION>_<KEY>`, e.g.
 * `SKYGGE_STORE_URL`, `SKYGGE_API_PORT`, `SKYGGE_API_MAX_BODY_BYTES`.
 */
import { Config, ConfigProvider, Context, Effect, LogLevel, Option, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { checkTimeZone } from "../domain/core/Instant.js"
import { inProject } from "../ProjectRoot.js"

export const defaultConfigFile = inProject("config", "default.json")

/** Every key the engine reads, by section: a key in a file that is not here is a mistake worth stopping for. */
export const KNOWN_KEYS: Readonly<Record<string, ReadonlyArray<string>>> = {
  store: ["url", "synchronous", "cacheMiB", "mmapMiB", "busyTimeoutSeconds", "poolSize", "password", "sslCa"],
  api: ["host", "port", "readTokens", "writeTokens", "eraseTokens", "maxBodyBytes", "maxLineBytes", "maxPageSize", "maxDepth"],
  ingest: ["batchSize", "timeZone"],
  log: ["level", "format"],
  cluster: ["memberName", "heartbeatSeconds", "memberTimeoutSeconds", "lockCheckSeconds", "lockTimeoutSeconds", "acquireSeconds"],
  activations: ["enabled", "lateAfterSeconds", "pollSeconds"],
  outbox: [
    "source", "prefix", "subjectBaseUrl", "retentionHours", "batchSize", "maxBackoffSeconds", "deliveryTimeoutSeconds",
    "amqpUrl", "amqpExchange", "amqpDeclareExchange", "webhookUrls", "webhookSecret"
  ],
  retention: ["closedDays", "refusedDays", "inboxDays", "cron"]
}

export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError"
}

/** Read and check a JSON configuration file. Throws ConfigFileError naming the file and the problem. */
export const readConfigFile = (file: string): Record<string, unknown> => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (e) {
    throw new ConfigFileError(`cannot read configuration file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new ConfigFileError(`configuration file ${file} is not valid JSON: ${(e as Error).message}`)
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ConfigFileError(`configuration file ${file} must hold a JSON object of sections`)
  }
  for (const [section, body] of Object.entries(json)) {
    if (section.startsWith("$") || section === "//") continue
    if (section === "sources") {
      // A list of source definitions, each checked by its own schema when the engine starts it.
      if (!Array.isArray(body)) throw new ConfigFileError(`configuration file ${file}: 'sources' must be a list`)
      body.forEach((entry, i) => {
        const kind = entry !== null && typeof entry === "object" ? (entry as { kind?: unknown }).kind : undefined
        if (kind !== "intark" && kind !== "datafordeler") {
          throw new ConfigFileError(`configuration file ${file}: sources[${i}] has kind ${JSON.stringify(kind)} (known: intark, datafordeler)`)
        }
      })
      continue
    }
    const keys = KNOWN_KEYS[section]
    if (keys === undefined) {
      throw new ConfigFileError(`configuration file ${file}: unknown section '${section}' (known: ${Object.keys(KNOWN_KEYS).join(", ")})`)
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new ConfigFileError(`configuration file ${file}: section '${section}' must be an object`)
    }
    for (const key of Object.keys(body)) {
      if (key !== "//" && !keys.includes(key)) {
        throw new ConfigFileError(`configuration file ${file}: unknown key '${section}.${key}' (known: ${keys.join(", ")})`)
      }
    }
  }
  return json as Record<string, unknown>
}

/** `maxBodyBytes` → `MAX_BODY_BYTES`. */
const constantCase = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()

/** The environment variable that overrides `section.key`. */
export const envName = (section: string, key: string) => `SKYGGE_${constantCase(section)}_${constantCase(key)}`

const LIST_KEYS = new Set(["api.readTokens", "api.writeTokens", "api.eraseTokens", "outbox.webhookUrls", "retention.closedDays"])

/**
 * The file's values with `SKYGGE_<SECTION>_<KEY>` variables laid over them.
 * Merged explicitly rather than chaining providers: a provider fallback would
 * silently skip an environment value that fails to parse and use the file's.
 */
export const mergeEnvironment = (json: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> => {
  const merged: Record<string, Record<string, unknown>> = {}
  for (const [section, body] of Object.entries(json)) {
    if (KNOWN_KEYS[section] !== undefined) merged[section] = { ...(body as Record<string, unknown>) }
  }
  for (const [section, keys] of Object.entries(KNOWN_KEYS)) {
    for (const key of keys) {
      const value = env[envName(section, key)]
      // An empty variable is unset (compose files and unit templates leave `VAR=` behind): it must never
      // turn a file's tokens into an empty list, which would open the API.
      if (value === undefined || value.trim().length === 0) continue
      merged[section] ??= {}
      merged[section][key] = LIST_KEYS.has(`${section}.${key}`) ? value.split(",").map((v) => v.trim()).filter((v) => v.length > 0) : value
    }
  }
  return merged
}

/** Configuration from `file` (default: the embedded config/default.json) under environment overrides. */
export const configProvider = (file: string | undefined, env: NodeJS.ProcessEnv = process.env): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromJson(mergeEnvironment(readConfigFile(file ?? defaultConfigFile), env))

/**
 * The `sources` list of the configuration file, undecoded: each source kind
 * decodes its own entries with its schema. (Lists of nested objects do not fit
 * the `SKYGGE_<SECTION>_<KEY>` scheme; secrets in them name environment variables.)
 */
export class ConfigSources extends Context.Tag("skygge/ConfigSources")<ConfigSources, ReadonlyArray<unknown>>() {}

export const configSources = (file: string | undefined): ReadonlyArray<unknown> => {
  const json = readConfigFile(file ?? defaultConfigFile)
  return Array.isArray(json.sources) ? json.sources : []
}

/**
 * A list of secrets at `name` — a JSON array in the file, comma-separated in the
 * environment — empty entries dropped, empty when absent. The name goes to
 * `Config.array` itself: `Config.array(Config.redacted(name))` looks for
 * `name` *inside* each element, finds nothing, and `withDefault` then quietly
 * turned every configured list into `[]` (tokens, webhook URLs).
 */
export const secretList = (name: string): Config.Config<ReadonlyArray<Redacted.Redacted>> =>
  Config.array(Config.redacted(), name).pipe(
    Config.map((list) => list.filter((entry) => Redacted.value(entry).length > 0)),
    Config.withDefault([] as ReadonlyArray<Redacted.Redacted>)
  )

export const StoreConfig = Config.all({
  url: Config.string("url").pipe(Config.withDefault("sqlite:./data/skygge.db")),
  synchronous: Config.literal("FULL", "NORMAL", "OFF")("synchronous").pipe(Config.withDefault("FULL" as const)),
  cacheMiB: Config.integer("cacheMiB").pipe(Config.withDefault(64), Config.validate({ message: "must be between 1 and 65536", validation: (n) => n >= 1 && n <= 65_536 })),
  mmapMiB: Config.integer("mmapMiB").pipe(Config.withDefault(0), Config.validate({ message: "must be between 0 and 1048576", validation: (n) => n >= 0 && n <= 1_048_576 })),
  /** SQLite: how long a statement waits for another process's write lock before it fails (SQLite waits in the engine's one thread). */
  busyTimeoutSeconds: Config.integer("busyTimeoutSeconds").pipe(Config.withDefault(10), Config.validate({ message: "must be between 0 and 600", validation: (n) => n >= 0 && n <= 600 })),
  /** PostgreSQL: connections in the pool. */
  poolSize: Config.integer("poolSize").pipe(Config.withDefault(10), Config.validate({ message: "must be between 1 and 1000", validation: (n) => n >= 1 && n <= 1000 })),
  /** PostgreSQL: the password when the URL has none (best from SKYGGE_STORE_PASSWORD); an empty one is none. */
  password: Config.option(Config.redacted("password")).pipe(Config.map(Option.filter((p) => Redacted.value(p).length > 0))),
  /** PostgreSQL: a PEM file of the CA(s) to verify the server's certificate with (TLS on). */
  sslCa: Config.option(Config.string("sslCa")).pipe(Config.map(Option.filter((path) => path.length > 0)))
}).pipe(Config.nested("store"))
export type StoreConfig = Config.Config.Success<typeof StoreConfig>

export const ApiConfig = Config.all({
  host: Config.string("host").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("port").pipe(Config.withDefault(8080)),
  /** Bearer tokens granting read access; entries may be `sha256:<hex>` of the token. */
  readTokens: secretList("readTokens"),
  /** Bearer tokens granting read and write access. */
  writeTokens: secretList("writeTokens"),
  /** Bearer tokens granting erasure (POST /v1/erasures) only: neither read nor write; a write token does not erase. */
  eraseTokens: secretList("eraseTokens"),
  maxBodyBytes: Config.integer("maxBodyBytes").pipe(Config.withDefault(64 * 1024 * 1024), Config.validate({ message: "must be positive", validation: (n) => n > 0 })),
  maxLineBytes: Config.integer("maxLineBytes").pipe(Config.withDefault(1024 * 1024), Config.validate({ message: "must be positive", validation: (n) => n > 0 })),
  maxDepth: Config.integer("maxDepth").pipe(Config.withDefault(64), Config.validate({ message: "must be between 1 and 10000", validation: (n) => n >= 1 && n <= 10_000 })),
  maxPageSize: Config.integer("maxPageSize").pipe(Config.withDefault(10_000), Config.validate({ message: "must be positive", validation: (n) => n > 0 }))
}).pipe(Config.nested("api"))
export type ApiConfig = Config.Config.Success<typeof ApiConfig>

export const IngestConfig = Config.all({
  batchSize: Config.integer("batchSize").pipe(Config.withDefault(2000), Config.validate({ message: "must be between 1 and 100000", validation: (n) => n >= 1 && n <= 100_000 })),
  /** Zone for timestamps that carry no offset. */
  timeZone: Config.string("timeZone").pipe(
    Config.withDefault("UTC"),
    Config.validate({
      message: "must be an IANA time zone such as UTC or Europe/Copenhagen",
      validation: (zone) => {
        try {
          checkTimeZone(zone)
          return true
        } catch {
          return false
        }
      }
    })
  )
}).pipe(Config.nested("ingest"))
export type IngestConfig = Config.Config.Success<typeof IngestConfig>

export const LogConfig = Config.all({
  level: Config.logLevel("level").pipe(Config.withDefault(LogLevel.Info)),
  format: Config.literal("text", "json")("format").pipe(Config.withDefault("text" as const))
}).pipe(Config.nested("log"))

/**
 * Several engines on one PostgreSQL (issue 15). Every process is a member that heartbeats; work it claimed
 * returns to the pool once its heartbeat is older than `memberTimeoutSeconds`. Singletons (the scheduler,
 * publishers, polled paths, schedules) are held by one member at a time under a session advisory lock, checked
 * every `lockCheckSeconds` (a check unanswered for `lockTimeoutSeconds` stops the singletons it leads) and tried
 * for every `acquireSeconds` by the others. On SQLite the one process is every singleton's holder.
 */
export const ClusterConfig = Config.all({
  /** How this process is named in /v1/cluster (default: host name and process id). */
  memberName: Config.option(Config.string("memberName")).pipe(Config.map(Option.filter((n) => n.length > 0))),
  heartbeatSeconds: Config.number("heartbeatSeconds").pipe(Config.withDefault(2), Config.validate({ message: "must be between 0.1 and 3600", validation: (n) => n >= 0.1 && n <= 3600 })),
  memberTimeoutSeconds: Config.number("memberTimeoutSeconds").pipe(Config.withDefault(15), Config.validate({ message: "must be between 1 and 86400", validation: (n) => n >= 1 && n <= 86_400 })),
  lockCheckSeconds: Config.number("lockCheckSeconds").pipe(Config.withDefault(2), Config.validate({ message: "must be between 0.1 and 3600", validation: (n) => n >= 0.1 && n <= 3600 })),
  lockTimeoutSeconds: Config.number("lockTimeoutSeconds").pipe(Config.withDefault(3), Config.validate({ message: "must be between 0.1 and 3600", validation: (n) => n >= 0.1 && n <= 3600 })),
  acquireSeconds: Config.number("acquireSeconds").pipe(Config.withDefault(1), Config.validate({ message: "must be between 0.1 and 3600", validation: (n) => n >= 0.1 && n <= 3600 }))
}).pipe(Config.nested("cluster"))
export type ClusterConfig = Config.Config.Success<typeof ClusterConfig>

/** The store `store.url` names. */
export type StoreUrl =
  | { readonly dialect: "sqlite"; readonly filename: string }
  | { readonly dialect: "postgres"; readonly url: string }

/** A store URL as it may be shown, even one that does not parse: no password (nor user). */
const redactStoreUrl = (url: string) => url.replace(/\/\/.*@/, "//***@") // to the last @: a password may hold one

/** `store.url` as logs and messages show it: a PostgreSQL URL's password as `***`. */
export const showStoreUrl = (url: string): string => {
  if (!url.startsWith("postgres://") && !url.startsWith("postgresql://")) return url
  try {
    const parsed = new URL(url)
    if (parsed.pathname.includes("@")) return redactStoreUrl(url) // a password's / read as the path's start
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return redactStoreUrl(url)
  }
}

/**
 * `sqlite:PATH` (relative to the working directory) or `sqlite::memory:`; or `postgres://` (or
 * `postgresql://`) `user[:password]@host[:port]/database[?sslmode=…]`, read by node-postgres.
 */
export const parseStoreUrl = (url: string): Effect.Effect<StoreUrl, ConfigFileError> => {
  if (url.startsWith("sqlite:")) {
    const filename = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "")
    if (filename.length === 0) return Effect.fail(new ConfigFileError("store.url 'sqlite:' needs a file path, e.g. sqlite:./data/skygge.db"))
    return Effect.succeed({ dialect: "sqlite", filename })
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return Effect.fail(new ConfigFileError(`store.url '${redactStoreUrl(url)}' is not a valid URL: expected postgres://user@host:5432/database`))
    }
    if (parsed.pathname.includes("@")) {
      // `postgres://u:pa/ss@host/db` parses, as host `pa` and database `ss@host/db`: a password written as it is.
      return Effect.fail(new ConfigFileError(`store.url '${redactStoreUrl(url)}' has an @ after its host: percent-encode a password's / @ : ? # (or give it in SKYGGE_STORE_PASSWORD)`))
    }
    if ((parsed.hostname === "" && !parsed.searchParams.has("host")) || parsed.pathname.length <= 1) {
      return Effect.fail(new ConfigFileError(`store.url '${redactStoreUrl(url)}' must name a host and a database: postgres://user@host:5432/database`))
    }
    return Effect.succeed({ dialect: "postgres", url })
  }
  return Effect.fail(new ConfigFileError(`store.url '${redactStoreUrl(url)}' is not understood: expected sqlite:PATH or postgres://user@host:5432/database`))
}
