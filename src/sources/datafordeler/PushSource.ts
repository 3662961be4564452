/**
 * A Datafordeler source receiving events by PUSH (OData v4 `POST /Events` and
 * `POST /$batch`). The receiver validates each event with the same decoder as
 * PULL (a malformed one is a 400 and nothing of the request is stored),
 * records the request's events in the inbox in one transaction, and only then
 * answers 201 — fast, with no fetch in the way. A loop takes the inbox in
 * order: events folded per object (deduplicated by envelope Id), objects
 * fetched and mirrored exactly as on the PULL path, and the entries marked
 * processed once that is committed (a crash in between only repeats
 * idempotent work). PULL or GraphQL events remain the backstop for anything a
 * PUSH never delivered.
 */
import { Leadership } from "../../cluster/Leadership.js"
import { Clock, Duration, Effect, Option, Queue, Runtime, Schedule } from "effect"
import { readFileSync } from "node:fs"
import { decodePullEnvelope } from "../../domain/datafordeler/DatafordelerEvents.js"
import { fromEpochMillis } from "../../domain/core/Instant.js"
import { PushInbox } from "../../store/PushInbox.js"
import { SourceCursors } from "../../store/SourceCursors.js"
import { Store } from "../../store/Store.js"
import type { FullLoadOnce } from "./FullLoad.js"
import type { PushSettings } from "./DafConfig.js"
import { type DafRuntime, dataServiceOf } from "./DafRuntime.js"
import type { Pools } from "./ObjectFetch.js"
import { applyWanted, eventFold } from "./PointerEvents.js"
import { startPushReceiver } from "./push/PushReceiver.js"

const BATCH = 1000

/** The receiver (listening when this returns: a port in use stops the start) and the inbox loop, both for the life of the scope. */
/** The receiver, in every process; the inbox's drain only while this process holds singleton `drainSingleton`. */
export const startPushSource = (runtime: DafRuntime, push: PushSettings, pools: Pools, fullLoad: FullLoadOnce, drainSingleton: string) =>
  Effect.gen(function* () {
    const leadership = yield* Leadership
    const source = runtime.source
    const inbox = yield* PushInbox
    const wake = yield* Queue.sliding<void>(1)
    const run = Runtime.runPromise(yield* Effect.runtime<never>())
    const log = Effect.annotateLogs({ source: source.name, path: "push" })

    const receiver = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          startPushReceiver({
            host: push.host,
            port: push.port,
            basePath: push.basePath,
            ...(push.tls === undefined
              ? {}
              : {
                tls: {
                  key: readFileSync(push.tls.key),
                  cert: readFileSync(push.tls.cert),
                  ...(push.tls.ca !== undefined ? { ca: readFileSync(push.tls.ca) } : {}),
                  requestClientCert: push.tls.requestClientCert,
                  ...(push.allowedSubjects !== undefined ? { allowedSubjects: push.allowedSubjects } : {})
                }
              }),
            ...(push.clientCertHeader !== undefined ? { trustProxyClientCertHeader: push.clientCertHeader } : {}),
            ...(push.clientCertHeader !== undefined && push.allowedSubjects !== undefined ? { allowedForwardedSubjects: push.allowedSubjects } : {}),
            maxBodyBytes: push.maxBodyMiB * 1024 * 1024,
            validate: (raw) => {
              const e = decodePullEnvelope(raw, source.timeZone)
              return "reason" in e ? e.reason : undefined
            },
            record: (events) =>
              run(
                inbox.record(source.name, events.map((e) => ({ envelopeId: e.envelopeId, body: JSON.stringify(e.raw) }))).pipe(Effect.zipLeft(Queue.offer(wake, undefined)))
              ).then(() => undefined),
            // Outcomes carry statuses and reasons, never bodies (events are personal data).
            onOutcome: (o) =>
              void run(
                (o.status >= 400 ? Effect.logWarning("PUSH request refused") : Effect.logDebug("PUSH request")).pipe(
                  log,
                  Effect.annotateLogs({ status: o.status, path: o.path, recorded: o.recorded, ...(o.problems.length > 0 ? { problems: o.problems.slice(0, 5).join("; ") } : {}) })
                )
              )
          }),
        catch: (e) => new Error(`the PUSH receiver cannot listen on ${push.host}:${push.port}: ${(e as Error).message}`)
      }),
      (r) => Effect.promise(() => r.close())
    )
    yield* Effect.logInfo("PUSH receiver listening").pipe(log, Effect.annotateLogs({ url: receiver.url }))

    // Processed entries are kept for the dedup window, then pruned.
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        const before = fromEpochMillis((yield* Clock.currentTimeMillis) - push.dedupHours * 3_600_000)
        yield* inbox.prune(before)
      }).pipe(Effect.repeat(Schedule.spaced(Duration.hours(1))))
    )

    yield* Effect.forkScoped(leadership.lead(drainSingleton, processInbox(runtime, push, wake, pools, fullLoad)).pipe(log))
  })

