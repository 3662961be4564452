/**
 * One leader per singleton. Several engines on one PostgreSQL serve the API and consume queues side by
 * side, but the activation scheduler, each outbox publisher, each polled Datafordeler path, full loads,
 * resync schedules and pruning must run in one process at a time: `lead(name, effect)` runs `effect`
 * only while this process holds singleton `name`, waits while another holds it, and interrupts the
 * effect when the hold is lost (then competes again). `holders` says who holds what.
 *
 * PostgreSQL: a session-level advisory lock per singleton (classid SKYGGE_CLASSID, objid
 * hashtext(name)), all on ONE dedicated connection whose `application_name` carries the member id, so
 * `holders` reads the truth from pg_locks joined with pg_stat_activity. The server frees a lock when the
 * session ends — when it notices that the client is gone: TCP keepalives and tcp_user_timeout, set per
 * session from the cluster settings (`serverKeepalive`). Every `lockCheckSeconds` this process asks on
 * that connection whether the locks are still its own; unanswered within `lockTimeoutSeconds`, or
 * answered wrongly, it interrupts everything it leads, waits for those effects to stop, drops the
 * connection and competes again on a new one. A leader cut off from the server therefore stops within
 * lockCheck + lockTimeout of its last answered check, while the server keeps its locks for at least
 * 2 × (lockCheck + lockTimeout) after the last packet it had from it: it has stopped before another can
 * lead. A leader that stops without knowing (a stall longer than that) is caught by the conditional
 * singleton writes (StaleWrite): the effect fails with it, gives up the singleton and competes again.
 *
 * SQLite: one engine per file is enforced already (SqliteEngineLock), so `lead` runs the effect and
 * `holders` names this member for every singleton.
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Layer, Option, Runtime, type Scope } from "effect"
import pg from "pg"
import { ClusterConfig } from "../config/Config.js"
import { fromEpochMillis, type Instant } from "../domain/core/Instant.js"
import { backoff } from "../schedule/Backoff.js"
import { connectionConfig, type PgOptions, redactPgUrl } from "../store/pg/PgOpen.js"
import type { StaleWrite } from "../store/StaleWrite.js"
import { ClusterMembers } from "../store/ClusterMembers.js"
import { StoreError } from "../store/StoreError.js"
import { StoreOpenError } from "../store/StoreOpenError.js"
import { SKYGGE_CLASSID, singletonLockOn } from "../store/pg/AdvisoryLocks.js"
import { ClusterMember, makeMember, type MemberShape } from "./Member.js"

export interface Holder {
  /** The singleton, e.g. `activations`, `outbox:webhook:…`, `datafordeler:dar:pull`. */
  readonly name: string
  /** The member id holding it (null: nobody). */
  readonly member: string | null
  /** Since when, for singletons this process holds (another process's hold time is not in pg_locks: null). */
  readonly since: Instant | null
}

export interface LeadershipShape {
  /**
   * Run `effect` while this process holds singleton `name`: wait (trying every `acquireSeconds`) while
   * another holds it, interrupt it when the hold is lost and compete again. An effect that fails with
   * StaleWrite gives the singleton up and competes again (it re-reads when it leads next). The effect's
   * other outcomes end `lead` (the singleton released).
   */
  readonly lead: <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, Exclude<E, StaleWrite>, R>
  /** Every singleton this process has competed for, by name, with its holder. */
  readonly holders: Effect.Effect<ReadonlyArray<Holder>, StoreError>
}

export class Leadership extends Context.Tag("skygge/Leadership")<Leadership, LeadershipShape>() {
  /** One engine on its store (SQLite): every singleton is this member's. */
  static readonly layerSingle: Layer.Layer<Leadership, never, ClusterMember> = Layer.effect(Leadership, Effect.map(ClusterMember, (member) => makeSingleLeadership(member)))
  /** The same for a process that is no configured member (a test, a benchmark): every singleton is its own. */
  static readonly layerAlone: Layer.Layer<Leadership> = Layer.sync(Leadership, () => makeSingleLeadership(makeMember(Option.none())))
  /** Singletons held under PostgreSQL advisory locks; refuses a server whose advisory locks are not real. */
  static readonly layerPg = (options: PgOptions): Layer.Layer<Leadership, StoreOpenError | import("effect").ConfigError.ConfigError, ClusterMember> =>
    Layer.scoped(Leadership, makePgLeadership(options))
}


