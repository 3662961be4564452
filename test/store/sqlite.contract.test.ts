/**
 * The store contract on SQLite: every file of contract/ against the layer the engine uses,
 * each store a real file of its own in a temp folder (removed after). A fresh store is a copy of
 * one file migrated once (the property tests open a store per run, and migrating each would cost
 * more than the run); the migration step itself is tested through `skygge migrate` (test/cli).
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { migrateSqliteFile } from "../../src/store/sqlite/SqliteOpen.js"
import { SqliteStoreLive } from "../../src/store/sqlite/SqliteStoreLive.js"
import type { StoreBackend } from "./contract/backend.js"
import { activationsContract } from "./contract/activations.js"
import { erasuresContract } from "./contract/erasures.js"
import { clusterMembersContract } from "./contract/clusterMembers.js"
import { dataProtectionContract } from "./contract/dataProtection.js"
import { mirrorContract } from "./contract/mirror.js"
import { modelContract } from "./contract/model.js"
import { oracleContract } from "./contract/oracle.js"
import { outboxContract } from "./contract/outbox.js"
import { pushInboxContract } from "./contract/pushInbox.js"
import { resyncReportsContract } from "./contract/resyncReports.js"
import { sourceCursorsContract } from "./contract/sourceCursors.js"
import { workedExamplesContract } from "./contract/workedExamples.js"
import { workQueueContract } from "./contract/workQueue.js"

const root = mkdtempSync(join(tmpdir(), "skygge-contract-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const migrated = join(root, "migrated.db")
migrateSqliteFile({ filename: migrated })
let stores = 0

const fresh = () => {
  const filename = join(root, `store-${++stores}.db`)
  copyFileSync(migrated, filename)
  return filename
}

const sqlite: StoreBackend = { name: "sqlite", layer: () => SqliteStoreLive({ filename: fresh(), synchronous: "OFF" }), propertyShare: 1 }

modelContract(sqlite)
oracleContract(sqlite)
workedExamplesContract(sqlite)
mirrorContract(sqlite)
workQueueContract(sqlite)
clusterMembersContract(sqlite)
activationsContract(sqlite)
outboxContract(sqlite)
erasuresContract(sqlite)
pushInboxContract(sqlite)
dataProtectionContract(sqlite)
sourceCursorsContract(sqlite)
resyncReportsContract(sqlite)
