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

/** Who a member is (cluster/Member.ts makes this process's). */
export interface MemberIdentity {
  readonly id: string
  readonly name: string
  readonly host: string
  readonly pid: number
  readonly startedAt: Instant
}

export interface MemberRecord extends MemberIdentity {
  /** When it last said it was alive (the store's clock at the heartbeat). */
  readonly heartbeatAt: Instant
}

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
}

export class ClusterMembers extends Context.Tag("skygge/ClusterMembers")<ClusterMembers, ClusterMembersShape>() {}
