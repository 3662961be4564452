/** Resync reports: recorded with an id, listed newest first, by source, at most `limit`. */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { type ResyncReport, ResyncReports } from "../../../src/store/ResyncReports.js"
import { onFreshStore, type StoreBackend } from "./backend.js"

const report = (source: string, n: number, overrides: Partial<ResyncReport> = {}): ResyncReport => ({
  source,
  resource: "personer",
  objectType: "fs.person",
  startedAt: `2026-01-0${n}T00:00:00.000000Z`,
  finishedAt: `2026-01-0${n}T00:01:00.000000Z`,
  dryRun: false,
  checked: 10 * n,
  missing: n,
  changed: 2,
  extra: 0,
  repaired: n + 2,
  revived: 0,
  error: null,
  ...overrides
})

export const resyncReportsContract = (backend: StoreBackend) =>
  describe(`${backend.name}: resync reports`, () => {
    it("records every field, lists newest first, by source and up to the limit", () =>
      onFreshStore(backend, Effect.gen(function* () {
        const reports = yield* ResyncReports
        expect(yield* reports.list({ limit: 10 })).toEqual([])
        const first = yield* reports.record(report("fs", 1))
        const second = yield* reports.record(report("other", 2, { dryRun: true, repaired: 0, error: "HTTP 503" }))
        const third = yield* reports.record(report("fs", 3))
        expect(typeof first.id).toBe("number")
        expect(new Set([first.id, second.id, third.id]).size).toBe(3)
        expect(yield* reports.list({ limit: 10 })).toEqual([third, second, first])
        expect(yield* reports.list({ source: "fs", limit: 10 })).toEqual([third, first])
        expect(yield* reports.list({ limit: 2 })).toEqual([third, second])
        expect((yield* reports.list({ source: "other", limit: 1 }))[0]).toEqual({ ...report("other", 2, { dryRun: true, repaired: 0, error: "HTTP 503" }), id: second.id })
      })))
  })
