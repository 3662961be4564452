/**
 * The store's services, written once: what every backend provides (SQLite today, PostgreSQL next)
 * and what the engine, the CLI and the store contract tests ask of it.
 */
import type { ActivationStore } from "./Activations.js"
import type { ClusterMembers } from "./ClusterMembers.js"
import type { Erasures } from "./Erasures.js"
import type { MirrorStore } from "./Mirror.js"
import type { CommitSignal } from "./CommitSignal.js"
import type { DataProtection } from "./DataProtection.js"
import type { OutboxStore } from "./Outbox.js"
import type { PushInbox } from "./PushInbox.js"
import type { ResyncReports } from "./ResyncReports.js"
import type { SourceCursors } from "./SourceCursors.js"
import type { Store } from "./Store.js"
import type { WorkQueue } from "./WorkQueue.js"

export type StoreServices = Store | ActivationStore | OutboxStore | CommitSignal | WorkQueue | ResyncReports | MirrorStore | SourceCursors | PushInbox | ClusterMembers | DataProtection | Erasures
