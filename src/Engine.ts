/**
 * The composition root of a running engine: its layers (what `skygge run` and `skygge demo` launch) on
 * the store `store.url` names (StoreFromConfig.ts). Loaded by those two commands only.
 */
import { Effect, Layer } from "effect"
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
import type { StoreServices } from "./store/StoreServices.js"
import { holdSqliteEngineLock } from "./store/sqlite/SqliteEngineLock.js"
import { pgConnectionUrl } from "./store/pg/PgOpen.js"
import { StoreFromConfig, storeOptionsFromConfig } from "./StoreFromConfig.js"

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
