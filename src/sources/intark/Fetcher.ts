/**
 * The IntArk fetchers: drain the work queue with a concurrency limit, fetch
 * each object from the provider's API (one undici Pool per source, timeouts),
 * and register what the API said — at the time it said it — in one store
 * transaction per batch. Failures stay in the queue with their attempt count
 * and a jittered backoff (429 honours Retry-After) until `maxAttempts`, then
 * the item is abandoned, visible in metrics and revived by a resync. A failure
 * that cannot pass (a 401, a body that is not JSON) is abandoned at once; a 404
 * not proven to be the provider's is kept (a gateway may say it in passing).
 *
 * Claims are leases of this process's cluster membership (cluster/Membership): at start and every
 * half member timeout the fetcher returns to the pool the claims of members that are gone (a crashed
 * process, this one's earlier run), never a live one's; what was fetched for an item no longer claimed
 * by this process (it was presumed dead, and another took the item over) is neither registered (the
 * store checks the claims in the writing transaction: Store.ingestClaimed) nor settled (the queue drops it). A
 * store failure stops the fetcher only for a backoff: a live member whose fetcher had stopped would
 * hold its claims for as long as it lives. Starting again, it takes back its own claims of the batch
 * the failure cut short.
 */
import { Clock, Duration, Effect, Queue, Redacted } from "effect"
import { backoff, backoffDelay } from "../../schedule/Backoff.js"
import { Membership } from "../../cluster/Membership.js"
import { setMaxListeners } from "node:events"
import { Pool } from "undici"
import { fromEpochMillis, type Instant, toEpochMillis } from "../../domain/core/Instant.js"
import { type Operation, type Refusal } from "../../domain/core/Operation.js"
import { deletionOperations, type ResourceRule, stateOperations } from "../../domain/intark/ProviderState.js"
import { worthConfirming } from "../../domain/intark/WorkSettlement.js"
import { Store, type Submission } from "../../store/Store.js"
import { type Settlement, type WorkItem, WorkQueue } from "../../store/WorkQueue.js"
import { printableUrl } from "../../ingest/Download.js"
import { DecodeError, FetchError, requestError, retryAfterOf, statusError, type UpstreamError } from "../FetchError.js"
import { type IntarkSource, objectTypeOf } from "./IntarkConfig.js"

export type FetchResult =
  | { readonly _tag: "State"; readonly body: unknown; readonly at: Instant }
  | { readonly _tag: "Gone"; readonly at: Instant }
  | { readonly _tag: "Failed"; readonly error: UpstreamError }

export interface FetcherOptions {
  readonly source: IntarkSource
  /** Authorization-type headers, already resolved from secrets. */
  readonly authHeaders: Readonly<Record<string, Redacted.Redacted>>
}

/** The request path for an item: the resource's template, the notification's own pointer (under baseUrl only), or /{resource}/{id}. */
export const requestPath = (source: IntarkSource, item: Pick<WorkItem, "resource" | "objectId" | "location">): string => {
  const base = new URL(source.provider.baseUrl)
  const prefix = base.pathname.replace(/\/+$/, "")
  const template = source.resources[item.resource]?.path
  if (template !== undefined) {
    return prefix + template.replaceAll("{id}", encodeURIComponent(item.objectId)).replaceAll("{resource}", encodeURIComponent(item.resource))
  }
  const location = item.location
  if (location !== null) {
    if (!/^[a-z][a-z0-9+.-]*:/i.test(location)) return `${prefix}/${location.replace(/^\/+/, "")}`
    // An absolute pointer is followed only into the provider we trust (never a URL a message made up).
    try {
      const u = new URL(location)
      if (u.origin === base.origin && u.pathname.startsWith(`${prefix}/`)) return u.pathname + u.search
    } catch {
      // fall through to the default
    }
  }
  return `${prefix}/${encodeURIComponent(item.resource)}/${encodeURIComponent(item.objectId)}`
}

