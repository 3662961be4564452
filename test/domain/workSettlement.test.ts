import { describe, expect, it } from "vitest"
import { instant } from "../../src/domain/core/Instant.js"
import { type Settlement, settlementStep } from "../../src/domain/intark/WorkSettlement.js"

const now = instant("2026-12-01T12:00:00Z")
const later = instant("2026-12-01T12:05:00Z")
const all: ReadonlyArray<Settlement> = [{ _tag: "Done" }, { _tag: "Confirm", at: later }, { _tag: "Retry", at: later, error: "HTTP 503" }, { _tag: "Abandon", error: "HTTP 401" }]

describe("what becomes of a work item when its fetch ends", () => {
  it("without a newer hint: done is gone, a change not seen is confirmed once later, failures retried or abandoned", () => {
    const clean = { dirty: false, confirming: false }
    expect(all.map((s) => settlementStep(s, clean, now))).toEqual([
      { _tag: "Remove" },
      { _tag: "ConfirmAt", at: later },
      { _tag: "RetryAt", at: later, error: "HTTP 503" },
      { _tag: "Abandon", error: "HTTP 401" }
    ])
    // A confirmation is never confirmed again.
    expect(settlementStep({ _tag: "Confirm", at: later }, { dirty: false, confirming: true }, now)).toEqual({ _tag: "Remove" })
  })

  it("a hint that came during the fetch wins: fetched again now (a retry keeps its count, brought forward)", () => {
    for (const confirming of [false, true]) {
      expect(all.map((s) => settlementStep(s, { dirty: true, confirming }, now))).toEqual([
        { _tag: "FetchAgainNow" },
        { _tag: "FetchAgainNow" },
        { _tag: "RetryAt", at: now, error: "HTTP 503" },
        { _tag: "FetchAgainNow" }
      ])
    }
  })

  it("keeps an operator's error short", () => {
    const step = settlementStep({ _tag: "Abandon", error: "x".repeat(5000) }, { dirty: false, confirming: false }, now)
    expect(step._tag === "Abandon" && step.error.length).toBe(2000)
  })
})
