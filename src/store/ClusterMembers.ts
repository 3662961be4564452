/**
 * The engines running on one store (issue 15), each with its heartbeat. A member's row is its lease
 * on the work it claims: while the heartbeat is fresh its claims are its own; when the heartbeat
 * stops for `cluster.memberTimeoutSeconds` they return to the pool (WorkQueue.recover). A member that
 * stops leaves (its row goes, and with it its claims); one that dies stays listed, its heartbeat
 * ageing, until `forgetGone` drops it a while later — so operators still see who died.
 */
import { Context, type Effect } from "effect"
import type { Instant } from "../domain/core/Instant.js"
import type { StoreError } from "./StoreError.js"

import type { MemberRecord, SingletonHold } from "../domain/cluster/ClusterView.js"

export type { MemberRecord }
/** Who a member is (cluster/Member.ts makes this process's). */
export type MemberIdentity = Omit<MemberRecord, "heartbeatAt">
/** A singleton and the member holding it now (null: nobody). */
export type SingletonHolder = SingletonHold

export interface ClusterMembersShape {
  /** Add the member, its heartbeat now (again, if it was forgotten while alive). */
  readonly join: (member: MemberIdentity) => Effect.Effect<void, StoreError>
  /** Its heartbeat now; false when its row is gone (forgotten: it must join again). */
  readonly heartbeat: (memberId: string) => Effect.Effect<boolean, StoreError>
  /** Remove the member (a clean stop): its claims are free at once. */
  readonly leave: (memberId: string) => Effect.Effect<void, StoreError>
  /** Every member listed, oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<MemberRecord>, StoreError>
  /** Drop the members whose last heartbeat is before `before`; returns how many. */
  readonly forgetGone: (before: Instant) => Effect.Effect<number, StoreError>
  /** Note a singleton an engine competes for (once per name; kept): so that every reader can list it. */
  readonly nameSingleton: (name: string) => Effect.Effect<void, StoreError>
  /**
   * Every named singleton and the member holding it now (null: nobody). PostgreSQL reads the holders from
   * the server's own locks (pg_locks); on SQLite, one engine per file, the holder is the member whose
   * heartbeat is newest if it is at or after `liveSince`.
   */
  readonly singletons: (liveSince: Instant) => Effect.Effect<ReadonlyArray<SingletonHolder>, StoreError>
}

export class ClusterMembers extends Context.Tag("skygge/ClusterMembers")<ClusterMembers, ClusterMembersShape>() {}
