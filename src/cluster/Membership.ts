/**
 * This process as a live member of the cluster on its store (issue 15): it joins at start, says it
 * is alive every `cluster.heartbeatSeconds`, and leaves when it stops. Its work claims are leases on
 * that heartbeat: when it stops for `cluster.memberTimeoutSeconds` (the process died, or lost the
 * database), the other members' fetchers take its claims back (WorkQueue.recover) — and only then,
 * so a starting process never takes a live one's work.
 *
 * A failed heartbeat is logged once, and once more when it works again (a database away for a
 * while would otherwise log every two seconds). A heartbeat that finds the row gone (forgotten
 * while this process was away) joins again: claims it still holds are still its own; those taken
 * over meanwhile are not, and its late outcomes for them are dropped by the work queue.
 *
 * Alone (`alone`: one engine per SQLite file, held by the engine lock) every other member listed is
 * dead by construction — a crashed earlier run — and is forgotten at start, so its claims return at
 * once instead of after the member timeout. Dead members are otherwise kept listed for a day (an
 * operator sees who died), then forgotten.
 */
import { Clock, Context, Duration, Effect, Layer, Ref, Schedule } from "effect"
import { ClusterConfig } from "../config/Config.js"
import { fromEpochMillis, type Instant, instant } from "../domain/core/Instant.js"
import { ClusterMembers } from "../store/ClusterMembers.js"
import { ClusterMember, ClusterMemberLive, type MemberShape } from "./Member.js"

export interface MembershipShape {
  /** This process, joined. */
  readonly member: MemberShape
  /** Members whose last heartbeat is at or after this instant are alive: now − `cluster.memberTimeoutSeconds`. */
  readonly liveSince: Effect.Effect<Instant>
  /** How often a fetcher looks for claims of members that are gone (half the member timeout). */
  readonly recoverEvery: Duration.Duration
}

export interface MembershipOptions {
  /** The only engine on its store (SQLite): forget every other member at start. */
  readonly alone: boolean
}

/** How long a dead member stays listed before it is forgotten. */
const KEEP_GONE = Duration.days(1)
const FORGET_EVERY = Duration.minutes(10)
const EVERYONE = instant("9999-12-31T23:59:59.999999Z")

const make = (options: MembershipOptions) =>
  Effect.gen(function* () {
    const cfg = yield* ClusterConfig
    const member = yield* ClusterMember
    const members = yield* ClusterMembers
    const log = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.annotateLogs(effect, { member: member.id })
    if (cfg.memberTimeoutSeconds < 2 * cfg.heartbeatSeconds) {
      yield* log(Effect.logWarning("cluster.memberTimeoutSeconds is under two heartbeats: a member may be taken for dead while alive (its work fetched twice)"))
    }
    if (options.alone) {
      const forgotten = yield* members.forgetGone(EVERYONE)
      if (forgotten > 0) yield* log(Effect.logInfo("cluster: members of earlier runs forgotten (one engine per SQLite store: they are gone), their work claims free").pipe(Effect.annotateLogs({ forgotten })))
    }
    yield* Effect.acquireRelease(members.join(member), () =>
      members.leave(member.id).pipe(
        Effect.zipRight(log(Effect.logDebug("cluster: left"))),
        Effect.catchAll((e) => log(Effect.logWarning("cluster: could not leave; the other members take this one's work over after cluster.memberTimeoutSeconds").pipe(Effect.annotateLogs({ error: e.message }))))
      ))
    yield* log(Effect.logInfo("cluster: joined").pipe(Effect.annotateLogs({ name: member.name })))

    const failing = yield* Ref.make(false)
    const beat = Effect.flatMap(members.heartbeat(member.id), (found) =>
      found ? Effect.void : log(Effect.logWarning("cluster: this member had been forgotten (no heartbeat for long); joining again")).pipe(Effect.zipRight(members.join(member))))
    yield* beat.pipe(
      Effect.matchEffect({
        onFailure: (e) =>
          Effect.flatMap(Ref.getAndSet(failing, true), (was) =>
            was ? Effect.void : log(Effect.logWarning("cluster: heartbeat failed; if it keeps failing for cluster.memberTimeoutSeconds, the other members take this one's work over").pipe(Effect.annotateLogs({ error: e.message })))),
        onSuccess: () => Effect.flatMap(Ref.getAndSet(failing, false), (was) => (was ? log(Effect.logInfo("cluster: heartbeat works again")) : Effect.void))
      }),
      Effect.schedule(Schedule.spaced(Duration.seconds(cfg.heartbeatSeconds))),
      Effect.forkScoped
    )

    const forgetGone = Effect.flatMap(Clock.currentTimeMillis, (ms) => members.forgetGone(fromEpochMillis(ms - Duration.toMillis(KEEP_GONE)))).pipe(
      Effect.catchAll((e) => log(Effect.logWarning("cluster: could not forget members gone for a day").pipe(Effect.annotateLogs({ error: e.message }))))
    )
    yield* forgetGone.pipe(Effect.repeat(Schedule.spaced(FORGET_EVERY)), Effect.forkScoped)

    const timeoutMs = cfg.memberTimeoutSeconds * 1000
    return {
      member,
      liveSince: Effect.map(Clock.currentTimeMillis, (ms) => fromEpochMillis(ms - timeoutMs)),
      recoverEvery: Duration.millis(timeoutMs / 2)
    } satisfies MembershipShape
  })

export class Membership extends Context.Tag("skygge/Membership")<Membership, MembershipShape>() {
  /** Joined for as long as the layer lives; this process's identity from `ClusterMemberLive` (`cluster.memberName`). */
  static readonly layer = (options: MembershipOptions) => Layer.scoped(Membership, make(options)).pipe(Layer.provide(ClusterMemberLive))
}
