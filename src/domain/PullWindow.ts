/**
 * The next window to PULL from Datafordeler's legacy event service. Events
 * are committed with a timestamp earlier than the moment they become visible,
 * so the service's documentation asks for windows that end at least a minute
 * before now and overlap the previous one. The cursor is the end of the last
 * window whose effects were committed; the next window starts `overlap`
 * before it and ends `lag` before now. Overlapping events are recognised by
 * their envelope Id and beskedID and cost nothing the second time.
 */
import { type Instant, fromEpochMillis, toEpochMillis } from "./Instant.js"

export interface WindowSettings {
  readonly lagMs: number
  readonly overlapMs: number
  /** Longest window asked for at once (a long outage is caught up window by window). */
  readonly maxWindowMs: number
}

export interface PullWindow {
  readonly from: Instant
  readonly to: Instant
}

/** The next window after `cursor`, or none when it would be empty (wait and ask again). */
export const nextWindow = (cursor: Instant, nowMs: number, s: WindowSettings): PullWindow | undefined => {
  const fromMs = toEpochMillis(cursor) - s.overlapMs
  const toMs = Math.min(nowMs - s.lagMs, toEpochMillis(cursor) + s.maxWindowMs)
  return toMs <= toEpochMillis(cursor) ? undefined : { from: fromEpochMillis(fromMs), to: fromEpochMillis(toMs) }
}

/** Pages of one window: keep asking while a page comes back full. */
export const morePages = (pageLength: number, pageSize: number): boolean => pageLength >= pageSize
