/**
 * The commit signal on PostgreSQL, across processes. Every unit of work that writes what downstream
 * should know of (rows, fired activations, outbox records) sends `NOTIFY skygge_commit` in its own
 * transaction — delivered at commit, never for a rollback — and each process LISTENs on a connection of
 * its own and wakes its waiters. So an import by the CLI or by another engine wakes this engine's
 * activation scheduler and publishers at once, not at their next poll. The poll stays the backstop: a
 * listener that lost its connection connects again with backoff, and wake-ups meanwhile are only late.
 */
import { Effect, PubSub, type Scope } from "effect"
import pg from "pg"
import { backoff } from "../../schedule/Backoff.js"
import type { CommitSignalShape } from "../CommitSignal.js"
import { connectionConfig, type PgOptions, redactPgUrl } from "./PgOpen.js"

const CHANNEL = "skygge_commit"

/** Tell every listening process, at this transaction's commit, that something was committed. */
export const notifyCommit = async (client: pg.PoolClient): Promise<void> => {
  await client.query(`SELECT pg_notify('${CHANNEL}', '')`)
}

/** Listen until the connection ends (or fails): each notification wakes this process's waiters. */
const listenOnce = (options: PgOptions, wake: () => void) =>
  Effect.async<void, Error>((resume) => {
    const client = new pg.Client(connectionConfig(options))
    let done = false
    const end = (error?: Error) => {
      if (done) return
      done = true
      client.end().catch(() => {})
      resume(error === undefined ? Effect.void : Effect.fail(error))
    }
    client.on("notification", () => wake())
    client.on("error", (e) => end(e))
    client.on("end", () => end(new Error("connection closed")))
    client.connect().then(() => client.query(`LISTEN ${CHANNEL}`)).then(() => wake(), (e: unknown) => end(e instanceof Error ? e : new Error(String(e))))
    // Interrupted (the engine stops): close the connection.
    return Effect.sync(() => {
      done = true
      client.end().catch(() => {})
    })
  })

/**
 * The signal: a sliding PubSub as in one process, fed by this process's commits and every process's
 * NOTIFY. The listening connection opens with the first waiter (an engine's scheduler or publisher), so a
 * command that only reads or imports holds no connection for it.
 */
export const makePgCommitSignal = (options: PgOptions): Effect.Effect<CommitSignalShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const pubsub = yield* PubSub.sliding<void>(1)
    const wake = () => void Effect.runFork(PubSub.publish(pubsub, undefined))
    const listen = listenOnce(options, wake).pipe(
      Effect.tapError((e) => Effect.logWarning(`store ${redactPgUrl(options.url)}: commit notifications interrupted (${e.message}); listening again (polling meanwhile)`)),
      Effect.retry({ schedule: backoff({ base: "200 millis", max: "10 seconds" }) })
    )
    let listening = false
    const startListening = Effect.suspend(() => {
      if (listening) return Effect.void
      listening = true
      return Effect.asVoid(Effect.forkIn(listen, scope))
    })
    return {
      subscribe: Effect.zipRight(startListening, PubSub.subscribe(pubsub)),
      notify: Effect.asVoid(PubSub.publish(pubsub, undefined))
    }
  })
