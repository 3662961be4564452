/**
 * What every command runs with: the configuration source, logging, and the store `store.url` names.
 * Apart from the engine's layers (Engine.ts), which only `skygge run` and `skygge demo` load: a command
 * that only asks the store evaluates none of the API, sources or publishers at start-up. PostgreSQL's
 * modules (pg, its drizzle driver) are loaded only for a `postgres://` store, for the same reason.
 */
import { ConfigError, Effect, Layer, Logger, Option } from "effect"
import { ConfigFileError, configProvider, ConfigSources, configSources, LogConfig, parseStoreUrl, StoreConfig } from "./config/Config.js"
import type { StoreServices } from "./store/StoreServices.js"
import type { StoreOpenError } from "./store/StoreOpenError.js"
import { MigratedSqliteStoreLive, migrateSqliteStore, SqliteStoreLive } from "./store/sqlite/SqliteStoreLive.js"

/**
 * WAL pages between a bulk import's checkpoints on SQLite (64 MiB rather than SQLite's 4): fewer syncs, and pages
 * written again between two checkpoints copied once (measured on an import of 200,000 re-registrations: its commits'
 * time 4.8–5.1 → 3.6–3.7 s, the whole import 4–14 % faster). The WAL is folded in and removed when the command closes the store.
 */
export const BULK_WAL_CHECKPOINT_PAGES = 16_384

/** The store `store.*` names: SQLite's options, or PostgreSQL's (SQLite's own keys are ignored there, as `poolSize`, `password` and `sslCa` are on SQLite). */
export const storeOptionsFromConfig = Effect.gen(function* () {
  const cfg = yield* StoreConfig
  const url = yield* parseStoreUrl(cfg.url)
  return url.dialect === "sqlite"
    ? { dialect: url.dialect, options: { filename: url.filename, synchronous: cfg.synchronous, cacheMiB: cfg.cacheMiB, mmapMiB: cfg.mmapMiB, busyTimeoutSeconds: cfg.busyTimeoutSeconds } }
    : {
      dialect: url.dialect,
      options: { url: url.url, poolSize: cfg.poolSize, password: Option.getOrUndefined(cfg.password), sslCa: Option.getOrUndefined(cfg.sslCa) }
    }
})

const loadPgOpen = Effect.promise(() => import("./store/pg/PgOpen.js"))
const loadPgStore = Effect.promise(() => import("./store/pg/PgStoreLive.js"))

/** The store named by `store.url`, all its services; migrated first for what writes, read-only (never migrated) for what only reads. */
const storeFromConfig = (readOnly: boolean, bulk = false): Layer.Layer<StoreServices, ConfigError.ConfigError | ConfigFileError | StoreOpenError> =>
  Layer.unwrapEffect(
    Effect.flatMap(storeOptionsFromConfig, (store): Effect.Effect<Layer.Layer<StoreServices, StoreOpenError>> => {
      if (store.dialect === "sqlite") {
        if (readOnly) return Effect.succeed(SqliteStoreLive({ ...store.options, readOnly }))
        return Effect.succeed(MigratedSqliteStoreLive(bulk ? { ...store.options, walCheckpointPages: BULK_WAL_CHECKPOINT_PAGES } : store.options))
      }
      return Effect.map(Effect.zip(loadPgOpen, loadPgStore), ([{ pgConnectionUrl, pgPoolWatcher }, { MigratedPgStoreLive, PgStoreLive }]) => {
        // The password and the CA folded into the URL, which is all the migration step takes; the pool's
        // counts for /metrics (StorePool, read optionally by the API) beside the store.
        const pool = pgPoolWatcher()
        const options = { url: pgConnectionUrl(store.options), poolSize: store.options.poolSize, onPoolOpen: pool.watch }
        // PostgreSQL has no read-only mode of its own: reading commands open the store without migrating it.
        return Layer.merge(readOnly ? PgStoreLive(options) : MigratedPgStoreLive(options), pool.layer)
      })
    })
  )

/** The migration step alone (`skygge migrate`), on the store named by `store.url`: the migrations applied, none when it is up to date. */
export const migrateStoreFromConfig = Effect.flatMap(storeOptionsFromConfig, (store) =>
  store.dialect === "sqlite" ? migrateSqliteStore(store.options) : Effect.flatMap(loadPgOpen, ({ migratePg }) => migratePg(store.options)))

/** The store opened for writing: created if need be, after the migration step (which logs what it applied). */
export const StoreFromConfig = storeFromConfig(false)

/** The store opened for writing in bulk (`skygge import`): as StoreFromConfig, with SQLite's WAL checkpointed less often. */
export const BulkStoreFromConfig = storeFromConfig(false, true)

/** The store opened for reading only: it must exist; nothing is migrated or written, so a read-only copy will do. */
export const ReadStoreFromConfig = storeFromConfig(true)

/** Logs go to stderr (stdout is for answers), as text or JSON lines, at the configured level. */
export const LoggingFromConfig = Layer.unwrapEffect(
  Effect.map(LogConfig, (cfg) =>
    Layer.merge(
      Logger.replace(Logger.defaultLogger, Logger.withConsoleError(cfg.format === "json" ? Logger.jsonLogger : Logger.logfmtLogger)),
      Logger.minimumLogLevel(cfg.level)
    )
  )
)

/**
 * Run `effect` with configuration from `file` (else SKYGGE_CONFIG, else the
 * embedded default) under environment overrides.
 */
export const withConfig = <A, E, R>(file: string | undefined, effect: Effect.Effect<A, E, R>) =>
  Effect.try({
    try: () => {
      const chosen = file ?? nonEmpty(process.env.SKYGGE_CONFIG)
      return { provider: configProvider(chosen), sources: configSources(chosen) }
    },
    catch: (e) => (e instanceof ConfigFileError ? e : new ConfigFileError(String(e)))
  }).pipe(
    Effect.flatMap(({ provider, sources }) =>
      effect.pipe(Effect.provide(LoggingFromConfig), Effect.provideService(ConfigSources, sources), Effect.withConfigProvider(provider))
    )
  )

const nonEmpty = (s: string | undefined) => (s === undefined || s.length === 0 ? undefined : s)

/** A one-line message for an error that stops a command. */
export const describeError = (e: unknown): string => {
  if (e instanceof ConfigFileError) return e.message
  if (ConfigError.isConfigError(e)) return `configuration: ${String(e)}`
  if (typeof e === "object" && e !== null) {
    const { message, cause, _tag } = e as { message?: unknown; cause?: unknown; _tag?: unknown }
    if (typeof message === "string" && message.length > 0) return message
    // Platform errors (e.g. a server that cannot listen) carry their reason in `cause`.
    if (cause !== undefined) return `${typeof _tag === "string" ? `${_tag}: ` : ""}${describeError(cause)}`
    if (typeof _tag === "string") return _tag
  }
  return String(e)
}
