/**
 * The `skygge` command line: `run` the engine, `import` NDJSON operations, `migrate` the store, and
 * ask the local store the API's questions (`get`, `history`, `snapshot`,
 * `changes`, `refused`, …). Answers go to stdout, logs and progress to stderr.
 * One file per command group under `commands/`; this one lists them.
 *
 * The root and its errors are root.ts's; the query commands also have a bundle of their own (queryMain.ts).
 *
 * Start-up: these modules import statically what parsing and the store's questions need. What a command's
 * body alone needs beyond that (the engine, sources, ingest paths, retention runs, PostgreSQL) it imports with
 * `import()` as it runs; the bundle (scripts/build.mjs) leaves such a module unevaluated until then, so that
 * `skygge get` does not evaluate the API server or the broker client (bench/http.ts, line (s)).
 */
import { copyStoreCommand } from "./commands/copyStore.js"
import { minimiseCommand, pruneCommand } from "./commands/dataProtection.js"
import { importCommand, importExtract } from "./commands/import.js"
import { activations, anomalies, cluster, refused, sources } from "./commands/lists.js"
import { erase, erasuresCommand } from "./commands/erase.js"
import { migrate } from "./commands/migrate.js"
import { changes, get, history, snapshot } from "./commands/queries.js"
import { resync, resyncReports } from "./commands/resync.js"
import { demo, run } from "./commands/run.js"
import { mainWith, runCliWith } from "./root.js"

const commands = [run, demo, importCommand, importExtract, get, history, snapshot, changes, refused, activations, anomalies, sources, cluster, resync, resyncReports, erase, erasuresCommand, minimiseCommand, pruneCommand, migrate, copyStoreCommand] as const

export const main = mainWith(commands)

export const runCli = () => runCliWith(commands)
