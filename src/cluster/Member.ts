/**
 * This process as a member of a cluster of engines on one store: an id unique
 * to this run (a restarted process is a new member), a name operators read,
 * and where it runs. Shared by the membership heartbeat (work claims are the
 * member's), the leadership locks (held under the member's name) and
 * /v1/cluster.
 */
import { Context, Effect, Layer, Option } from "effect"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import { ClusterConfig } from "../config/Config.js"
import { fromEpochMillis, type Instant } from "../domain/core/Instant.js"

export interface MemberShape {
  /** Unique to this run: `<name>/<8 hex>`. */
  readonly id: string
  /** `cluster.memberName`, else `<host>:<pid>`. */
  readonly name: string
  readonly host: string
  readonly pid: number
  readonly startedAt: Instant
}

export class ClusterMember extends Context.Tag("skygge/ClusterMember")<ClusterMember, MemberShape>() {}

export const makeMember = (name: Option.Option<string>): MemberShape => {
  const host = hostname()
  const shown = Option.getOrElse(name, () => `${host}:${process.pid}`)
  return { id: `${shown}/${randomUUID().slice(0, 8)}`, name: shown, host, pid: process.pid, startedAt: fromEpochMillis(Date.now()) }
}

/** This process, named by `cluster.memberName` when set. */
export const ClusterMemberLive = Layer.effect(ClusterMember, Effect.map(ClusterConfig, (cfg) => makeMember(cfg.memberName)))
