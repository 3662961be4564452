import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromEpochMillis, instant, toEpochMillis } from "../../src/domain/core/Instant.js"
import { dueInMs, morePages, nextWindow, startAfterDownload, startAtRefusal } from "../../src/domain/datafordeler/PullWindow.js"

const settings = { lagMs: 60_000, overlapMs: 120_000, maxWindowMs: 3_600_000, pollMs: 30_000 }

describe("PULL windows", () => {
  it("end a minute before now, start the overlap before the cursor, and wait when nothing new can be asked", () => {
    const now = toEpochMillis(instant("2026-11-23T12:00:00Z"))
    expect(nextWindow(instant("2026-11-23T11:50:00Z"), now, settings)).toEqual({ from: instant("2026-11-23T11:48:00Z"), to: instant("2026-11-23T11:59:00Z") })
    expect(nextWindow(instant("2026-11-23T11:59:00Z"), now, settings)).toBeUndefined()
    // After an outage: an hour at a time.
    expect(nextWindow(instant("2026-11-20T00:00:00Z"), now, settings)).toEqual({ from: instant("2026-11-19T23:58:00Z"), to: instant("2026-11-20T01:00:00Z") })
    expect([morePages(100_000, 100_000), morePages(99_999, 100_000)]).toEqual([true, false])
  })

  it("are asked for only once they reach pollSeconds past the cursor, unless they are full catch-up windows", () => {
    const now = toEpochMillis(instant("2026-11-23T12:00:00Z"))
    // now − lag is 11:59:00: a cursor a millisecond (or 29 s) before it waits; 30 s before it is due.
    expect(nextWindow(instant("2026-11-23T11:58:59.999Z"), now, settings)).toBeUndefined()
    expect(nextWindow(instant("2026-11-23T11:58:31Z"), now, settings)).toBeUndefined()
    expect(dueInMs(instant("2026-11-23T11:58:31Z"), now, settings)).toBe(1000)
    expect(nextWindow(instant("2026-11-23T11:58:30Z"), now, settings)).toEqual({ from: instant("2026-11-23T11:56:30Z"), to: instant("2026-11-23T11:59:00Z") })
    expect(dueInMs(instant("2026-11-23T11:58:30Z"), now, settings)).toBe(0)
    // Windows shorter than a poll: a full one is due at once.
    const short = { ...settings, maxWindowMs: 10_000 }
    expect(nextWindow(instant("2026-11-23T11:58:50Z"), now, short)).toEqual({ from: instant("2026-11-23T11:56:50Z"), to: instant("2026-11-23T11:59:00Z") })
  })

  it("successive windows cover time without a gap, never reach into the last minute, and are never shorter than a poll unless full", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 9 }), fc.array(fc.integer({ min: 0, max: 7_200_000 }), { minLength: 1, maxLength: 30 }), (start, steps) => {
        let cursor = fromEpochMillis(1.7e12 + start)
        let now = 1.7e12 + start
        for (const step of steps) {
          now += step
          const w = nextWindow(cursor, now, settings)
          if (w === undefined) {
            expect(dueInMs(cursor, now, settings)).toBeGreaterThan(0)
            expect(nextWindow(cursor, now + dueInMs(cursor, now, settings), settings)).toBeDefined()
            continue
          }
          expect(toEpochMillis(w.from)).toBeLessThan(toEpochMillis(cursor)) // overlaps the last one
          expect(toEpochMillis(w.to)).toBeLessThanOrEqual(now - settings.lagMs)
          expect(toEpochMillis(w.to) - toEpochMillis(cursor)).toBeGreaterThanOrEqual(settings.pollMs)
          cursor = w.to
        }
      })
    )
  })

  it("refuse a first start older than the service keeps events, or in the future", () => {
    const now = toEpochMillis(instant("2026-11-23T12:00:00Z"))
    expect(startAtRefusal(instant("2026-09-24T12:00:00Z"), now, 60)).toBeUndefined()
    expect(startAtRefusal(instant("2026-09-24T11:59:59Z"), now, 60)).toMatch(/is older than the service keeps events \(fullLoad\.retentionDays 60: no earlier than 2026-09-24T12:00:00\.000000Z\)/)
    expect(startAtRefusal(instant("2026-11-23T12:00:01Z"), now, 60)).toMatch(/is in the future/)
    expect(startAtRefusal(instant("2026-11-23T11:00:00Z"), now, 0.01)).toMatch(/older than/)
  })

  describe("after a file download", () => {
    const now = toEpochMillis(instant("2026-11-23T12:00:00Z"))
    const planned = instant("2026-11-23T11:59:00Z")
    const hour = 3_600_000

    it("events are read from the overlap before the download's newest row, never later than planned", () => {
      // Generated on Sunday night, started on Monday: Monday's changes come from events.
      expect(startAfterDownload(planned, instant("2026-11-22T23:59:59.999999Z"), hour, now, 60)).toEqual({ at: instant("2026-11-22T22:59:59.999Z") })
      // A download newer than the planned start (generated while events were lagging): the planned start stays.
      expect(startAfterDownload(planned, instant("2026-11-23T11:59:30Z"), 0, now, 60)).toEqual({ at: planned })
      // Equal instants: the planned start (nothing between them).
      expect(startAfterDownload(planned, planned, 0, now, 60)).toEqual({ at: planned })
    })

    it("a download older than the events kept starts at the oldest kept and says what is lost", () => {
      const old = startAfterDownload(planned, instant("2026-09-01T00:00:00Z"), hour, now, 60)
      expect(old.at).toBe(fromEpochMillis(now - 60 * 86_400_000))
      expect(old.lost).toMatch(/newest row was written at 2026-09-01T00:00:00.000000Z, before the oldest event the service keeps \(fullLoad.retentionDays 60: 2026-09-24T12:00:00.000000Z\)/)
    })

    it("never starts after the planned start or before the oldest kept event, and only says lost when it had to clamp", () => {
      fc.assert(
        fc.property(fc.integer({ min: -100 * 86_400_000, max: 86_400_000 }), fc.integer({ min: 0, max: 10 * hour }), (offset, overlap) => {
          const newest = fromEpochMillis(now + offset)
          const got = startAfterDownload(planned, newest, overlap, now, 60)
          const at = toEpochMillis(got.at)
          expect(at).toBeLessThanOrEqual(toEpochMillis(planned))
          expect(at).toBeGreaterThanOrEqual(now - 60 * 86_400_000)
          expect(got.lost !== undefined).toBe(now + offset - overlap < now - 60 * 86_400_000)
          // Every change written after the download's newest row, less the overlap, is at or after the start.
          if (got.lost === undefined) expect(at).toBeLessThanOrEqual(Math.max(now + offset - overlap, 0))
        })
      )
    })
  })
})
