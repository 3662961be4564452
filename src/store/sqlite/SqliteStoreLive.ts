/**
 * The SQLite store as layers: the database handle opened on acquire and closed on release, the
 * store's services on it; and migrating as a step of its own before them (the engine and the
 * writing commands run it, `skygge migrate` runs it alone, reading never does).
 */
import type Database from "better-sqlite3"
import { Context, Effect, Layer } from "effect"
import { ActivationStore } from "../Activations.js"
import { ClusterMembers } from "../ClusterMembers.js"
import { Erasures } from "../Erasures.js"
import { makeSqliteErasures } from "./SqliteErasures.js"
import { MirrorStore } from "../Mirror.js"
import { CommitSignal, type CommitSignalShape, makeCommitSignal } from "../CommitSignal.js"
import { DataProtection } from "../DataProtection.js"
import { makeSqliteDataProtection } from "./SqliteDataProtection.js"
import { OutboxStore } from "../Outbox.js"
import { PushInbox } from "../PushInbox.js"
import { ResyncReports } from "../ResyncReports.js"
import { SourceCursors } from "../SourceCursors.js"
import { Store } from "../Store.js"
import type { StoreServices } from "../StoreServices.js"
import { WorkQueue } from "../WorkQueue.js"
import { makeSqliteClusterMembers } from "./SqliteClusterMembers.js"
import { makeSqliteActivations, makeSqliteOutbox } from "./SqliteDownstream.js"
import { makeSqliteMirror } from "./SqliteMirror.js"
import { migrateSqliteFile, openSqlite, type SqliteOptions, StoreOpenError } from "./SqliteOpen.js"
import { makeSqlitePushInbox } from "./SqlitePushInbox.js"
import { makeSqliteResyncReports } from "./SqliteResyncReports.js"
import { makeSqliteSourceCursors } from "./SqliteSourceCursors.js"
import { makeSqliteStore } from "./SqliteStore.js"
import { makeSqliteWorkQueue } from "./SqliteWorkQueue.js"

const storeOpenError = (filename: string) => (e: unknown) =>
  e instanceof StoreOpenError ? e : new StoreOpenError({ message: `cannot open store ${filename}: ${String(e)}` })

/** The store's services on an open database (their statements are prepared on first use: FirstUse.ts). */
export const sqliteServices = (db: Database.Database, signal: CommitSignalShape): Context.Context<StoreServices> =>
  Context.make(Store, makeSqliteStore(db, signal)).pipe(
    Context.add(ActivationStore, makeSqliteActivations(db, signal)),
    Context.add(OutboxStore, makeSqliteOutbox(db)),
    Context.add(CommitSignal, signal),
    Context.add(WorkQueue, makeSqliteWorkQueue(db)),
    Context.add(ResyncReports, makeSqliteResyncReports(db)),
    Context.add(MirrorStore, makeSqliteMirror(db, signal)),
    Context.add(SourceCursors, makeSqliteSourceCursors(db)),
    Context.add(PushInbox, makeSqlitePushInbox(db)),
    Context.add(Erasures, makeSqliteErasures(db, signal)),
    Context.add(ClusterMembers, makeSqliteClusterMembers(db)),
    Context.add(DataProtection, makeSqliteDataProtection(db))
  )

/** The store's services on a SQLite file that is migrated already (else it fails, saying so). */
export const SqliteStoreLive = (options: SqliteOptions): Layer.Layer<StoreServices, StoreOpenError> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const db = yield* Effect.acquireRelease(Effect.try({ try: () => openSqlite(options), catch: storeOpenError(options.filename) }), (db) => Effect.sync(() => db.close()))
      return sqliteServices(db, yield* makeCommitSignal)
    })
  )

/** Apply the migrations the SQLite store lacks (creating the file if need be): their tags, oldest first; none when up to date. */
export const migrateSqliteStore = (options: Pick<SqliteOptions, "filename">): Effect.Effect<ReadonlyArray<string>, StoreOpenError> =>
  Effect.try({ try: () => migrateSqliteFile(options), catch: storeOpenError(options.filename) })

/** The migration step as a layer to build before the store's: it logs what it applied, if anything. */
export const SqliteMigrationsLive = (options: Pick<SqliteOptions, "filename">): Layer.Layer<never, StoreOpenError> =>
  Layer.effectDiscard(
    Effect.tap(migrateSqliteStore(options), (applied) =>
      applied.length === 0 ? Effect.void : Effect.logInfo(`store ${options.filename} migrated: applied ${applied.join(", ")}`)
    )
  )

/** What the engine and the writing commands open: the store after its migration step. */
export const MigratedSqliteStoreLive = (options: SqliteOptions): Layer.Layer<StoreServices, StoreOpenError> =>
  SqliteStoreLive(options).pipe(Layer.provide(SqliteMigrationsLive(options)))
