/**
 * A Datafordeler source on the legacy PULL service. Each round: the next
 * window after the durable cursor (overlapping it, ending `lag` before now),
 * every page of it (until a short page), the events deduplicated by envelope
 * Id, one fetch per object of a configured entity (however many events it
 * had), the rows mirrored with the object's whole history in hand, and only
 * then the cursor moved to the window's end. REST may lag the events: an
 * object whose rows do not yet show its newest registration is fetched again
 * with backoff, and if it still does not, the cursor stays so the next round
 * sees the window again (nothing is stored as current that is not). A first
 * start begins at `pull.startAt` (else now − lag); it, or a cursor older than
 * the service keeps events, says so loudly and runs the source's full load
 * first (whatever came before the starting point comes from there). A file
 * download is generated before the start: the events are then read from
 * `fullLoad.downloadOverlapMinutes` before its newest row.
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { Dispatcher } from "undici"
import { decodePullEnvelope, decodePullXmlPage } from "../../domain/datafordeler/DatafordelerEvents.js"
import { jsonElements } from "../../ingest/JsonElements.js"
import { fromEpochMillis, type Instant, toEpochMillis } from "../../domain/core/Instant.js"
import { dueInMs, morePages, nextWindow, type PullWindow, startAfterDownload } from "../../domain/datafordeler/PullWindow.js"
import { SourceCursors } from "../../store/SourceCursors.js"
import { Store, type Submission } from "../../store/Store.js"
import { printableUrl } from "../../ingest/Download.js"
import type { DafSource, PullSettings } from "./DafConfig.js"
import { type DafRuntime, dataServiceOf } from "./DafRuntime.js"
import type { FullLoadOnce } from "./FullLoad.js"
import { DecodeError, isUpstreamError, retryAfterOf, statusError } from "../FetchError.js"
import { type Pools, request, type Service, withRetry } from "./ObjectFetch.js"
import { applyWanted, eventFold, MIRROR_CHUNK_ROWS, mirrorInline } from "./PointerEvents.js"
import { pullCursorName, pullStartAt } from "./StartingPoint.js"

const PULL_PATH = "/system/EventMessages/1.0.0/custom"

/**
 * Inline rows mirrored per transaction while a page streams. SKYGGE_TEST_INLINE_CHUNK_ROWS makes it
 * small for tests (honoured only under vitest: not a setting).
 */
const inlineChunkRows = (): number => {
  const n = process.env.VITEST === undefined ? NaN : Number(process.env.SKYGGE_TEST_INLINE_CHUNK_ROWS)
  return Number.isInteger(n) && n > 0 ? n : MIRROR_CHUNK_ROWS
}

/**
 * Every event of a window, page after page, each page streamed element by element, folded into
 * per-object work. Rows carried inline are mirrored while the page streams, every `inlineChunkRows`
 * of them (memory stays bounded by the objects, not the page's rows); an object whose events fall in
 * two chunks is mirrored twice, each time as of its events so far. A page that fails is read again
 * from its start (events are deduplicated by Id; what was mirrored stays, and is stale, not reopened,
 * for what later events closed).
 */
const pullWindow = (service: Service, source: DafSource, pull: PullSettings, window: PullWindow, eventId: string) =>
  Effect.gen(function* () {
    const fold = eventFold(source)
    const chunkRows = inlineChunkRows()
    const refused: Array<{ id: string | null; reason: string }> = []
    // A chunk of inline rows, once the fold holds one, mirrored.
    const mirrorFullChunk = Effect.suspend(() => (fold.inlineRows() >= chunkRows ? Effect.asVoid(mirrorInline(source, fold.drainInline(), eventId, chunkRows)) : Effect.void))
    for (let page = 1; ; page++) {
      const url = new URL(pull.url)
      url.pathname = url.pathname.replace(/\/+$/, "") + PULL_PATH
      url.searchParams.set("datefrom", window.from)
      url.searchParams.set("dateto", window.to)
      url.searchParams.set("page", String(page))
      url.searchParams.set("pagesize", String(pull.pageSize))
      url.searchParams.set("format", pull.format)
      const open = request(url.href, async (signal) => {
        const headers: Record<string, string> = { accept: pull.format === "xml" ? "application/xml" : "application/json" }
        await service.credentials.apply(url, headers, signal)
        const res = await service.pools(url.origin).request({
          path: url.pathname + url.search,
          method: "GET",
          headers,
          signal,
          headersTimeout: pull.timeoutSeconds * 1000,
          bodyTimeout: pull.timeoutSeconds * 1000
        })
        if (res.statusCode !== 200) {
          await res.body.dump()
          throw statusError(url.href, res.statusCode, { retryAfter: retryAfterOf(res.headers["retry-after"], Date.now()) })
        }
        return res.body
      })
      const xmlPage = (body: Dispatcher.ResponseData["body"]) =>
        request(url.href, async () => {
          const xml = decodePullXmlPage(await body.text(), source.timeZone)
          if (xml._tag === "Failed") throw new DecodeError({ url: printableUrl(url.href), message: `page ${page}: ${xml.reason}` })
          for (const r of xml.refused) refused.push({ id: r.id, reason: r.reason })
          for (const e of xml.events) fold.take(e)
          return xml.events.length + xml.refused.length
        })
      // Decoded as it arrives, in runs that end when the fold holds a chunk of inline rows: mirrored then, between elements.
      // Only a whole array is a page: one cut off (or none) would end the window early and move the cursor past what it lacked.
      const jsonPage = (body: Dispatcher.ResponseData["body"]) =>
        Effect.gen(function* () {
          const elements = jsonElements(body, { maxElementBytes: 16 * 1024 * 1024, wholeArray: true })[Symbol.asyncIterator]()
          let n = 0
          for (;;) {
            const ended = yield* request(url.href, async () => {
              while (fold.inlineRows() < chunkRows) {
                const next = await elements.next()
                if (next.done === true) return true
                const element = next.value
                n++
                if (element._tag === "Bad") refused.push({ id: null, reason: `page ${page} element ${element.index + 1}: ${element.reason}` })
                else {
                  const e = decodePullEnvelope(element.value, source.timeZone)
                  if ("reason" in e) refused.push({ id: null, reason: e.reason })
                  else fold.take(e)
                }
              }
              return false
            })
            yield* mirrorFullChunk
            if (ended) return n
          }
        })
      // A page that fails is read again from its start. Its body is let go however the read ends (interrupted,
      // failed): destroyed, with a listener for the abort error that is then ours to ignore.
      const letGo = (body: Dispatcher.ResponseData["body"]) => Effect.sync(() => void (body.destroyed ? undefined : body.on("error", () => undefined).destroy()))
      const length = yield* withRetry(pull, Effect.acquireUseRelease(open, (body) => (pull.format === "xml" ? xmlPage(body) : jsonPage(body)), letGo))
      yield* mirrorFullChunk
      if (!morePages(length, pull.pageSize)) break
    }
    return { wanted: fold.wanted, refused, events: fold.events() }
  })

