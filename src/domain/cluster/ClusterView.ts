/**
 * What `GET /v1/cluster` and `skygge cluster` show: the members with the age
 * of their last heartbeat (live while younger than `cluster.memberTimeoutSeconds`)
 * and which member holds each singleton — from the members table and the
 * locks the database itself reports, combined here without effects.
 */
import { type Instant, toEpochMillis } from "../core/Instant.js"

export interface MemberRecord {
  readonly id: string
  readonly name: string
  readonly host: string
  readonly pid: number
  readonly startedAt: Instant
  readonly heartbeatAt: Instant
}

export interface SingletonHold {
  readonly name: string
  /** The holding member's id; null while nobody holds it. */
  readonly holder: string | null
}

export interface ClusterMemberView extends MemberRecord {
  readonly heartbeatAgeSeconds: number
  readonly live: boolean
  /** The singletons it holds, by name. */
  readonly holds: ReadonlyArray<string>
}

export interface ClusterView {
  /** The member that answered (null from the command line, which is no member). */
  readonly member: string | null
  readonly members: ReadonlyArray<ClusterMemberView>
  readonly singletons: ReadonlyArray<SingletonHold>
}

/** Members live first, then by name; singletons by name. A heartbeat in the future (clock skew) counts as age 0. */
export const clusterView = (
  self: string | null,
  members: ReadonlyArray<MemberRecord>,
  holds: ReadonlyArray<SingletonHold>,
  now: Instant,
  memberTimeoutSeconds: number
): ClusterView => {
  const nowMs = toEpochMillis(now)
  const viewed = members.map((m): ClusterMemberView => {
    const age = Math.max(0, (nowMs - toEpochMillis(m.heartbeatAt)) / 1000)
    return {
      ...m,
      heartbeatAgeSeconds: Math.round(age * 1000) / 1000,
      live: age < memberTimeoutSeconds,
      holds: holds.filter((h) => h.holder === m.id).map((h) => h.name).sort()
    }
  })
  viewed.sort((a, b) => (a.live === b.live ? (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1) : a.live ? -1 : 1))
  return { member: self, members: viewed, singletons: [...holds].sort((a, b) => (a.name < b.name ? -1 : 1)) }
}
