/**
 * What becomes of a work item when its fetch ends — the queue's one rule,
 * computed here so every store backend only executes it. A hint that arrived
 * while the fetch was in flight (the item is *dirty*) always wins: the object is
 * fetched again at once, because the fetch in hand may predate the change.
 * Otherwise: done → gone; nothing changed although the hint said so → one
 * confirming fetch later (the provider's API may lag), and a confirmation is
 * never confirmed again; a failure that may pass → retried at its time; one
 * that cannot → abandoned (a resync or an operator revives it).
 */
import type { Instant } from "../core/Instant.js"
import type { HintOperation } from "./ChangeHint.js"

/** How a fetch ended. */
export type Settlement =
  | { readonly _tag: "Done" }
  /** Nothing changed although the hint said so: fetch once more at `at` (the API may lag). */
  | { readonly _tag: "Confirm"; readonly at: Instant }
  | { readonly _tag: "Retry"; readonly at: Instant; readonly error: string }
  | { readonly _tag: "Abandon"; readonly error: string }

/** What the store does with the item. */
export type SettlementStep =
  | { readonly _tag: "FetchAgainNow" }
  | { readonly _tag: "Remove" }
  | { readonly _tag: "ConfirmAt"; readonly at: Instant }
  /**
   * `confirming`: whether the next fetch is still the confirming look. Not when a hint came during this one:
   * the next fetch answers that hint too, and may itself need a confirming look (else a change the API did
   * not show yet, announced while a confirmation failed, was settled for good: a lost update in CI).
   */
  | { readonly _tag: "RetryAt"; readonly at: Instant; readonly error: string; readonly confirming: boolean }
  | { readonly _tag: "Abandon"; readonly error: string }

/** Errors are kept short in the queue (they are for operators, and may be long upstream bodies). */
const MAX_ERROR = 2000

export const settlementStep = (settlement: Settlement, item: { readonly dirty: boolean; readonly confirming: boolean }, now: Instant): SettlementStep => {
  switch (settlement._tag) {
    case "Done":
      return item.dirty ? { _tag: "FetchAgainNow" } : { _tag: "Remove" }
    case "Confirm":
      return item.dirty ? { _tag: "FetchAgainNow" } : item.confirming ? { _tag: "Remove" } : { _tag: "ConfirmAt", at: settlement.at }
    case "Retry":
      // A retry keeps counting attempts; a newer hint only brings it forward.
      return { _tag: "RetryAt", at: item.dirty ? now : settlement.at, error: settlement.error.slice(0, MAX_ERROR), confirming: item.confirming && !item.dirty }
    case "Abandon":
      return item.dirty ? { _tag: "FetchAgainNow" } : { _tag: "Abandon", error: settlement.error.slice(0, MAX_ERROR) }
  }
}

/**
 * Whether a fetch that ended (not refused) gets one more look after `confirmAfterSeconds`: the API may
 * lag its notifications. So when the fetch found no change although the hint announced one; when it
 * answered a burst of hints (it may have seen an intermediate state); and when what it found is not
 * the change announced — a delete answered by the object, a create or an update by none: the shadow
 * may have moved (to the state before the announced change), but the announced change is not visible yet.
 */
export const worthConfirming = (fetch: { readonly changed: boolean; readonly hints: number; readonly operation: HintOperation; readonly found: boolean }): boolean =>
  fetch.operation !== "unknown" && (!fetch.changed || fetch.hints > 1 || (fetch.operation === "delete") === fetch.found)
