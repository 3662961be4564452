import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromEpochMillis, instant, toEpochMillis } from "../../src/domain/Instant.js"
import { morePages, nextWindow } from "../../src/domain/PullWindow.js"

const settings = { lagMs: 60_000, overlapMs: 120_000, maxWindowMs: 3_600_000 }

describe("PULL windows", () => {
  it("end a minute before now, start the overlap before the cursor, and wait when nothing new can be asked", () => {
    const now = toEpochMillis(instant("2026-11-23T12:00:00Z"))
    expect(nextWindow(instant("2026-11-23T11:50:00Z"), now, settings)).toEqual({ from: instant("2026-11-23T11:48:00Z"), to: instant("2026-11-23T11:59:00Z") })
    expect(nextWindow(instant("2026-11-23T11:59:00Z"), now, settings)).toBeUndefined()
    // After an outage: an hour at a time.
    expect(nextWindow(instant("2026-11-20T00:00:00Z"), now, settings)).toEqual({ from: instant("2026-11-19T23:58:00Z"), to: instant("2026-11-20T01:00:00Z") })
    expect([morePages(100_000, 100_000), morePages(99_999, 100_000)]).toEqual([true, false])
  })

  it("successive windows cover time without a gap and never reach into the last minute", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 9 }), fc.array(fc.integer({ min: 0, max: 7_200_000 }), { minLength: 1, maxLength: 30 }), (start, steps) => {
        let cursor = fromEpochMillis(1.7e12 + start)
        let now = 1.7e12 + start
        for (const step of steps) {
          now += step
          const w = nextWindow(cursor, now, settings)
          if (w === undefined) continue
          expect(toEpochMillis(w.from)).toBeLessThan(toEpochMillis(cursor)) // overlaps the last one
          expect(toEpochMillis(w.to)).toBeLessThanOrEqual(now - settings.lagMs)
          expect(w.to > cursor).toBe(true)
          cursor = w.to
        }
      })
    )
  })
})
