import { describe, expect, it } from "vitest"
import type { Instant } from "../../src/domain/core/Instant.js"
import { clusterView, type MemberRecord } from "../../src/domain/cluster/ClusterView.js"

const at = (s: string) => s as Instant
const member = (id: string, name: string, heartbeatAt: string): MemberRecord => ({ id, name, host: "h", pid: 1, startedAt: at("2026-12-02T00:00:00.000000Z"), heartbeatAt: at(heartbeatAt) })

describe("the cluster view", () => {
  const now = at("2026-12-02T00:01:00.000000Z")
  const members = [member("b/2", "b", "2026-12-02T00:00:59.000000Z"), member("a/9", "a", "2026-12-02T00:00:40.000000Z"), member("a/1", "a", "2026-12-02T00:00:58.500000Z")]
  const holds = [{ name: "outbox:amqp", holder: "b/2" }, { name: "activations", holder: "b/2" }, { name: "datafordeler:dar:graphql", holder: null }]

  it("ages each heartbeat, calls a member live until memberTimeoutSeconds, and lists what each holds", () => {
    const view = clusterView("a/1", members, holds, now, 15)
    expect(view.member).toBe("a/1")
    expect(view.members.map((m) => [m.id, m.heartbeatAgeSeconds, m.live, m.holds])).toEqual([
      ["a/1", 1.5, true, []],
      ["b/2", 1, true, ["activations", "outbox:amqp"]],
      ["a/9", 20, false, []]
    ])
    expect(view.singletons.map((s) => s.name)).toEqual(["activations", "datafordeler:dar:graphql", "outbox:amqp"])
  })

  it("is dead at exactly the timeout, and a heartbeat ahead of the clock is age 0", () => {
    const view = clusterView(null, [member("x/1", "x", "2026-12-02T00:00:45.000000Z"), member("y/1", "y", "2026-12-02T00:01:02.000000Z")], [], now, 15)
    expect(view.members.map((m) => [m.id, m.live, m.heartbeatAgeSeconds])).toEqual([["y/1", true, 0], ["x/1", false, 15]])
  })
})
