/**
 * `skygge run` (the engine until SIGTERM/SIGINT) and `skygge demo` (the engine following a simulated register).
 * The engine's modules (API, sources, publishers, simulator) are imported when one of them runs, so that the
 * other commands do not evaluate them at start-up (the bundle keeps an `import()`'s modules unevaluated until then).
 */
import { Command, Options } from "@effect/cli"
import { Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import { ApiConfig, showStoreUrl, StoreConfig } from "../../config/Config.js"
import { MigratedSqliteStoreLive } from "../../store/sqlite/SqliteStoreLive.js"
import { withConfig } from "../../StoreFromConfig.js"
import { configOption, VERSION } from "../common.js"

const loadEngine = Effect.promise(() => import("../../Engine.js"))

export const run = Command.make("run", { config: configOption }, ({ config }) =>
  withConfig(
    Option.getOrUndefined(config),
    Effect.gen(function* () {
      const store = yield* StoreConfig
      const api = yield* ApiConfig
      yield* Effect.logInfo(`skygge ${VERSION} starting: store ${showStoreUrl(store.url)}, API on ${api.host}:${api.port}`)
      const { EngineLive } = yield* loadEngine
      return yield* Layer.launch(EngineLive).pipe(
        // Stopped by a signal, the finalizers have run by now: the server stopped accepting, the store is closed.
        // (An engine that failed to start says why instead.)
        Effect.onInterrupt(() => Effect.logInfo("skygge stopped: server closed, store closed"))
      )
    })
  )
).pipe(Command.withDescription("Run the engine: the as-of API and every configured source, until SIGTERM/SIGINT"))

const DEMO_LIST_QUERY =
  "query ($first: Int!, $after: String) { DAR_Adresse(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid } } }"

/** The register simulator, changing a few addresses every second, and a source following it by PULL, GraphQL events or both. */
const DemoLive = (intervalMs: number, via: "pull" | "graphql" | "both") =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const [{ startDafSimulator }, { DafSourceSchema }, { startDafSource }] = yield* Effect.promise(() =>
        Promise.all([import("../../sources/datafordeler/simulator/DafSimulator.js"), import("../../sources/datafordeler/DafConfig.js"), import("../../sources/datafordeler/DafSourceLive.js")])
      )
      const sim = yield* Effect.acquireRelease(Effect.promise(() => startDafSimulator({ seed: Date.now() % 100_000, faults: { commitDelayMs: 500, restLagMs: 200, importMs: 100 } })), (s) => Effect.promise(() => s.close()))
      sim.randomChanges(20)
      yield* Effect.forkScoped(Effect.sync(() => sim.randomChanges(3)).pipe(Effect.repeat(Schedule.spaced(Duration.millis(intervalMs)))))
      const source = Schema.decodeUnknownSync(DafSourceSchema)({
        kind: "datafordeler",
        name: "demo",
        ...(via !== "graphql" ? { pull: { url: sim.baseUrl, lagSeconds: 1, overlapSeconds: 3, pollSeconds: 1 } } : {}),
        ...(via !== "pull" ? { graphql: { url: sim.graphqlUrl, register: sim.register, pollSeconds: 1 } } : {}),
        entities: {
          Adresse: {
            objectType: "dar.adresse",
            rest: `${sim.baseUrl}/rest/adresse?id={id}`,
            // With GraphQL, a first start loads the register's history by this paged query.
            ...(via !== "pull" ? { list: { query: DEMO_LIST_QUERY } } : {})
          }
        }
      })
      yield* startDafSource(source)
      yield* Effect.logInfo(
        `demo: a simulated Datafordeler register at ${sim.baseUrl} changes addresses every ${intervalMs} ms; skygge follows it by ${via === "both" ? "PULL and GraphQL events at once" : via === "pull" ? "PULL" : "GraphQL events"}`
      )
    })
  )

export const demo = Command.make(
  "demo",
  {
    config: configOption,
    intervalMs: Options.integer("interval-ms").pipe(Options.withDescription("how often the simulated register changes (default 1000)"), Options.withDefault(1000)),
    via: Options.choice("via", ["pull", "graphql", "both"]).pipe(Options.withDescription("the event path to follow: the legacy PULL service, GraphQL events, or both at once as during the migration (default both)"), Options.withDefault("both" as const)),
    db: Options.text("db").pipe(Options.withDescription("SQLite file of the demo (default ./data/demo.db, apart from the real store)"), Options.withDefault("./data/demo.db"))
  },
  ({ config, intervalMs, via, db }) =>
    withConfig(
      Option.getOrUndefined(config),
      Effect.gen(function* () {
        const api = yield* ApiConfig
        yield* Effect.logInfo(`skygge ${VERSION} demo: API on ${api.host}:${api.port} — try GET /v1/objects/dar.adresse, /v1/changes?since=…, /metrics`)
        const { engineWith } = yield* loadEngine
        return yield* Layer.launch(engineWith(DemoLive(intervalMs, via), MigratedSqliteStoreLive({ filename: db, synchronous: "NORMAL" })))
      })
    )
).pipe(Command.withDescription("Run the engine against a built-in simulated Datafordeler register: data flowing, no account needed"))
