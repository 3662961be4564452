/** Cluster members on PostgreSQL: the statements of the SQLite adapter, one round trip each. */
import { Clock, Effect } from "effect"
import type pg from "pg"
import { fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import type { ClusterMembersShape, MemberRecord } from "../ClusterMembers.js"
import { attemptPromise } from "../StoreError.js"

export const makePgClusterMembers = (pool: pg.Pool): ClusterMembersShape => {
  const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
  return {
    join: (m) =>
      Effect.flatMap(now, (at) =>
        attemptPromise("ClusterMembers.join", async () => {
          await pool.query(
            `INSERT INTO cluster_members (id, name, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
            [m.id, m.name, m.host, m.pid, m.startedAt, at]
          )
        })),
    heartbeat: (id) =>
      Effect.flatMap(now, (at) =>
        attemptPromise("ClusterMembers.heartbeat", async () => ((await pool.query("UPDATE cluster_members SET heartbeat_at = $1 WHERE id = $2", [at, id])).rowCount ?? 0) > 0)),
    leave: (id) => attemptPromise("ClusterMembers.leave", async () => void (await pool.query("DELETE FROM cluster_members WHERE id = $1", [id]))),
    list: attemptPromise("ClusterMembers.list", async () =>
      (await pool.query<MemberRecord>('SELECT id, name, host, pid, started_at AS "startedAt", heartbeat_at AS "heartbeatAt" FROM cluster_members ORDER BY started_at, id')).rows),
    forgetGone: (before: Instant) =>
      attemptPromise("ClusterMembers.forgetGone", async () => (await pool.query("DELETE FROM cluster_members WHERE heartbeat_at < $1", [before])).rowCount ?? 0)
  }
}
