/**
 * Virkningstid activations, as the store holds them. A stored row whose
 * virkningFra or virkningTil lies in the future (by the engine's clock when the
 * row was stored) gets one pending activation per such boundary, written in the
 * row's own transaction; closing the row cancels them. When one falls due the
 * store settles it in one transaction: `fired` (with an outbox record) when the
 * instant is still a real boundary of the object's current view, `skipped` when
 * a neighbouring current row holds the same data across it. Those rules are
 * domain/Activation's; a store reads what they need and executes what they decide.
 */
import { Context, Effect, type Option } from "effect"
import type { ActivationKind } from "../domain/core/Activation.js"
import type { Bound, Instant } from "../domain/core/Instant.js"
import type { StoreError } from "./StoreError.js"

export { ACTIVATION_KINDS, type ActivationKind } from "../domain/core/Activation.js"
export const ACTIVATION_STATUSES = ["pending", "fired", "skipped", "cancelled"] as const
export type ActivationStatus = (typeof ACTIVATION_STATUSES)[number]

export interface Activation {
  readonly id: number
  readonly objectType: string
  readonly objectId: string
  readonly kind: ActivationKind
  readonly at: Instant
  readonly status: ActivationStatus
  readonly late: boolean | null
  readonly settledAt: Instant | null
  /** The row it concerns. */
  readonly rowId: number
  readonly registreringFra: Instant
  readonly virkningFra: Bound
  readonly virkningTil: Bound
}

export interface ActivationQuery {
  /** Activations at or after this instant (null: no lower bound). */
  readonly from: Bound
  /** Activations before this instant (null: no upper bound). */
  readonly to: Bound
  readonly objectType?: string
  readonly status?: ActivationStatus
  /** Keyset: after this (at, id). */
  readonly after?: { readonly at: Instant; readonly id: number }
  readonly limit: number
}

export interface SettledActivations {
  readonly fired: number
  readonly skipped: number
  readonly late: number
}

export interface ActivationStoreShape {
  /** The earliest pending activation's instant. */
  readonly next: Effect.Effect<Option.Option<Instant>, StoreError>
  /**
   * Settle every pending activation due at `now` (oldest first, in batches of
   * one transaction): fired ones write their outbox record in that transaction.
   * Fired later than `lateAfterMs` after its instant counts as late.
   */
  readonly settleDue: (now: Instant, lateAfterMs: number) => Effect.Effect<SettledActivations, StoreError>
  readonly list: (query: ActivationQuery) => Effect.Effect<ReadonlyArray<Activation>, StoreError>
  readonly pendingCount: Effect.Effect<number, StoreError>
}

/**
 * Settle in batches of one transaction each until one comes back not full, notifying the commit
 * signal after each that fired something (the publishers wait on it).
 */
export const settleInBatches = <E>(batch: Effect.Effect<SettledActivations & { readonly more: boolean }, E>, notify: Effect.Effect<void>): Effect.Effect<SettledActivations, E> =>
  Effect.gen(function* () {
    const total = { fired: 0, skipped: 0, late: 0 }
    for (;;) {
      const settled = yield* batch
      total.fired += settled.fired
      total.skipped += settled.skipped
      total.late += settled.late
      if (settled.fired > 0) yield* notify
      if (!settled.more) return total
    }
  })

export class ActivationStore extends Context.Tag("skygge/ActivationStore")<ActivationStore, ActivationStoreShape>() {}
