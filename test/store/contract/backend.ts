/**
 * The store contract's one parameter: a backend, as a layer of the store's services. The contract
 * files declare their tests against the service tags only (no SQL, no driver), so every backend
 * runs the same assertions; `sqlite.contract.test.ts` runs them on SQLite.
 */
import { Cause, type Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { StoreServices } from "../../../src/store/StoreServices.js"

export interface StoreBackend {
  readonly name: string
  /**
   * A new, empty, migrated store. Each build of the layer opens it; a build after the previous
   * one was released opens the same store again (a restart keeps what was committed).
   */
  readonly layer: () => Layer.Layer<StoreServices, unknown>
  /**
   * The share of a property's runs this backend takes (1: all). A fresh store is a file copy on
   * SQLite but a new database on PostgreSQL (~0.2 s), so there the properties run fewer sequences.
   */
  readonly propertyShare: number
}

/** How many runs a property with `runs` on SQLite gets on this backend (`SKYGGE_PROPERTY_RUNS` overrides the model's). */
export const propertyRuns = (backend: StoreBackend, runs: number): number => Math.max(5, Math.round(runs * backend.propertyShare))

/**
 * Run an effect to its value; a failure or defect is thrown as itself (an assertion keeps its diff).
 *
 * It first lets the event loop turn. On SQLite a store's work is synchronous, so an effect settles in
 * microtasks alone, and a property's hundreds of runs (each awaited by the next) would otherwise never
 * give the loop a turn: vitest's worker then cannot read the runner's answers to its calls, and a call
 * unanswered for 60 s fails the whole run ("Timeout calling onTaskUpdate") though every test passed.
 */
export const runTest = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
  await new Promise<void>((resolve) => setImmediate(resolve))
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

/** Run `body` on a fresh store, released when it ends. */
export const onFreshStore = <A, E>(backend: StoreBackend, body: Effect.Effect<A, E, StoreServices>): Promise<A> => runTest(Effect.provide(body, backend.layer()))

/** Open a store's services in a scope of their own: `close` releases them (a test that restarts opens the layer again). */
export const openServices = (layer: Layer.Layer<StoreServices, unknown>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    return { context, close: Scope.close(scope, Exit.void) }
  })

/** One fresh store for the tests of a `describe`: opened before them, released after. Returns how to run an effect on it. */
export const sharedStore = (backend: StoreBackend) => {
  let opened: { readonly context: Context.Context<StoreServices>; readonly close: Effect.Effect<void> }
  beforeAll(async () => {
    opened = await runTest(openServices(backend.layer()))
  })
  afterAll(() => runTest(opened.close))
  return <A, E>(effect: Effect.Effect<A, E, StoreServices>): Promise<A> => runTest(Effect.provide(effect, opened.context))
}
