/**
 * A loopback TCP proxy in front of a server, for network faults a test cannot make with the real
 * network: `freeze()` stops forwarding in both directions while every socket stays open (a partition
 * as the two ends see it: silence, no reset); new connections are accepted and hang. `cutUpstream()`
 * closes the proxy's side towards the server (what the server's keepalive would finally do).
 */
import { once } from "node:events"
import { connect, createServer, type Socket } from "node:net"

export interface TcpProxy {
  readonly port: number
  readonly freeze: () => void
  readonly cutUpstream: () => void
  readonly close: () => Promise<void>
}

export const startTcpProxy = async (target: { readonly host: string; readonly port: number }): Promise<TcpProxy> => {
  let frozen = false
  const sockets = new Set<Socket>()
  const upstreams = new Set<Socket>()
  const server = createServer((client) => {
    sockets.add(client)
    client.on("error", () => {})
    client.on("close", () => sockets.delete(client))
    if (frozen) return // accepted, never answered
    const upstream = connect(target.port, target.host)
    sockets.add(upstream)
    upstreams.add(upstream)
    upstream.on("error", () => {})
    upstream.on("close", () => {
      sockets.delete(upstream)
      upstreams.delete(upstream)
    })
    client.on("data", (chunk) => void (frozen || upstream.write(chunk)))
    upstream.on("data", (chunk) => void (frozen || client.write(chunk)))
    // Closes travel only while the link is up: a frozen link says nothing, not even goodbye.
    client.on("close", () => void (frozen || upstream.destroy()))
    upstream.on("close", () => void (frozen || client.destroy()))
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => void (frozen = true),
    cutUpstream: () => {
      for (const s of upstreams) s.destroy()
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    }
  }
}
