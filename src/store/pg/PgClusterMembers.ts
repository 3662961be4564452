/** Cluster members on PostgreSQL: the statements of the SQLite adapter, one round trip each. */
import { Clock, Effect } from "effect"
import type pg from "pg"
import { fromEpochMillis, type Instant } from "../../domain/core/Instant.js"
import type { ClusterMembersShape, MemberRecord, SingletonHolder } from "../ClusterMembers.js"
import { attemptPromise } from "../StoreError.js"
import { singletonLockOn } from "./AdvisoryLocks.js"

/** Who holds each registered singleton's lock (cluster/Leadership.ts takes them), by the member id in its application_name. */
const HOLDERS = `SELECT s.name, CASE WHEN a.application_name LIKE 'skygge %' THEN substr(a.application_name, 8) ELSE a.application_name END AS holder
  FROM cluster_singletons s
  LEFT JOIN pg_locks l ON ${singletonLockOn("s.name")}
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
  ORDER BY s.name`

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
      attemptPromise("ClusterMembers.forgetGone", async () => (await pool.query("DELETE FROM cluster_members WHERE heartbeat_at < $1", [before])).rowCount ?? 0),
    nameSingleton: (name) =>
      Effect.flatMap(now, (at) =>
        attemptPromise("ClusterMembers.nameSingleton", async () =>
          void (await pool.query("INSERT INTO cluster_singletons (name, first_competed_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [name, at])))),
    // The server's own locks say who holds what (cluster/Leadership: classid, hashtext(name), the holder's
    // application_name carrying its member id); `liveSince` is not needed: a dead session holds nothing.
    singletons: () => attemptPromise("ClusterMembers.singletons", async () => (await pool.query<SingletonHolder>(HOLDERS)).rows)
  }
}