const isStale = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && Option.exists(Cause.failureOption(exit.cause), (e) => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "StaleWrite")

const nowInstant = Effect.map(Clock.currentTimeMillis, fromEpochMillis)

/**
 * Name the singleton in the store's registry (when the process has a store), so that /v1/cluster and
 * `skygge cluster` list it whoever competes for it. A store that cannot take it is said and not waited for.
 */
const nameSingleton = (name: string) =>
  Effect.flatMap(Effect.serviceOption(ClusterMembers), (members) =>
    Option.match(members, {
      onNone: () => Effect.void,
      onSome: (m) => m.nameSingleton(name).pipe(Effect.catchAll((e) => Effect.logWarning(`singleton ${name}: cannot be named in the store (${e.message}); /v1/cluster may not list it`)))
    }))

export const makeSingleLeadership = (member: MemberShape): LeadershipShape => {
  const names = new Map<string, Instant>()
  return {
    lead: <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        names.set(name, yield* nowInstant)
        yield* nameSingleton(name)
        for (;;) {
          const exit = yield* Effect.exit(effect)
          if (!isStale(exit)) return yield* (exit as Exit.Exit<A, Exclude<E, StaleWrite>>)
          // One process per file: only a writer outside the engine moved it. Read again and go on.
          yield* Effect.logWarning(`singleton ${name}: ${String(Cause.squash((exit as Exit.Failure<A, E>).cause))}; starting it again`)
        }
      }),
    holders: Effect.sync(() => [...names.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, since]) => ({ name, member: member.id, since })))
  }
}

/** A server whose advisory locks lock nothing (or differ), by its version string. */
export const impostorOf = (version: string): string | undefined =>
  /cockroach/i.test(version) ? "CockroachDB" : /yugabyte|-YB-/i.test(version) ? "YugabyteDB" : undefined

/**
 * Why a server's advisory locks cannot elect leaders, or undefined when they can: a server known by its
 * version string, else the functional check — a key locked on one connection must be refused to a second.
 */
export const advisoryLocksRefusal = async (
  version: string,
  first: { readonly tryLock: () => Promise<boolean>; readonly unlock: () => Promise<void> },
  second: { readonly tryLock: () => Promise<boolean>; readonly unlock: () => Promise<void> }
): Promise<string | undefined> => {
  const impostor = impostorOf(version)
  if (impostor !== undefined) return `it is ${impostor} (${version.slice(0, 80)}), whose advisory locks do not exclude other sessions`
  if (!(await first.tryLock())) return "a fresh advisory lock could not be taken"
  try {
    if (await second.tryLock()) {
      await second.unlock()
      return `its advisory locks are not exclusive: a lock held by one session was granted to a second (${version.slice(0, 80)})`
    }
  } finally {
    await first.unlock()
  }
  return undefined
}

/**
 * The server's keepalive settings for the lock connection, from the cluster's: the server must not notice
 * a silent client (and free its locks) before that client has stopped leading, which it does within
 * lockCheck + lockTimeout. Idle and the user timeout are twice that (the margin covers interrupting the
 * effects); then probes every second, three times. Returns what a server-side detection takes at the least
 * and at the most.
 */
export const serverKeepalive = (cfg: Pick<ClusterConfig, "lockCheckSeconds" | "lockTimeoutSeconds">) => {
  const stopWithinS = cfg.lockCheckSeconds + cfg.lockTimeoutSeconds
  const idleS = Math.max(1, Math.ceil(2 * stopWithinS))
  const intervalS = 1
  const count = 3
  const userTimeoutMs = (idleS + intervalS * count) * 1000
  return { idleS, intervalS, count, userTimeoutMs, stopWithinMs: stopWithinS * 1000, serverFreesAfterMs: { min: idleS * 1000, max: userTimeoutMs } }
}

