/** Cluster members on SQLite (one engine per file: the others listed are dead ones, or commands beside it). */
import type Database from "better-sqlite3"
import { Clock, Effect } from "effect"
import { fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import type { ClusterMembersShape, MemberRecord } from "../ClusterMembers.js"
import { attempt } from "../StoreError.js"
import { onFirstUse } from "./FirstUse.js"

export const makeSqliteClusterMembers = (db: Database.Database): ClusterMembersShape => {
  const q = onFirstUse(db, {
    join: () => db.prepare<[string, string, string, number, string, string]>(
      `INSERT INTO cluster_members (id, name, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`
    ),
    heartbeat: () => db.prepare<[string, string]>("UPDATE cluster_members SET heartbeat_at = ? WHERE id = ?"),
    leave: () => db.prepare<[string]>("DELETE FROM cluster_members WHERE id = ?"),
    list: () => db.prepare<[], MemberRecord>(
      "SELECT id, name, host, pid, started_at AS startedAt, heartbeat_at AS heartbeatAt FROM cluster_members ORDER BY started_at, id"
    ),
    forgetGone: () => db.prepare<[string]>("DELETE FROM cluster_members WHERE heartbeat_at < ?"),
    nameSingleton: () => db.prepare<[string, string]>("INSERT INTO cluster_singletons (name, first_competed_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"),
    singletonNames: () => db.prepare<[], { name: string }>("SELECT name FROM cluster_singletons ORDER BY name"),
    newestLive: () => db.prepare<[string], { id: string }>("SELECT id FROM cluster_members WHERE heartbeat_at >= ? ORDER BY heartbeat_at DESC, id LIMIT 1")
  })
  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  return {
    join: (m) => Effect.flatMap(now, (at) => attempt("ClusterMembers.join", () => void q.join.run(m.id, m.name, m.host, m.pid, m.startedAt, at))),
    heartbeat: (id) => Effect.flatMap(now, (at) => attempt("ClusterMembers.heartbeat", () => q.heartbeat.run(at, id).changes > 0)),
    leave: (id) => attempt("ClusterMembers.leave", () => void q.leave.run(id)),
    list: attempt("ClusterMembers.list", () => q.list.all()),
    forgetGone: (before: Instant) => attempt("ClusterMembers.forgetGone", () => q.forgetGone.run(before).changes),
    nameSingleton: (name) => Effect.flatMap(now, (at) => attempt("ClusterMembers.nameSingleton", () => void q.nameSingleton.run(name, at))),
    // One engine per file (its lock): the live member is the engine, and it holds every singleton.
    singletons: (liveSince) =>
      attempt("ClusterMembers.singletons", () => {
        const holder = q.newestLive.get(liveSince)?.id ?? null
        return q.singletonNames.all().map(({ name }) => ({ name, holder }))
      })
  }
}
