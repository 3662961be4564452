/**
 * A store on a real SQLite file in a temp folder for the tests of one `describe`:
 * opened before them, closed and removed after. Read `engine` and `dir` inside tests.
 */
export const tempStore = (prefix: string): { readonly engine: OpenStore; readonly dir: string } => {
  const state = {} as { engine: OpenStore; dir: string }
  beforeAll(() => {
    state.dir = mkdtempSync(join(tmpdir(), prefix))
    state.engine = openStore(join(state.dir, "skygge.db"))
  })
  afterAll(() => {
    state.engine.close()
    rmSync(state.dir, { recursive: true, force: true })
  })
  return state
}

/**
 * The store's services on a real SQLite file (migrated first) — or a PostgreSQL database (`openPgStore`) — built from the layer the engine uses
 * and released by `close`, so a test can close and reopen it (a restart). No database handle:
 * tests reach state through the services, or the test-support port for what no service gives.
 */
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import { ActivationStore, type ActivationStoreShape } from "../../src/store/Activations.js"
import { ClusterMembers, type ClusterMembersShape } from "../../src/store/ClusterMembers.js"
import { MirrorStore, type MirrorStoreShape } from "../../src/store/Mirror.js"
import { CommitSignal, type CommitSignalShape } from "../../src/store/CommitSignal.js"
import { OutboxStore, type OutboxStoreShape } from "../../src/store/Outbox.js"
import { PushInbox, type PushInboxShape } from "../../src/store/PushInbox.js"
import { ResyncReports, type ResyncReportsShape } from "../../src/store/ResyncReports.js"
import { Store, type StoreShape } from "../../src/store/Store.js"
import type { StoreServices } from "../../src/store/StoreServices.js"
import { MigratedSqliteStoreLive } from "../../src/store/sqlite/SqliteStoreLive.js"
import { WorkQueue, type WorkQueueShape } from "../../src/store/WorkQueue.js"
import { MigratedPgStoreLive } from "../../src/store/pg/PgStoreLive.js"
import { PgStoreTestSupport } from "./pgTestSupport.js"
import { SqliteStoreTestSupport } from "./sqliteTestSupport.js"
import { StoreTestSupport, type StoreTestSupportShape } from "./storeTestSupport.js"

export interface OpenStore {
  readonly store: StoreShape
  readonly activations: ActivationStoreShape
  readonly outbox: OutboxStoreShape
  readonly signal: CommitSignalShape
  readonly workQueue: WorkQueueShape
  readonly reports: ResyncReportsShape
  readonly mirror: MirrorStoreShape
  readonly inbox: PushInboxShape
  readonly members: ClusterMembersShape
  readonly context: Context.Context<StoreServices>
  /** What no service gives (an old cursor, the inbox's processed entries). */
  readonly support: StoreTestSupportShape
  /** Release the services (PostgreSQL's pool ends asynchronously: await it). */
  readonly close: () => void | Promise<void>
}

/** A migrated SQLite store for tests: not synced (a test needs no durability), quiet (the migration step's log line is for operators). */
export const sqliteTestStore = (filename: string): Layer.Layer<StoreServices, unknown> =>
  MigratedSqliteStoreLive({ filename, synchronous: "OFF" }).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))

/** That store with the test-support port beside it. */
const sqliteTestStoreWithSupport = (filename: string): Layer.Layer<StoreServices | StoreTestSupport, unknown> =>
  SqliteStoreTestSupport(filename).pipe(Layer.provideMerge(sqliteTestStore(filename)))

const handles = (context: Context.Context<StoreServices | StoreTestSupport>) => {
  const get = Context.get
  return {
    store: get(context, Store),
    activations: get(context, ActivationStore),
    outbox: get(context, OutboxStore),
    signal: get(context, CommitSignal),
    workQueue: get(context, WorkQueue),
    reports: get(context, ResyncReports),
    mirror: get(context, MirrorStore),
    inbox: get(context, PushInbox),
    members: get(context, ClusterMembers),
    context,
    support: get(context, StoreTestSupport)
  }
}

export const openStore = (filename: string): OpenStore => {
  const scope = Effect.runSync(Scope.make())
  const context = Effect.runSync(Layer.buildWithScope(sqliteTestStoreWithSupport(filename), scope))
  return { ...handles(context), close: () => Effect.runSync(Scope.close(scope, Exit.void)) }
}

/** The store's services on a PostgreSQL database (migrated first), as `openStore` gives them on SQLite. */
export const openPgStore = async (url: string): Promise<OpenStore> => {
  const scope = Effect.runSync(Scope.make())
  const layer = PgStoreTestSupport(url).pipe(Layer.provideMerge(MigratedPgStoreLive({ url, poolSize: 4 }).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))))
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  return { ...handles(context), close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}