/** What the lock connection shows as `application_name` (63 bytes at most): `skygge <member id>`, the id's random tail kept. */
export const applicationName = (memberId: string): string => {
  const prefix = "skygge "
  if (prefix.length + memberId.length <= 63) return `${prefix}${memberId}`
  const tail = memberId.slice(memberId.lastIndexOf("/"))
  return `${prefix}${memberId.slice(0, 63 - prefix.length - tail.length)}${tail}`
}
const memberOfApplicationName = (name: string | null): string | null => (name === null ? null : name.startsWith("skygge ") ? name.slice("skygge ".length) : name)

/** One connection to the server and the singletons held on it. */
interface Session {
  readonly client: pg.Client
  /** Done when the connection is no longer trusted: every effect led on it is interrupted. */
  readonly lost: Deferred.Deferred<void>
  /** Singletons held on this connection, with since when. */
  readonly held: Map<string, Instant>
  /** Lock attempts in flight. */
  trying: number
  /** One query at a time on the connection. */
  readonly turn: Effect.Semaphore
}

const LOCKED = `SELECT pg_try_advisory_lock(${SKYGGE_CLASSID}, hashtext($1)) AS locked`
const UNLOCK = `SELECT pg_advisory_unlock(${SKYGGE_CLASSID}, hashtext($1))`
/** Which of the named locks this session holds (advisory locks are per database: the server's lock tag includes it). */
const STILL_OURS = `SELECT n AS name FROM unnest($1::text[]) AS n
  WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = pg_backend_pid() AND ${singletonLockOn("n")})`
const HOLDERS = `SELECT n.name, a.application_name AS holder, l.pid = pg_backend_pid() AS mine
  FROM unnest($1::text[]) AS n(name)
  LEFT JOIN pg_locks l ON ${singletonLockOn("n.name")}
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
  ORDER BY n.name`

