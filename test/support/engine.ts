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

/** The store's services on a real SQLite file, built by hand so a test can close and reopen it (a restart). */
import type Database from "better-sqlite3"
import { Context, Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import { ActivationStore, type ActivationStoreShape } from "../../src/store/Activations.js"
import { CommitSignal, type CommitSignalShape, OutboxStore, type OutboxStoreShape } from "../../src/store/Outbox.js"
import { Store, type StoreShape } from "../../src/store/Store.js"
import { makeCommitSignal, makeSqliteActivations, makeSqliteOutbox } from "../../src/store/sqlite/SqliteDownstream.js"
import { makeSqliteStore, openSqlite } from "../../src/store/sqlite/SqliteStore.js"
import { makeSqliteWorkQueue } from "../../src/store/sqlite/SqliteWorkQueue.js"
import { WorkQueue, type WorkQueueShape } from "../../src/store/WorkQueue.js"
import { ResyncReports, type ResyncReportsShape } from "../../src/store/ResyncReports.js"
import { makeSqliteResyncReports } from "../../src/store/sqlite/SqliteResyncReports.js"
import { MirrorStore, type MirrorStoreShape } from "../../src/store/Mirror.js"
import { makeSqliteMirror } from "../../src/store/sqlite/SqliteMirror.js"
import { SourceCursors } from "../../src/store/SourceCursors.js"
import { makeSqliteSourceCursors } from "../../src/store/sqlite/SqliteSourceCursors.js"
import { PushInbox, type PushInboxShape } from "../../src/store/PushInbox.js"
import { makeSqlitePushInbox } from "../../src/store/sqlite/SqlitePushInbox.js"

export interface OpenStore {
  readonly store: StoreShape
  readonly activations: ActivationStoreShape
  readonly outbox: OutboxStoreShape
  readonly signal: CommitSignalShape
  readonly workQueue: WorkQueueShape
  readonly reports: ResyncReportsShape
  readonly mirror: MirrorStoreShape
  readonly inbox: PushInboxShape
  readonly context: Context.Context<Store | ActivationStore | OutboxStore | CommitSignal | WorkQueue | ResyncReports | MirrorStore | SourceCursors | PushInbox>
  /** The SQLite handle itself, for tests that set up a state no API makes (an old cursor). */
  readonly db: Database.Database
  readonly close: () => void
}

export const openStore = (filename: string): OpenStore => {
  const db = openSqlite({ filename, synchronous: "OFF" })
  const signal = Effect.runSync(makeCommitSignal)
  const store = makeSqliteStore(db, signal)
  const activations = makeSqliteActivations(db, signal)
  const outbox = makeSqliteOutbox(db)
  const workQueue = makeSqliteWorkQueue(db)
  const reports = makeSqliteResyncReports(db)
  const mirror = makeSqliteMirror(db, signal)
  const inbox = makeSqlitePushInbox(db)
  const context = Context.make(Store, store).pipe(
    Context.add(ActivationStore, activations),
    Context.add(OutboxStore, outbox),
    Context.add(CommitSignal, signal),
    Context.add(WorkQueue, workQueue),
    Context.add(ResyncReports, reports),
    Context.add(MirrorStore, mirror),
    Context.add(SourceCursors, makeSqliteSourceCursors(db)),
    Context.add(PushInbox, inbox)
  )
  return { store, activations, outbox, signal, workQueue, reports, mirror, inbox, context, db, close: () => db.close() }
}