const processInbox = (runtime: DafRuntime, push: PushSettings, wake: Queue.Queue<void>, pools: Pools, fullLoad: FullLoadOnce) =>
  Effect.gen(function* () {
    const source = runtime.source
    const inbox = yield* PushInbox
    const store = yield* Store
    const data = dataServiceOf(runtime, pools, push, "push")
    // A PUSH subscription only delivers what happens from now on: a first start loads history first,
    // while the receiver already records what arrives (it is applied right after).
    const cursors = yield* SourceCursors
    const marker = `${source.name}:push`
    // The marker as stored: every move is a compare-and-set against it (a drain that lost its leadership cannot move it back).
    let held = Option.match(yield* cursors.get(marker), { onNone: () => null, onSome: (c) => c.cursor })
    if (held === null) {
      const loaded = yield* fullLoad("first start: PUSH delivers only what happens from now on")
      // PUSH cannot replay: without an event path beside it, what changed after the download was generated waits for a full load.
      if (loaded.downloadNewestWrite !== null && source.pull === undefined && source.graphql === undefined) {
        yield* Effect.logWarning(
          `the file download's newest row was written at ${loaded.downloadNewestWrite}: changes between its generation and the subscription's first push reach the shadow only with the next full load (fullLoad.cron, or an entity's list query), or with graphql/pull beside push`
        ).pipe(Effect.annotateLogs({ source: source.name, path: "push" }))
      }
      yield* cursors.set(marker, "0", null)
      held = "0"
    }
    for (;;) {
      const entries = yield* inbox.pending(source.name, BATCH)
      if (entries.length === 0) {
        yield* Queue.take(wake).pipe(Effect.timeout(Duration.seconds(5)), Effect.ignore)
        continue
      }
      const fold = eventFold(source)
      const refusals: Array<string> = []
      for (const entry of entries) {
        const e = decodePullEnvelope(JSON.parse(entry.body) as unknown, source.timeZone)
        if ("reason" in e) refusals.push(`PUSH envelope ${entry.envelopeId}: ${e.reason}`)
        else fold.take(e)
      }
      if (refusals.length > 0) yield* store.ingest(`datafordeler:${source.name}`, refusals.map((reason) => ({ input: { reason } })))
      // The PUSH "cursor" is the last inbox entry applied: its age says how long since a push was applied.
      const lastId = String(entries[entries.length - 1]!.id)
      const applied = yield* applyWanted(source, data, fold.wanted.values(), `push:${source.name}:${lastId}`, { source: marker, cursor: lastId, expected: held })
      if (applied.parked > 0) {
        // The entries stay pending and are taken again; what was applied is applied again idempotently.
        yield* Effect.logWarning("pushed objects whose rows do not yet show their events; trying again").pipe(Effect.annotateLogs({ parked: applied.parked }))
        yield* Effect.sleep(Duration.seconds(Math.min(30, push.maxBackoffSeconds)))
        continue
      }
      held = lastId
      yield* inbox.markProcessed(entries.map((e) => e.id))
      yield* Effect.logDebug("pushed events applied").pipe(Effect.annotateLogs({ events: fold.events(), objects: applied.objects }))
    }
  })
