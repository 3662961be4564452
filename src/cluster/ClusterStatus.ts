/**
 * The cluster as the store sees it — members with their heartbeats, named singletons with their holders —
 * for `GET /v1/cluster`, `/metrics` and `skygge cluster` alike (the command line is no member: `self` null).
 */
import { Clock, Effect } from "effect"
import { ClusterConfig } from "../config/Config.js"
import { clusterView } from "../domain/cluster/ClusterView.js"
import { fromEpochMillis } from "../domain/core/Instant.js"
import { ClusterMembers } from "../store/ClusterMembers.js"

export const readClusterView = (self: string | null) =>
  Effect.gen(function* () {
    const cfg = yield* Effect.orDie(ClusterConfig) // read and checked at start
    const members = yield* ClusterMembers
    const nowMs = yield* Clock.currentTimeMillis
    const list = yield* members.list
    const holds = yield* members.singletons(fromEpochMillis(nowMs - cfg.memberTimeoutSeconds * 1000))
    return clusterView(self, list, holds, fromEpochMillis(nowMs), cfg.memberTimeoutSeconds)
  })
