/**
 * A fence for what a work-queue claimer writes: the registrations fetched for work items are written only
 * while the items are still in flight under the claimer's claim, checked in the transaction that writes
 * them. A member presumed dead (a stall past `cluster.memberTimeoutSeconds`) whose claims another member
 * took over must not write what it fetched before the stall: its answer is stamped with the time it
 * came back, newer than the successor's, and would stand over it (a deleted person back in force).
 */
import type { Submission, SubmissionResult } from "./Store.js"

export interface ClaimFence {
  /** The work queue's source (its items' namespace). */
  readonly source: string
  /** The member whose claims the submissions were fetched under. */
  readonly claimedBy: string
  /** For each submission of the batch, in order, the work item it was fetched for. */
  readonly items: ReadonlyArray<{ readonly resource: string; readonly objectId: string }>
}

export const claimKey = (resource: string, objectId: string): string => `${resource}\u0000${objectId}`

/** The distinct items a fence names. */
export const fencedItems = (fence: ClaimFence): ReadonlyArray<{ readonly resource: string; readonly objectId: string }> => {
  const seen = new Map<string, { readonly resource: string; readonly objectId: string }>()
  for (const i of fence.items) seen.set(claimKey(i.resource, i.objectId), i)
  return [...seen.values()]
}

/** The submissions whose items are held, and each one's index in the batch. */
export const keepHeld = (batch: ReadonlyArray<Submission>, fence: ClaimFence, held: ReadonlySet<string>) => {
  if (fence.items.length !== batch.length) throw new Error(`a claim fence names ${fence.items.length} items for ${batch.length} submissions`)
  const kept: Array<Submission> = []
  const at: Array<number> = []
  batch.forEach((s, i) => {
    const item = fence.items[i]!
    if (!held.has(claimKey(item.resource, item.objectId))) return
    kept.push(s)
    at.push(i)
  })
  return { kept, at }
}

/** The kept submissions' results in the batch's places; undefined where nothing was written. */
export const inBatchOrder = (size: number, at: ReadonlyArray<number>, results: ReadonlyArray<SubmissionResult>): Array<SubmissionResult | undefined> => {
  const all: Array<SubmissionResult | undefined> = new Array(size).fill(undefined)
  at.forEach((index, k) => (all[index] = results[k]))
  return all
}
