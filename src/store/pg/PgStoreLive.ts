/**
 * The PostgreSQL store as layers, port by port as they are built: the pool opened on acquire and
 * ended on release, the services on it; and migrating as a step of its own before them, as on SQLite.
 * So far: SourceCursors, PushInbox, ResyncReports, WorkQueue. Not yet wired to `store.url` (the engine
 * opens SQLite only).
 */
import { Context, Effect, Layer } from "effect"
import { PushInbox } from "../PushInbox.js"
import { ResyncReports } from "../ResyncReports.js"
import { SourceCursors } from "../SourceCursors.js"
import { WorkQueue } from "../WorkQueue.js"
import type { StoreOpenError } from "../StoreOpenError.js"
import { migratePg, PgPool, type PgOptions, redactPgUrl } from "./PgOpen.js"
import { makePgPushInbox } from "./PgPushInbox.js"
import { makePgResyncReports } from "./PgResyncReports.js"
import { makePgSourceCursors } from "./PgSourceCursors.js"
import { makePgWorkQueue } from "./PgWorkQueue.js"

/** The ports built on PostgreSQL so far. */
export type PgStoreServices = SourceCursors | PushInbox | ResyncReports | WorkQueue

/** The store's services (those built so far) on a migrated PostgreSQL database (else it fails, saying so). */
export const PgStoreLive = (options: PgOptions): Layer.Layer<PgStoreServices, StoreOpenError> =>
  Layer.effectContext(
    Effect.map(PgPool, (pool) =>
      Context.make(SourceCursors, makePgSourceCursors(pool)).pipe(
        Context.add(PushInbox, makePgPushInbox(pool)),
        Context.add(ResyncReports, makePgResyncReports(pool)),
        Context.add(WorkQueue, makePgWorkQueue(pool))
      ))
  ).pipe(Layer.provide(PgPool.layer(options)))

/** The migration step as a layer to build before the store's: it logs what it applied, if anything. */
export const PgMigrationsLive = (options: Pick<PgOptions, "url">): Layer.Layer<never, StoreOpenError> =>
  Layer.effectDiscard(
    Effect.tap(migratePg(options.url), (applied) =>
      applied.length === 0 ? Effect.void : Effect.logInfo(`store ${redactPgUrl(options.url)} migrated: applied ${applied.join(", ")}`)
    )
  )

/** What the engine will open: the store after its migration step. */
export const MigratedPgStoreLive = (options: PgOptions): Layer.Layer<PgStoreServices, StoreOpenError> =>
  PgStoreLive(options).pipe(Layer.provide(PgMigrationsLive(options)))