export const makeFetcher = (options: FetcherOptions) =>
  Effect.gen(function* () {
    const { source } = options
    const p = source.provider
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => new Pool(new URL(p.baseUrl).origin, { connections: p.concurrency, pipelining: 1, keepAliveTimeout: 30_000 })),
      (pool) => Effect.promise(() => pool.close().catch(() => undefined))
    )
    const headers = (): Record<string, string> => {
      const h: Record<string, string> = { accept: "application/json" }
      for (const [k, v] of Object.entries(options.authHeaders)) h[k] = Redacted.value(v)
      return h
    }
    const trustedGone = (status: number, header: string | string[] | undefined, body: string): boolean => {
      if (status !== 404 && status !== 410) return false
      const d = p.deletion
      if (d.header === undefined && d.bodyIncludes === undefined) return false
      const headerOk = d.header === undefined || (Array.isArray(header) ? header.includes(d.header.value) : header === d.header.value)
      const bodyOk = d.bodyIncludes === undefined || body.includes(d.bodyIncludes)
      return headerOk && bodyOk
    }

    const clock = yield* Effect.clock
    const requestHeaders = headers()
    const timeoutMs = p.timeoutSeconds * 1000

    const interpret = (href: string, status: number, text: string, h: Record<string, string | string[] | undefined>, nowMs: number): FetchResult => {
      // The registration time: when the API said it.
      const at = fromEpochMillis(nowMs)
      const url = printableUrl(href)
      if (status === 200) {
        try {
          return { _tag: "State", body: JSON.parse(text) as unknown, at }
        } catch {
          return { _tag: "Failed", error: new DecodeError({ url, message: `HTTP 200 with a body that is not JSON from ${url}` }) }
        }
      }
      const deletionHeader = p.deletion.header === undefined ? undefined : h[p.deletion.header.name.toLowerCase()]
      if (trustedGone(status, deletionHeader, text)) return { _tag: "Gone", at }
      // Only the status: a body may carry personal data.
      if (status === 404 || status === 410) {
        return { _tag: "Failed", error: new FetchError({ url, status, transient: true, message: `HTTP ${status} not proven to come from the provider (kept, retried)` }) }
      }
      return { _tag: "Failed", error: statusError(url, status, { retryAfter: retryAfterOf(h["retry-after"], nowMs) }) }
    }

    const fetchPromise = async (item: WorkItem, signal: AbortSignal): Promise<FetchResult> => {
      const path = requestPath(source, item)
      const url = new URL(path, p.baseUrl).href
      try {
        const res = await pool.request({ path, method: "GET", headers: requestHeaders, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
        const text = await res.body.text()
        return interpret(url, res.statusCode, text, res.headers, clock.unsafeCurrentTimeMillis())
      } catch (e) {
        return { _tag: "Failed", error: requestError(url, e) }
      }
    }

    /**
     * Fetch a batch, `concurrency` at a time. A plain promise pool rather than a
     * fiber per request: this is the hot path, and interruption still aborts every request.
     */
    const fetchAll = (items: ReadonlyArray<WorkItem>): Effect.Effect<ReadonlyArray<FetchResult>> =>
      Effect.promise(async (signal) => {
        // Every request of the batch listens on this one signal (bounded by the batch size).
        setMaxListeners(0, signal)
        const results: Array<FetchResult> = new Array(items.length)
        let next = 0
        const worker = async () => {
          while (next < items.length && !signal.aborted) {
            const i = next++
            results[i] = await fetchPromise(items[i]!, signal)
          }
        }
        await Promise.all(Array.from({ length: Math.min(p.concurrency, items.length) }, worker))
        return results
      })
    return { fetchAll }
  })

/** The operations for one fetch result, or a refusal (provider data the store cannot take). */
const operationsFor = (source: IntarkSource, item: WorkItem, result: FetchResult & { _tag: "State" | "Gone" }): ReadonlyArray<Operation> | Refusal => {
  const settings = source.resources[item.resource] ?? {}
  const rule: ResourceRule = {
    objectType: objectTypeOf(source, item.resource),
    timeZone: source.timeZone,
    ...(settings.validFrom !== undefined ? { validFrom: settings.validFrom } : {}),
    ...(settings.validTo !== undefined ? { validTo: settings.validTo } : {}),
    ...(settings.fields !== undefined ? { fields: settings.fields } : {})
  }
  // Provenance in the event id (shown on every row): what was fetched when, and when the notification was issued.
  const eventId = `intark:${source.name}:${item.resource}:${item.objectId}:${result.at}${item.issuedAt !== null ? `:iat=${item.issuedAt}` : ""}`
  return result._tag === "State" ? stateOperations(rule, item.objectId, result.body, result.at, eventId) : deletionOperations(rule, item.objectId, result.at, eventId)
}

/** Drain the source's work queue until interrupted; started again after a backoff when the store fails. */
export const runFetcher = (options: FetcherOptions) =>
  drain(options).pipe(
    Effect.tapError((e) => Effect.logWarning("intark fetcher: the store failed; starting again after a pause").pipe(Effect.annotateLogs({ source: options.source.name, error: e.message }))),
    Effect.retry(backoff({ base: Duration.seconds(1), max: Duration.seconds(30) }))
  )

