/**
 * What the shadow holds of an object "now", for sources that only know the
 * present (IntArk APIs, current-state dumps). Two shapes, as ProviderState
 * writes them: without validity fields the state holds from its registration
 * on, so the present is the row in force at `at` on both axes; with validity
 * fields the object is one current row over its own period (which need not
 * include `at`). Several current rows there mean the shadow disagrees with
 * itself, reported as such so a comparison repairs it.
 */
import { Effect, Option } from "effect"
import type { Instant } from "../domain/core/Instant.js"
import { Store } from "./Store.js"
import type { StoreError } from "./StoreError.js"

export type Present = Option.Option<{ readonly data: unknown } | { readonly inconsistent: number }>

export const presentState = (objectType: string, objectId: string, hasValidity: boolean, at: Instant): Effect.Effect<Present, StoreError, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    if (!hasValidity) {
      const row = yield* store.asOf({ objectType, objectId, registreringstid: at, virkningstid: at })
      return Option.map(row, (r) => ({ data: r.data }))
    }
    const current = (yield* store.history(objectType, objectId)).filter((r) => r.registreringTil === null)
    if (current.length === 0) return Option.none()
    return Option.some(current.length === 1 ? { data: current[0]!.data } : { inconsistent: current.length })
  })