const makePgLeadership = (options: PgOptions): Effect.Effect<LeadershipShape, StoreOpenError | import("effect").ConfigError.ConfigError, ClusterMember | Scope.Scope> =>
  Effect.gen(function* () {
    const cfg = yield* ClusterConfig
    const member = yield* ClusterMember
    const runtime = yield* Effect.runtime<never>()
    const keepalive = serverKeepalive(cfg)
    const shown = redactPgUrl(options.url)
    const lockTimeout = Duration.seconds(cfg.lockTimeoutSeconds)
    const acquire = Duration.seconds(cfg.acquireSeconds)
    const base = yield* Effect.try({ try: () => connectionConfig(options), catch: (e) => (e instanceof StoreOpenError ? e : new StoreOpenError({ message: String(e) })) })
    const url = new URL(base.connectionString!)
    url.searchParams.set("application_name", applicationName(member.id))
    const clientConfig: pg.ClientConfig = { ...base, connectionString: url.toString(), keepAlive: true, keepAliveInitialDelayMillis: Math.round(cfg.lockCheckSeconds * 1000) }

    const connect = async (): Promise<pg.Client> => {
      const client = new pg.Client(clientConfig)
      client.on("error", () => {}) // a session's own handlers report it; a bare client must not crash the process
      await client.connect()
      return client
    }
    const endClient = (client: pg.Client) => {
      // A graceful end frees the locks at once; on a dead network it would wait: the socket goes after a second.
      const socket = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream
      const timer = setTimeout(() => socket?.destroy?.(), 1000)
      client.end().catch(() => {}).finally(() => clearTimeout(timer))
    }

    // Refuse a server whose advisory locks are not real, before anything leads.
    yield* Effect.tryPromise({
      try: async () => {
        const [a, b] = [await connect(), await connect()]
        try {
          const version = (await a.query<{ version: string }>("SELECT version()")).rows[0]!.version
          const probe = `skygge:probe:${member.id}`
          const on = (c: pg.Client) => ({
            tryLock: async () => (await c.query<{ locked: boolean }>(LOCKED, [probe])).rows[0]!.locked,
            unlock: async () => void (await c.query(UNLOCK, [probe]))
          })
          const refusal = await advisoryLocksRefusal(version, on(a), on(b))
          if (refusal !== undefined) {
            throw new StoreOpenError({ message: `store ${shown}: refusing to start several-engine leadership on this server: ${refusal}. skygge needs PostgreSQL (15 or later) itself` })
          }
        } finally {
          endClient(a)
          endClient(b)
        }
      },
      catch: (e) => (e instanceof StoreOpenError ? e : new StoreOpenError({ message: `cannot open the leadership connection to store ${shown}: ${e instanceof Error ? e.message : String(e)}` }))
    })

    let current: Session | undefined
    const competing = new Set<string>() // names a fiber of this process competes for or leads (one per name: a session's locks are re-entrant)
    const known = new Set<string>()

    let closing = false
    const lose = (session: Session, reason: string) =>
      Effect.gen(function* () {
        if ((yield* Deferred.succeed(session.lost, undefined)) && !closing) {
          if (session.held.size > 0) {
            yield* Effect.logWarning(`leadership connection to ${shown} lost (${reason}): stopping what this process leads`).pipe(
              Effect.annotateLogs({ singletons: [...session.held.keys()].join(",") })
            )
          } else yield* Effect.logWarning(`leadership connection to ${shown} lost (${reason}); connecting again`)
        }
      })
    /**
     * A query on the lock connection, one at a time (`params` read when its turn comes), answered within
     * lockTimeout (its wait for the turn included) or the connection is lost.
     */
    const ask = <T extends pg.QueryResultRow>(session: Session, sql: string, params: () => ReadonlyArray<unknown>) =>
      session.turn.withPermits(1)(Effect.tryPromise(() => session.client.query<T>(sql, params() as Array<unknown>))).pipe(
        Effect.timeoutFail({ duration: lockTimeout, onTimeout: () => new Error(`no answer within ${cfg.lockTimeoutSeconds} s`) }),
        Effect.map((r) => r.rows),
        Effect.tapError((e) => lose(session, e instanceof Error ? e.message : String(e)))
      )

    const openSession = Effect.gen(function* () {
      const client = yield* Effect.tryPromise(connect)
      const session: Session = { client, lost: yield* Deferred.make<void>(), held: new Map(), trying: 0, turn: yield* Effect.makeSemaphore(1) }
      const lost = (reason: string) => Runtime.runFork(runtime)(lose(session, reason))
      client.on("error", (e) => lost(e.message))
      client.on("end", () => lost("connection closed"))
      // The server notices a vanished client in a bounded time, and no sooner than this process stops leading.
      yield* ask(session, `SET tcp_keepalives_idle = ${keepalive.idleS}; SET tcp_keepalives_interval = ${keepalive.intervalS}; SET tcp_keepalives_count = ${keepalive.count}; SET tcp_user_timeout = ${keepalive.userTimeoutMs}`, () => []).pipe(
        Effect.tapError(() => Effect.sync(() => endClient(client)))
      )
      return session
    })

    /** Every lockCheck: are the locks still ours? Returns when the session is lost. */
    const watch = (session: Session) =>
      Effect.raceFirst(
        Deferred.await(session.lost),
        Effect.forever(
          Effect.gen(function* () {
            yield* Effect.sleep(Duration.seconds(cfg.lockCheckSeconds))
            let expected: Array<string> = []
            // Taken when its turn comes: acquisitions and releases take turns on the same connection.
            const ours = new Set((yield* ask<{ name: string }>(session, STILL_OURS, () => [(expected = [...session.held.keys()])])).map((r) => r.name))
            const missing = expected.filter((n) => !ours.has(n) && session.held.has(n))
            if (missing.length > 0) yield* lose(session, `the server no longer shows ${missing.length} of its locks as this session's`)
          }).pipe(Effect.catchAll(() => Effect.void))
        )
      )

    /** Connect, watch, and when the connection is lost wait for the effects led on it to stop before dropping it; again. */
    const manage = Effect.forever(
      Effect.gen(function* () {
        const session = yield* openSession.pipe(
          Effect.tapError((e) => Effect.logWarning(`cannot open the leadership connection to ${shown} (${e instanceof Error ? e.message : String(e)}); trying again`)),
          Effect.retry(backoff({ base: Duration.millis(200), max: Duration.seconds(Math.max(1, cfg.acquireSeconds * 5)) }))
        )
        current = session
        yield* watch(session)
        current = undefined
        const stopping = yield* Clock.currentTimeMillis
        yield* Effect.sleep(Duration.millis(10)).pipe(Effect.repeat({ until: () => session.held.size === 0 && session.trying === 0 }))
        const tookMs = (yield* Clock.currentTimeMillis) - stopping
        if (tookMs > cfg.lockTimeoutSeconds * 1000) yield* Effect.logWarning(`stopping what this process led took ${tookMs} ms`)
        endClient(session.client)
      })
    )
    yield* Effect.forkScoped(manage)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closing = true
        if (current !== undefined) endClient(current.client)
      })
    )

    /** One try for `name` on the current connection, and while held the effect raced with the connection's loss. */
    const holdOnce = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
      // Taking the lock and recording it cannot be cut in two (a lock taken and forgotten would stay until
      // the connection ends); it is bounded by lockTimeout. The effect itself runs interruptibly.
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const session = current
          if (session === undefined || competing.has(name)) return "busy" as const
          competing.add(name)
          session.trying++
          const locked = yield* ask<{ locked: boolean }>(session, LOCKED, () => [name]).pipe(
            Effect.map((rows) => rows[0]?.locked === true),
            Effect.orElseSucceed(() => false),
            Effect.ensuring(Effect.sync(() => session.trying--))
          )
          if (!locked || (yield* Deferred.isDone(session.lost))) {
            competing.delete(name)
            return "busy" as const
          }
          session.held.set(name, yield* nowInstant)
          yield* Effect.logInfo(`leading ${name}`)
          const forget = Effect.sync(() => {
            session.held.delete(name)
            competing.delete(name)
          })
          const release = Effect.zipRight(forget, Effect.whenEffect(Effect.ignore(ask(session, UNLOCK, () => [name])), Effect.map(Deferred.isDone(session.lost), (done) => !done)))
          const outcome = yield* restore(Effect.raceFirst(Effect.exit(effect), Effect.as(Deferred.await(session.lost), "lost" as const))).pipe(
            Effect.onInterrupt(() => release)
          )
          // Lost: the effect has stopped (the race waited for it); only now may the connection go.
          yield* outcome === "lost" ? forget : release
          return outcome
        })
      )

    const lead = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, StaleWrite>, R> =>
      Effect.gen(function* () {
        known.add(name)
        yield* nameSingleton(name)
        let waiting = false
        for (;;) {
          const outcome = yield* holdOnce(name, effect)
          if (outcome === "busy") {
            if (!waiting) yield* Effect.logDebug(`singleton ${name} is held elsewhere; waiting`)
            waiting = true
            yield* Effect.sleep(acquire)
            continue
          }
          waiting = false
          if (outcome === "lost") {
            yield* Effect.logWarning(`no longer leading ${name}: its lock connection was lost; competing again`)
            continue
          }
          if (isStale(outcome)) {
            yield* Effect.logWarning(`no longer leading ${name}: ${String(Cause.squash((outcome as Exit.Failure<A, E>).cause))}; competing again`)
            yield* Effect.sleep(acquire)
            continue
          }
          return yield* (outcome as Exit.Exit<A, Exclude<E, StaleWrite>>)
        }
      })

    const holders: Effect.Effect<ReadonlyArray<Holder>, StoreError> = Effect.suspend(() => {
      const session = current
      if (session === undefined) return Effect.fail(new StoreError({ operation: "Leadership.holders", cause: new Error("no leadership connection") }))
      return ask<{ name: string; holder: string | null; mine: boolean | null }>(session, HOLDERS, () => [[...known]]).pipe(
        Effect.mapError((cause) => new StoreError({ operation: "Leadership.holders", cause })),
        Effect.map((rows) =>
          rows.map((r) => ({
            name: r.name,
            member: r.mine === true ? member.id : memberOfApplicationName(r.holder),
            since: r.mine === true ? session.held.get(r.name) ?? null : null
          }))
        )
      )
    })

    return { lead, holders }
  })
