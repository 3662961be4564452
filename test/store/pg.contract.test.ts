/**
 * The store contract on PostgreSQL: every file of contract/, as on SQLite. Each store is a database
 * of its own, a copy (CREATE DATABASE … TEMPLATE) of one migrated once for this file, as the SQLite
 * runner copies one migrated file; all are dropped after.
 */
import { Effect, Layer } from "effect"
import { beforeAll } from "vitest"
import { migratePg } from "../../src/store/pg/PgOpen.js"
import { PgStoreLive } from "../../src/store/pg/PgStoreLive.js"
import { pgTestDatabases } from "../support/pg.js"
import { runTest, type StoreBackend } from "./contract/backend.js"
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

const databases = pgTestDatabases()
let migrated: string
beforeAll(async () => {
  migrated = await databases.create()
  await runTest(migratePg(migrated))
})

const pg: StoreBackend = {
  name: "pg",
  propertyShare: 0.05,
  layer: () => {
    let url: Promise<string> | undefined // one database per layer: building it again reopens the same store
    const opened = Effect.map(Effect.promise(() => (url ??= databases.create(migrated))), (url) => PgStoreLive({ url, poolSize: 2 }))
    return Layer.unwrapEffect(opened)
  }
}

modelContract(pg)
oracleContract(pg)
workedExamplesContract(pg)
mirrorContract(pg)
workQueueContract(pg)
clusterMembersContract(pg)
activationsContract(pg)
outboxContract(pg)
erasuresContract(pg)
pushInboxContract(pg)
dataProtectionContract(pg)
sourceCursorsContract(pg)
resyncReportsContract(pg)
