/**
 * The composition root: configuration source, logging, the store chosen by
 * `store.url`, and the engine's layers (what `skygge run` and `skygge demo` launch).
 */
import { ConfigError, Effect, Layer, Logger, Option } from "effect"
import { Metrics } from "./api/Metrics.js"
import { Leadership } from "./cluster/Leadership.js"
import { ClusterMemberLive } from "./cluster/Member.js"
import { Membership } from "./cluster/Membership.js"
import { ServerLive } from "./api/Server.js"
import { OutboxLive } from "./outbox/OutboxLive.js"
import { RetentionLive } from "./retention/RetentionLive.js"
import { RetentionMirrorLive } from "./retention/RetentionMirror.js"
import { ActivationSchedulerLive } from "./schedule/ActivationScheduler.js"
import { DafSourcesLive } from "./sources/datafordeler/DafSourceLive.js"
import { IntarkSourcesLive } from "./sources/intark/IntarkSourceLive.js"
import { ConfigFileError, configProvider, ConfigSources, configSources, LogConfig, parseStoreUrl, StoreConfig } from "./config/Config.js"
import type { StoreServices } from "./store/StoreServices.js"
import type { StoreOpenError } from "./store/StoreOpenError.js"
import { holdSqliteEngineLock } from "./store/sqlite/SqliteEngineLock.js"
import { MigratedSqliteStoreLive, migrateSqliteStore, SqliteStoreLive } from "./store/sqlite/SqliteStoreLive.js"
import { migratePg, pgConnectionUrl, pgPoolWatcher } from "./store/pg/PgOpen.js"
import { MigratedPgStoreLive, PgStoreLive } from "./store/pg/PgStoreLive.js"

/** The store `store.*` names: SQLite's options, or PostgreSQL's (SQLite's own keys are ignored there, as `poolSize`, `password` and `sslCa` are on SQLite). */
const storeOptionsFromConfig = Effect.gen(function* () {
  const cfg = yield* StoreConfig
  const url = yield* parseStoreUrl(cfg.url)
  return url.dialect === "sqlite"
    ? { dialect: url.dialect, options: { filename: url.filename, synchronous: cfg.synchronous, cacheMiB: cfg.cacheMiB, mmapMiB: cfg.mmapMiB } }
    : {
      dialect: url.dialect,
      options: { url: url.url, poolSize: cfg.poolSize, password: Option.getOrUndefined(cfg.password), sslCa: Option.getOrUndefined(cfg.sslCa) }
    }
})

/** The store named by `store.url`, all its services; migrated first for what writes, read-only (never migrated) for what only reads. */
const storeFromConfig = (readOnly: boolean): Layer.Layer<StoreServices, ConfigError.ConfigError | ConfigFileError | StoreOpenError> =>
  Layer.unwrapEffect(
    Effect.map(storeOptionsFromConfig, (store): Layer.Layer<StoreServices, StoreOpenError> => {
      if (store.dialect === "sqlite") return readOnly ? SqliteStoreLive({ ...store.options, readOnly }) : MigratedSqliteStoreLive(store.options)
      // The password and the CA folded into the URL, which is all the migration step takes; the pool's
      // counts for /metrics (StorePool, read optionally by the API) beside the store.
      const pool = pgPoolWatcher()
      const options = { url: pgConnectionUrl(store.options), poolSize: store.options.poolSize, onPoolOpen: pool.watch }
      // PostgreSQL has no read-only mode of its own: reading commands open the store without migrating it.
      return Layer.merge(readOnly ? PgStoreLive(options) : MigratedPgStoreLive(options), pool.layer)
    })
  )

/** The migration step alone (`skygge migrate`), on the store named by `store.url`: the migrations applied, none when it is up to date. */
export const migrateStoreFromConfig = Effect.flatMap(storeOptionsFromConfig, (store) =>
  store.dialect === "sqlite" ? migrateSqliteStore(store.options) : migratePg(store.options))

/** The store opened for writing: created if need be, after the migration step (which logs what it applied). */
export const StoreFromConfig = storeFromConfig(false)

/** The store opened for reading only: it must exist; nothing is migrated or written, so a read-only copy will do. */
export const ReadStoreFromConfig = storeFromConfig(true)

/** What every running engine serves: the API with its metrics, and the activation scheduler (a singleton). */
const CoreLive = Layer.mergeAll(ServerLive.pipe(Layer.provide(Metrics.layer)), ActivationSchedulerLive)

/**
 * Who runs the singletons (the scheduler, publishers, polled paths, schedules): on PostgreSQL one process of
 * the cluster at a time, under advisory locks (refusing a server whose locks are not real); on SQLite this
 * one engine, the only one on its file.
 */
const LeadershipFromConfig = Layer.unwrapEffect(
  Effect.map(storeOptionsFromConfig, (store) => (store.dialect === "sqlite" ? Leadership.layerSingle : Leadership.layerPg({ url: pgConnectionUrl(store.options) })))
).pipe(Layer.provide(ClusterMemberLive))

/** One engine per SQLite file (several engines need PostgreSQL): held before the store opens, for as long as the engine runs. */
const EngineLockFromConfig = Layer.scopedDiscard(
  Effect.flatMap(storeOptionsFromConfig, (store) => (store.dialect === "sqlite" ? holdSqliteEngineLock(store.options.filename) : Effect.void))
)

/** This engine as a member of the cluster on its store; on SQLite it is the only engine (the lock), so earlier runs' members are gone. */
const MembershipFromConfig = Layer.unwrapEffect(Effect.map(storeOptionsFromConfig, (store) => Membership.layer({ alone: store.dialect === "sqlite" })))

/** The engine of `skygge run`: API, activations, outbox publishers and every configured source, on the configured store. */
export const EngineLive = Layer.mergeAll(CoreLive, OutboxLive, RetentionLive, IntarkSourcesLive, DafSourcesLive.pipe(Layer.provide(RetentionMirrorLive))).pipe(
  Layer.provide(MembershipFromConfig),
  // The store first (its errors are the ones to show), then the leadership connection beside it.
  Layer.provide(LeadershipFromConfig.pipe(Layer.provideMerge(StoreFromConfig.pipe(Layer.provide(EngineLockFromConfig)))))
)

/** An engine with other workers than the configured sources (the demo's simulated register), on a store of its own. */
export const engineWith = <E, R, E2, R2>(workers: Layer.Layer<never, E, R>, store: Layer.Layer<StoreServices, E2, R2>) =>
  Layer.mergeAll(CoreLive, workers).pipe(Layer.provide(Layer.merge(store, Leadership.layerSingle.pipe(Layer.provide(ClusterMemberLive)))))

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
