/**
 * The HTTP server: the API, its OpenAPI document (`/docs/openapi.json`) and
 * Swagger page (`/docs`), request metrics, and the listening socket.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer, HttpServerRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Effect, Exit, Layer } from "effect"
import { createServer } from "node:http"
import { ApiConfig } from "../config/Config.js"
import { SkyggeApi } from "./Api.js"
import { AuthLive } from "./Auth.js"
import { ObjectsLive, RegistrationsLive, SystemLive } from "./Http.js"
import { Metrics, routeOf } from "./Metrics.js"

/** Latency and status of every request, labelled by route class only (paths can hold personal ids). */
const requestMetrics = HttpMiddleware.make((app) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const metrics = yield* Metrics
    const start = yield* Clock.currentTimeNanos
    return yield* app.pipe(
      Effect.onExit((exit) =>
        Effect.flatMap(Clock.currentTimeNanos, (end) =>
          Effect.sync(() =>
            metrics.observeRequest(routeOf(request.url), Exit.isSuccess(exit) ? exit.value.status : 500, Number(end - start) / 1e9)
          )
        )
      )
    )
  })
)

export const ApiLive = HttpApiBuilder.api(SkyggeApi).pipe(Layer.provide([ObjectsLive, RegistrationsLive, SystemLive]))

/** The API served on whatever HttpServer is provided (a real port, or NodeHttpServer.layerTest). */
export const HttpAppLive = HttpApiBuilder.serve(requestMetrics).pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/docs/openapi.json" })),
  Layer.provide(ApiLive),
  Layer.provide(AuthLive)
)

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.")

/** The API listening on `api.host`:`api.port`; warns loudly when it is open beyond loopback. */
export const ServerLive = Layer.unwrapEffect(
  Effect.gen(function* () {
    const cfg = yield* ApiConfig
    if (!isLoopback(cfg.host) && cfg.readTokens.length === 0 && cfg.writeTokens.length === 0) {
      yield* Effect.logWarning(
        `API listens on ${cfg.host}, beyond loopback, and NO TOKENS ARE CONFIGURED: anyone who can reach it can read every row and write registrations. Set api.readTokens / api.writeTokens (or SKYGGE_API_READ_TOKENS / SKYGGE_API_WRITE_TOKENS).`
      )
    }
    return HttpAppLive.pipe(
      HttpServer.withLogAddress,
      Layer.provide(NodeHttpServer.layer(createServer, { port: cfg.port, host: cfg.host }))
    )
  })
)
