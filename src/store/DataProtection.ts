/**
 * Retention and minimisation (issue 18), as primitives every backend supplies; the rules — which
 * fields, which types, how old — are computed outside (domain/core/Fields, the minimise and prune
 * commands, the retention schedule) and handed in.
 *
 * - Minimisation rewrites stored `data` in place: the register did not change, our copy of it
 *   shrinks, so it is not a new registration (no row closed, no event, nothing downstream).
 * - Retention removes registrations closed (`registreringTil`) before an instant, the raw text of
 *   refused inputs, and the bodies of processed PUSH inbox entries. Only closed rows go: every row in
 *   force at a registration time at or after the cutoff stays, so as-of answers there are unchanged.
 */
import { Context, type Effect } from "effect"
import type { Instant } from "../domain/core/Instant.js"
import type { StoreError } from "./StoreError.js"

export interface StoredText {
  /** A row's id, or an event's seq. */
  readonly key: number
  readonly text: string
}

export interface DataProtectionShape {
  /** Rows of a type with an id above `afterId`, by id: their data (canonical JSON). */
  readonly rowData: (objectType: string, afterId: number, limit: number) => Effect.Effect<ReadonlyArray<StoredText>, StoreError>
  /** Set rows' data (one transaction); how many were written. */
  readonly rewriteRowData: (updates: ReadonlyArray<StoredText>) => Effect.Effect<number, StoreError>
  /** Recorded operations (assert/retract) of a type with a seq above `afterSeq`, by seq: their operation text. */
  readonly eventOperations: (objectType: string, afterSeq: number, limit: number) => Effect.Effect<ReadonlyArray<StoredText>, StoreError>
  /** Set recorded operations' text (one transaction); how many were written. */
  readonly rewriteEventOperations: (updates: ReadonlyArray<StoredText>) => Effect.Effect<number, StoreError>
  /**
   * Remove the type's rows closed before `before` (`registrering_til < before`), with the settled activations
   * of those rows (pending ones are left; a closed row has none); with `dryRun` only count. How many rows.
   */
  readonly pruneClosed: (objectType: string, before: Instant, dryRun: boolean) => Effect.Effect<number, StoreError>
  /** Clear the raw input text of refusals received before `before` (the reason stays); how many. */
  readonly pruneRefusedInputs: (before: Instant, dryRun: boolean) => Effect.Effect<number, StoreError>
  /** Clear the bodies of PUSH inbox entries processed before `before` (the envelope id stays for dedup); how many. */
  readonly prunePushBodies: (before: Instant, dryRun: boolean) => Effect.Effect<number, StoreError>
  /** Every object type that has rows. */
  readonly objectTypes: Effect.Effect<ReadonlyArray<string>, StoreError>
}

export class DataProtection extends Context.Tag("skygge/DataProtection")<DataProtection, DataProtectionShape>() {}
