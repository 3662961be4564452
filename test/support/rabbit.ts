/** The real RabbitMQ on 127.0.0.1:5672, and a TCP proxy in front of it whose connections a test can cut. */
import amqp, { type ChannelModel } from "amqplib"
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net"

export const RABBIT_URL = process.env.SKYGGE_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"

/** Connect, or fail saying how to start the broker (tests never skip). */
export const connectRabbit = async (): Promise<ChannelModel> => {
  try {
    return await amqp.connect(RABBIT_URL)
  } catch (e) {
    throw new Error(
      `RabbitMQ is not reachable at 127.0.0.1:5672 (${(e as Error).message}). Start it with 'rabbitmq-server -detached' ` +
        "(or set SKYGGE_TEST_AMQP_URL), then run the tests again."
    )
  }
}

export interface TcpProxy {
  readonly port: number
  /** Destroy every open connection through the proxy (the client sees a dropped TCP connection). */
  readonly cut: () => number
  /** While down, every new connection is closed at once (a broker not reachable yet); `up` ends it. */
  readonly down: () => void
  readonly up: () => void
  readonly close: () => Promise<void>
}

export const startTcpProxy = (targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> =>
  new Promise((resolve) => {
    const sockets = new Set<Socket>()
    let refusing = false
    const server: Server = createServer((client) => {
      if (refusing) return void client.destroy()
      const upstream = tcpConnect(targetPort, targetHost)
      sockets.add(client)
      sockets.add(upstream)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        sockets.delete(client)
        sockets.delete(upstream)
      }
      client.on("error", drop).on("close", drop)
      upstream.on("error", drop).on("close", drop)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") throw new Error("proxy has no port")
      resolve({
        port: address.port,
        cut: () => {
          const n = sockets.size
          for (const s of sockets) s.destroy()
          sockets.clear()
          return n
        },
        down: () => void (refusing = true),
        up: () => void (refusing = false),
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })
