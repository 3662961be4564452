/**
 * The next window to PULL from Datafordeler's legacy event service. Events
 * are committed with a timestamp earlier than the moment they become visible,
 * so the service's documentation asks for windows that end at least a minute
 * before now and overlap the previous one. The cursor is the end of the last
 * window whose effects were committed; the next window starts `overlap`
 * before it and ends `lag` before now. A window is asked for only once it
 * reaches `poll` past the cursor (or is a full catch-up window): a round
 * re-reads the overlap, so rounds back to back would ask the service for the
 * same events again and again. Overlapping events cost no fetch the second
 * time (the store already shows their registrations).
 */
import { type Instant, fromEpochMillis, toEpochMillis } from "../core/Instant.js"

export interface WindowSettings {
  readonly lagMs: number
  readonly overlapMs: number
  /** Longest window asked for at once (a long outage is caught up window by window). */
  readonly maxWindowMs: number
  /** Shortest step past the cursor worth a round. */
  readonly pollMs: number
}

export interface PullWindow {
  readonly from: Instant
  readonly to: Instant
}

/** How far past the cursor a window must reach before it is asked for. */
const stepMs = (s: WindowSettings) => Math.min(s.pollMs, s.maxWindowMs)

/** The next window after `cursor`, or none when it is not yet due (see `dueInMs`). */
export const nextWindow = (cursor: Instant, nowMs: number, s: WindowSettings): PullWindow | undefined => {
  const cursorMs = toEpochMillis(cursor)
  const toMs = Math.min(nowMs - s.lagMs, cursorMs + s.maxWindowMs)
  return toMs < cursorMs + stepMs(s) ? undefined : { from: fromEpochMillis(cursorMs - s.overlapMs), to: fromEpochMillis(toMs) }
}

/** How long until the next window after `cursor` is due (0 when it is). */
export const dueInMs = (cursor: Instant, nowMs: number, s: WindowSettings): number =>
  Math.max(0, toEpochMillis(cursor) + stepMs(s) + s.lagMs - nowMs)

/** Pages of one window: keep asking while a page comes back full. */
export const morePages = (pageLength: number, pageSize: number): boolean => pageLength >= pageSize

/**
 * Why a first PULL cursor at `startAt` cannot be used, if it cannot: the
 * service keeps events `retentionDays`, so events before that are gone (a
 * silent loss otherwise), and a start in the future would skip what happens
 * until then.
 */
export const startAtRefusal = (startAt: Instant, nowMs: number, retentionDays: number): string | undefined => {
  const oldestMs = nowMs - retentionDays * 86_400_000
  if (toEpochMillis(startAt) < oldestMs)
    return `${startAt} is older than the service keeps events (fullLoad.retentionDays ${retentionDays}: no earlier than ${fromEpochMillis(oldestMs)}); events before that are gone — start later and load what came before (fullLoad.download, an entity's list query, or skygge import-extract --mirror)`
  if (toEpochMillis(startAt) > nowMs) return `${startAt} is in the future: events until then would be skipped`
  return undefined
}

/**
 * Where events must be read from after a first start loaded a file download
 * whose newest row was written at `newestWrite`. A download is generated daily
 * or weekly, so whatever changed between its generation and the start comes
 * only from events: they are read from `overlapMs` before its newest row (row
 * and event stamps may differ a little; the mirror absorbs what is read twice).
 * Never later than where the path would have started anyway (`planned`), and
 * never before the oldest event the service keeps — a download older than that
 * has lost changes, which `lost` says (the next full load repairs them).
 */
export const startAfterDownload = (
  planned: Instant,
  newestWrite: Instant,
  overlapMs: number,
  nowMs: number,
  retentionDays: number
): { readonly at: Instant; readonly lost?: string } => {
  const sinceMs = Math.floor(toEpochMillis(newestWrite)) - overlapMs
  const oldestMs = nowMs - retentionDays * 86_400_000
  if (sinceMs >= toEpochMillis(planned)) return { at: planned }
  if (sinceMs >= oldestMs) return { at: fromEpochMillis(sinceMs) }
  const oldest = fromEpochMillis(oldestMs)
  return {
    at: oldest,
    lost: `the file download's newest row was written at ${newestWrite}, before the oldest event the service keeps (fullLoad.retentionDays ${retentionDays}: ${oldest}); changes in between are missing until a newer download is loaded (fullLoad.cron)`
  }
}
