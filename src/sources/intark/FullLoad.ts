/**
 * A new subscription sees only notifications published after it began, so a
 * source whose shadow holds nothing of a resource starts with a full load:
 * every object on the provider's list endpoint is queued as work (as if a
 * notification had named it) and fetched through the one fetch path. Without
 * a list endpoint the engine says, loudly, that the shadow will only hold
 * what changes from now on. The listing waits until the source's queue is
 * bound: a change made after a listing taken before the binding would be in
 * neither the listing nor the queue.
 */
import { Deferred, Duration, Effect, Redacted } from "effect"
import { backoff } from "../../schedule/Backoff.js"
import { request } from "undici"
import type { ChangeHint } from "../../domain/intark/ChangeHint.js"
import { type ListPage, listPage } from "../../domain/intark/ProviderList.js"
import { Store } from "../../store/Store.js"
import { type Received, WorkQueue } from "../../store/WorkQueue.js"
import { honouringRetryAfter, parseJson, requestError, retryAfterOf, statusError } from "../FetchError.js"
import { type IntarkSource, objectTypeOf } from "./IntarkConfig.js"

const MAX_PAGES = 100_000

const getJson = (url: string, headers: Record<string, string>, timeoutMs: number) =>
  Effect.tryPromise({
    try: async (signal) => {
      const res = await request(url, { method: "GET", headers, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
      const text = await res.body.text()
      if (res.statusCode !== 200) throw statusError(url, res.statusCode, { retryAfter: retryAfterOf(res.headers["retry-after"], Date.now()) })
      return parseJson(url, text)
    },
    catch: (e) => requestError(url, e)
  })

/** The request headers for a source's provider (auth resolved from secrets). */
export const providerHeaders = (authHeaders: Readonly<Record<string, Redacted.Redacted>>): Record<string, string> => {
  const headers: Record<string, string> = { accept: "application/json" }
  for (const [k, v] of Object.entries(authHeaders)) headers[k] = Redacted.value(v)
  return headers
}

/**
 * Walk a resource's list endpoint page by page (retrying each page with backoff), handing each page
 * to `onPage`. Only pages on the provider's own origin are followed. Fails with the last error.
 */
export const forEachListPage = <E, R>(
  source: IntarkSource,
  list: string,
  idField: string | undefined,
  headers: Record<string, string>,
  onPage: (page: ListPage) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function* () {
    const base = new URL(source.provider.baseUrl)
    const prefix = base.pathname.replace(/\/+$/, "")
    let url: string | null = `${base.origin}${prefix}${list.startsWith("/") ? "" : "/"}${list}`
    let pages = 0, unrecognised = 0
    while (url !== null && pages++ < MAX_PAGES) {
      const body = yield* getJson(url, headers, source.provider.timeoutSeconds * 1000).pipe(
        Effect.retry({ while: (e) => e.transient, times: Math.max(0, source.provider.maxAttempts - 1), schedule: listBackoff(source.provider.maxBackoffSeconds) })
      )
      const page = listPage(body, idField)
      unrecognised += page.unrecognised
      yield* onPage(page)
      url = page.next !== null && new URL(page.next, base).origin === base.origin ? new URL(page.next, base).href : null
    }
    return { pages, unrecognised }
  })

/** A work-queue hint for an object found by listing (no notification: operation unknown). */
export const listedHint = (source: IntarkSource, resource: string, id: string, location: string | null): Received => ({
  _tag: "Hint",
  hint: {
    format: source.format === "auto" ? "fs" : source.format,
    resource,
    id,
    operation: "unknown",
    messageId: null,
    issuedAt: null,
    location,
    validFrom: null
  } satisfies ChangeHint
})

/**
 * Queue every listed object of each resource the shadow holds none of, once `bound` has completed (the
 * source's queue is bound, so every change after the listing is notified); returns how many were queued.
 */
export const fullLoadIfEmpty = (source: IntarkSource, authHeaders: Readonly<Record<string, Redacted.Redacted>>, bound: Deferred.Deferred<void>) =>
  Effect.gen(function* () {
    const store = yield* Store
    const workQueue = yield* WorkQueue
    const headers = providerHeaders(authHeaders)
    let total = 0
    for (const [resource, settings] of Object.entries(source.resources)) {
      const objectType = objectTypeOf(source, resource)
      if (yield* store.hasObjects(objectType)) continue
      const log = Effect.annotateLogs({ source: source.name, resource, objectType })
      if (settings.list === undefined) {
        yield* Effect.logWarning(
          "the shadow holds nothing of this resource and no list endpoint is configured: it will only hold objects that change from now on (set resources.<resource>.list for a full load)"
        ).pipe(log)
        continue
      }
      if (!(yield* Deferred.isDone(bound))) {
        yield* Effect.logInfo("full load: waiting for the source's queue to be bound before listing (a change after the listing must be notified)").pipe(log)
        yield* Deferred.await(bound)
      }
      let queued = 0
      const { pages, unrecognised } = yield* forEachListPage(source, settings.list, settings.listIdField, headers, (page) => {
        queued += page.objects.length
        return workQueue.record(source.name, page.objects.map((o) => listedHint(source, resource, o.id, o.location)))
      })
      total += queued
      yield* Effect.logInfo("full load: every listed object queued for fetching").pipe(log, Effect.annotateLogs({ queued, unrecognised, pages }))
    }
    return total
  })

/** From half a second, capped; at least what the provider asked (Retry-After). */
const listBackoff = (maxSeconds: number) => honouringRetryAfter(backoff({ base: Duration.millis(500), max: Duration.seconds(maxSeconds) }), Duration.seconds(maxSeconds))
