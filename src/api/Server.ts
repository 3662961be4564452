/**
 * The HTTP server: the API, its OpenAPI document (`/docs/openapi.json`) and
 * Swagger page (`/docs`), request metrics, and the listening socket.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpRouter, HttpServer, HttpServerError, HttpServerRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Effect, Exit, Layer } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { ApiConfig } from "../config/Config.js"
import { SkyggeApi } from "./Api.js"
import { AuthLive } from "./Auth.js"
import { ActivationsLive, AnomaliesLive, ChangesLive, ObjectsLive, RefusedLive, RegistrationsLive, ResyncReportsLive, SourcesLive, SystemLive, ClusterLive, ErasuresLive, EraseLive } from "./Http.js"
import { type FastPath, makeFastPath } from "./FastPath.js"
import { Metrics } from "./Metrics.js"
import { apiErrors, routeLabel } from "./Routes.js"
import { UiLive } from "../ui/UiRoutes.js"

/** Latency and status of every request, labelled by route class only (paths can hold personal ids). */
const requestMetrics = HttpMiddleware.make((app) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const metrics = yield* Metrics
    const start = yield* Clock.currentTimeNanos
    return yield* app.pipe(
      Effect.onExit((exit) =>
        Effect.gen(function* () {
          // A failure is counted with the status the server will answer it with, not as a blanket 500.
          const status = Exit.isSuccess(exit) ? exit.value.status : (yield* HttpServerError.causeResponse(exit.cause))[0].status
          const end = yield* Clock.currentTimeNanos
          metrics.observeRequest(routeLabel(request.method, request.url), status, Number(end - start) / 1e9)
        })
      )
    )
  })
)

export const ApiLive = HttpApiBuilder.api(SkyggeApi).pipe(Layer.provide([ObjectsLive, ChangesLive, ActivationsLive, RefusedLive, AnomaliesLive, SourcesLive, ClusterLive, ResyncReportsLive, RegistrationsLive, ErasuresLive, EraseLive, SystemLive]))

/** The API served on whatever HttpServer is provided (a real port, or NodeHttpServer.layerTest). */
export const HttpAppLive = HttpApiBuilder.serve(requestMetrics).pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  // The time-travel page (`/ui`) and `/`, beside the API on its router.
  Layer.provide(UiLive),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/docs/openapi.json" })),
  Layer.provide(HttpApiBuilder.middleware(apiErrors)),
  Layer.provide(ApiLive),
  Layer.provide(AuthLive),
  // Ids up to MAX_ID_LENGTH must reach their handler (the router's default cuts path segments at 100
  // characters and answers an empty 404); an over-long one is then refused there with a 400 naming it.
  Layer.provide(HttpRouter.setRouterConfig({ maxParamLength: 65_536 }))
)

/**
 * A node:http server that offers each request to the fast path (FastPath.ts) first; what it declines
 * goes on to the API's own listener, which the HttpServer layer adds.
 */
const serverWith = (fast: FastPath | undefined) => () => {
  const server = createServer()
  if (fast === undefined) return server
  const emit = server.emit.bind(server)
  server.emit = ((event: string | symbol, ...args: Array<unknown>) =>
    event === "request" && fast(args[0] as IncomingMessage, args[1] as ServerResponse) ? true : emit(event as string, ...args)) as typeof server.emit
  return server
}

/** The HttpServer: node:http on `options`' port, with the fast path in front of the API. */
export const NodeServerLive = (options: { readonly port: number; readonly host: string }) =>
  Layer.unwrapEffect(Effect.map(makeFastPath, (fast) => NodeHttpServer.layer(serverWith(fast), options)))

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.")

/** The API listening on `api.host`:`api.port`; warns loudly when it is open beyond loopback. */
export const ServerLive = Layer.unwrapEffect(
  Effect.gen(function* () {
    const cfg = yield* ApiConfig
    if (!isLoopback(cfg.host) && cfg.readTokens.length === 0 && cfg.writeTokens.length === 0 && cfg.eraseTokens.length === 0) {
      yield* Effect.logWarning(
        `API listens on ${cfg.host}, beyond loopback, and NO TOKENS ARE CONFIGURED: anyone who can reach it can read every row and write registrations. Set api.readTokens / api.writeTokens (or SKYGGE_API_READ_TOKENS / SKYGGE_API_WRITE_TOKENS).`
      )
    }
    return HttpAppLive.pipe(
      HttpServer.withLogAddress,
      Layer.provide(NodeServerLive({ port: cfg.port, host: cfg.host }))
    )
  })
)