export const runPullSource = (runtime: DafRuntime, pull: PullSettings, pools: Pools, fullLoad: FullLoadOnce) =>
  Effect.scoped(Effect.gen(function* () {
    const source = runtime.source
    const data = dataServiceOf(runtime, pools, pull, "pull")
    const service = data.service
    const cursors = yield* SourceCursors
    const store = yield* Store
    const settings = {
      lagMs: pull.lagSeconds * 1000,
      overlapMs: pull.overlapSeconds * 1000,
      maxWindowMs: pull.maxWindowSeconds * 1000,
      pollMs: pull.pollSeconds * 1000
    }
    const log = Effect.annotateLogs({ source: source.name, path: "pull" })
    const cursorName = pullCursorName(source)
    // A first start begins at pull.startAt (checked at start) or now − lag; a cursor older than retention at now − lag. What came before is loaded first.
    const stored = Option.map(yield* cursors.get(cursorName), (c) => c.cursor as Instant)
    const nowMs = yield* Clock.currentTimeMillis
    const startAt = pullStartAt(source)
    const fromNow = fromEpochMillis(nowMs - settings.lagMs)
    const start: { at: Instant; why: string } | undefined = Option.isNone(stored)
      ? startAt !== undefined
        ? { at: startAt, why: `first start: events are read from pull.startAt (${startAt})` }
        : { at: fromNow, why: `first start: events are read from now on (${fromNow}); set pull.startAt to read the subscription's earlier events` }
      : toEpochMillis(stored.value) < nowMs - source.fullLoad.retentionDays * 86_400_000
      ? { at: fromNow, why: `the cursor ${stored.value} is older than the service keeps events (${source.fullLoad.retentionDays} days): events since then are lost; events are read from now on (${fromNow})` }
      : undefined
    let at: Instant
    if (start === undefined) at = Option.getOrThrow(stored)
    else {
      const loaded = yield* fullLoad(start.why).pipe(log)
      at = start.at
      if (loaded.downloadNewestWrite !== null) {
        // What changed since the download was generated comes from events: read them from before its newest row.
        const after = startAfterDownload(start.at, loaded.downloadNewestWrite, source.fullLoad.downloadOverlapMinutes * 60_000, yield* Clock.currentTimeMillis, source.fullLoad.retentionDays)
        if (after.lost !== undefined) yield* Effect.logError(after.lost).pipe(log)
        if (after.at !== at) yield* Effect.logWarning(`events are read from ${after.at}, ${source.fullLoad.downloadOverlapMinutes} minutes (fullLoad.downloadOverlapMinutes) before the file download's newest row`).pipe(log)
        at = after.at
      }
      yield* cursors.set(cursorName, at, Option.getOrNull(stored))
    }
    // Refusals recorded (an envelope's reason names its Id), with the end of the window that read them.
    const refusedIn = new Map<string, Instant>()
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const window = nextWindow(at, now, settings)
      if (window === undefined) {
        // Not due yet: sleep until the window reaches pollSeconds past the cursor (a round re-reads the overlap).
        yield* Effect.sleep(Duration.millis(Math.max(1, dueInMs(at, now, settings))))
        continue
      }
      const eventId = `pull:${source.name}:${window.to}`
      const pulled = yield* Effect.either(pullWindow(service, source, pull, window, eventId))
      if (pulled._tag === "Left") {
        // A chunk mirrored while a page streamed failed in the store: not the service's failure, it ends the source as before.
        if (!isUpstreamError(pulled.left)) return yield* Effect.fail(pulled.left)
        yield* Effect.logWarning("PULL failed; trying the window again later").pipe(log, Effect.annotateLogs({ error: pulled.left.message }))
        yield* Effect.sleep(Duration.seconds(pull.pollSeconds))
        continue
      }
      const { wanted, refused, events } = pulled.right
      // Windows overlap, and a parked one is read again: an envelope already refused is not recorded again.
      for (const [reason, to] of refusedIn) if (to < window.from) refusedIn.delete(reason)
      const fresh = [...new Set(refused.map((r) => `PULL envelope${r.id === null ? "" : ` ${r.id}`}: ${r.reason}`))].filter((reason) => !refusedIn.has(reason))
      if (fresh.length > 0) {
        const submissions: Array<Submission> = fresh.map((reason) => ({ input: { reason } }))
        yield* store.ingest(`datafordeler:${source.name}`, submissions)
        for (const reason of fresh) refusedIn.set(reason, window.to)
      }
      const applied = yield* applyWanted(source, data, wanted.values(), eventId, { source: cursorName, cursor: window.to, expected: at })
      if (applied.parked > 0) {
        // The window is seen again next round: objects are mirrored idempotently, so only the lagging ones change.
        yield* Effect.logWarning("objects whose rows do not yet show their events; the window will be read again").pipe(log, Effect.annotateLogs({ parked: applied.parked, window: window.to }))
        yield* Effect.sleep(Duration.seconds(pull.pollSeconds))
        continue
      }
      at = window.to
      yield* Effect.logDebug("PULL window committed").pipe(log, Effect.annotateLogs({ from: window.from, to: window.to, events, objects: applied.objects, known: applied.known }))
    }
  }))