const drain = (options: FetcherOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { source } = options
      const p = source.provider
      const workQueue = yield* WorkQueue
      const store = yield* Store
      const { fetchAll } = yield* makeFetcher(options)
      const membership = yield* Membership
      const wake = yield* workQueue.queued
      const recoverEveryMs = Duration.toMillis(membership.recoverEvery)
      const recoverGone = (restarting?: string) =>
        Effect.gen(function* () {
          const recovered = yield* workQueue.recover(source.name, yield* membership.liveSince, restarting)
          if (recovered > 0) yield* Effect.logInfo("intark: fetches claimed by members that are gone are queued again").pipe(Effect.annotateLogs({ source: source.name, items: recovered }))
          return (yield* Clock.currentTimeMillis) + recoverEveryMs
        })
      // At start, this member's own claims of the source are none of a live fetcher's (a failure cut them short).
      let nextRecovery = yield* recoverGone(membership.member.id)
      for (;;) {
        if ((yield* Clock.currentTimeMillis) >= nextRecovery) nextRecovery = yield* recoverGone()
        const items = yield* workQueue.claim(source.name, p.concurrency * 8, membership.member.id)
        if (items.length === 0) {
          const nowMs = yield* Clock.currentTimeMillis
          const next = yield* workQueue.nextDue(source.name)
          const waitMs = next === null ? 1000 : Math.max(1, Math.min(1000, toEpochMillis(next) - nowMs + 1))
          yield* Effect.race(Effect.sleep(Duration.millis(waitMs)), Queue.take(wake))
          continue
        }
        const results = yield* fetchAll(items)
        // One transaction for the whole batch's registrations.
        const submissions: Array<Submission> = []
        const fetchedFor: Array<WorkItem> = []
        const ranges: Array<[number, number]> = []
        const refusedAt: Array<string | undefined> = []
        items.forEach((item, i) => {
          const result = results[i]!
          const start = submissions.length
          if (result._tag !== "Failed") {
            const ops = operationsFor(source, item, result)
            if ("reason" in ops) {
              submissions.push({ input: { ...ops, objectId: item.objectId }, raw: JSON.stringify({ source: source.name, resource: item.resource, id: item.objectId }) })
              refusedAt[i] = ops.reason
            } else for (const op of ops) submissions.push({ input: op })
          }
          while (fetchedFor.length < submissions.length) fetchedFor.push(item)
          ranges.push([start, submissions.length])
        })
        // Written only while this member still holds the claims: one presumed dead (stalled) and taken
        // over must not write what it fetched before (stamped now, it would stand over the successor's).
        const outcomes = yield* store.ingestClaimed(`intark:${source.name}`, submissions, { source: source.name, claimedBy: membership.member.id, items: fetchedFor })
        const nowMs = yield* Clock.currentTimeMillis
        const settlements: Array<readonly [WorkItem, Settlement]> = []
        let failed = 0, abandoned = 0
        for (const [i, item] of items.entries()) {
          const result = results[i]!
          if (result._tag === "Failed") {
            failed++
            const error = result.error
            if (!error.transient || item.attempts + 1 >= p.maxAttempts) {
              abandoned++
              settlements.push([item, { _tag: "Abandon", error: error.message }])
            } else {
              const asked = error._tag === "FetchError" && error.retryAfter !== undefined ? Duration.toMillis(error.retryAfter) : undefined
              const delay = asked ?? Duration.toMillis(yield* backoffDelay({ base: Duration.seconds(1), max: Duration.seconds(p.maxBackoffSeconds) }, item.attempts))
              settlements.push([item, { _tag: "Retry", at: fromEpochMillis(nowMs + delay), error: error.message }])
            }
            continue
          }
          const [from, to] = ranges[i]!
          const own = outcomes.slice(from, to)
          const changed = own.some((o) => o?.outcome === "applied")
          // The API can lag its notifications: one more look later when the fetch may not show the change announced.
          const confirm = refusedAt[i] === undefined && p.confirmAfterSeconds > 0 &&
            worthConfirming({ changed, hints: item.hints, operation: item.operation, found: result._tag === "State" })
          settlements.push([item, confirm ? { _tag: "Confirm", at: fromEpochMillis(nowMs + p.confirmAfterSeconds * 1000) } : { _tag: "Done" }])
        }
        const dropped = yield* workQueue.settle(settlements)
        // Counts only: object ids are personal data.
        if (dropped > 0) yield* Effect.logWarning("intark: outcomes dropped — those items had been taken over by another member, presuming this one dead").pipe(Effect.annotateLogs({ source: source.name, dropped }))
        if (failed > 0) yield* Effect.logWarning("intark fetches failed; retrying later").pipe(Effect.annotateLogs({ source: source.name, failed, abandoned }))
      }
    })
  )
