/**
 * The PostgreSQL store as layers: the pool opened on acquire and ended on release, the store's
 * services on it; and migrating as a step of its own before them, as on SQLite. The commit signal
 * reaches across processes (LISTEN/NOTIFY, PgCommitSignal).
 */
import { Context, Effect, Layer } from "effect"
import { ActivationStore } from "../Activations.js"
import { ClusterMembers } from "../ClusterMembers.js"
import { Erasures } from "../Erasures.js"
import { CommitSignal } from "../CommitSignal.js"
import { DataProtection } from "../DataProtection.js"
import { makePgDataProtection } from "./PgDataProtection.js"
import { makePgCommitSignal } from "./PgCommitSignal.js"
import { makePgErasures } from "./PgErasures.js"
import { MirrorStore } from "../Mirror.js"
import { OutboxStore } from "../Outbox.js"
import { Store } from "../Store.js"
import type { StoreServices } from "../StoreServices.js"
import { PushInbox } from "../PushInbox.js"
import { ResyncReports } from "../ResyncReports.js"
import { SourceCursors } from "../SourceCursors.js"
import { WorkQueue } from "../WorkQueue.js"
import type { StoreOpenError } from "../StoreOpenError.js"
import { migratePg, PgPool, type PgOptions, redactPgUrl } from "./PgOpen.js"
import { makePgClusterMembers } from "./PgClusterMembers.js"
import { makePgPushInbox } from "./PgPushInbox.js"
import { makePgResyncReports } from "./PgResyncReports.js"
import { makePgSourceCursors } from "./PgSourceCursors.js"
import { makePgWorkQueue } from "./PgWorkQueue.js"
import { makePgActivations, makePgOutbox } from "./PgDownstream.js"
import { makePgMirror } from "./PgMirror.js"
import { makePgStore } from "./PgStore.js"

/** The store's services on a migrated PostgreSQL database (else it fails, saying so). */
export const PgStoreLive = (options: PgOptions): Layer.Layer<StoreServices, StoreOpenError> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const pool = yield* PgPool
      const signal = yield* makePgCommitSignal(options)
      return Context.make(Store, makePgStore(pool, signal)).pipe(
        Context.add(ActivationStore, makePgActivations(pool, signal)),
        Context.add(OutboxStore, makePgOutbox(pool)),
        Context.add(CommitSignal, signal),
        Context.add(MirrorStore, makePgMirror(pool, signal)),
        Context.add(SourceCursors, makePgSourceCursors(pool)),
        Context.add(PushInbox, makePgPushInbox(pool)),
        Context.add(ResyncReports, makePgResyncReports(pool)),
        Context.add(WorkQueue, makePgWorkQueue(pool)),
        Context.add(Erasures, makePgErasures(pool, signal)),
        Context.add(ClusterMembers, makePgClusterMembers(pool)),
        Context.add(DataProtection, makePgDataProtection(pool))
      )
    })
  ).pipe(Layer.provide(PgPool.layer(options)))

/** The migration step as a layer to build before the store's: it logs what it applied, if anything. */
export const PgMigrationsLive = (options: Pick<PgOptions, "url">): Layer.Layer<never, StoreOpenError> =>
  Layer.effectDiscard(
    Effect.tap(migratePg(options.url), (applied) =>
      applied.length === 0 ? Effect.void : Effect.logInfo(`store ${redactPgUrl(options.url)} migrated: applied ${applied.join(", ")}`)
    )
  )

/** What the engine will open: the store after its migration step. */
export const MigratedPgStoreLive = (options: PgOptions): Layer.Layer<StoreServices, StoreOpenError> =>
  PgStoreLive(options).pipe(Layer.provide(PgMigrationsLive(options)))
