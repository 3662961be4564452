/**
 * What the API declaration (Api.ts) says about paths, used where the router
 * says nothing: the metric label of a request (its endpoint's OpenAPI
 * operationId, so labels cannot drift from the endpoints), a JSON 404 for an
 * unknown path, a 405 with `Allow` for a known path asked with another method,
 * and parameter errors in words instead of a schema dump.
 */
import { HttpApi, type HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { SkyggeApi } from "./Api.js"
import { UI_PATHS } from "../ui/UiRoutes.js"

interface Route {
  /** The metric label: the endpoint's OpenAPI operationId (`group.endpoint`). */
  readonly label: string
  readonly method: string
  readonly pattern: RegExp
}

/** `/v1/objects/:objectType/:objectId` → a regex over a path without its query (a trailing slash allowed, as the router does). */
const patternOf = (path: string) =>
  new RegExp(`^${path.split("/").map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/")}/?$`)

const declared = (): ReadonlyArray<Route> => {
  const routes: Array<Route> = []
  HttpApi.reflect(SkyggeApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group }) =>
      routes.push({ label: `${group.identifier}.${endpoint.name}`, method: endpoint.method, pattern: patternOf(endpoint.path) })
  })
  // Served from the same declaration by the OpenAPI and Swagger layers (Server.ts).
  routes.push({ label: "docs", method: "GET", pattern: patternOf("/docs") }, { label: "docs", method: "GET", pattern: patternOf("/docs/openapi.json") })
  // The time-travel page and `/` (src/ui/UiRoutes.ts), mounted on the same router.
  for (const path of UI_PATHS) routes.push({ label: "ui", method: "GET", pattern: patternOf(path) })
  return routes
}

export const ROUTES = declared()

/** The label of a request no endpoint matches. */
export const UNMATCHED = "unmatched"

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const methodMatches = (route: Route, method: string) => route.method === method || (method === "HEAD" && route.method === "GET")

/** The metric label of a request: its endpoint's operationId, or `unmatched`. A fixed, small set: never a concrete path. */
export const routeLabel = (method: string, url: string): string => {
  const path = pathOf(url)
  const routes = ROUTES.filter((r) => r.pattern.test(path))
  return (routes.find((r) => methodMatches(r, method)) ?? routes[0])?.label ?? UNMATCHED
}

/** The methods a path answers to (HEAD wherever GET), empty when no endpoint has the path. */
export const allowedMethods = (url: string): ReadonlyArray<string> => {
  const path = pathOf(url)
  const methods = new Set(ROUTES.filter((r) => r.pattern.test(path)).map((r) => r.method))
  if (methods.has("GET")) methods.add("HEAD")
  return [...methods]
}

const error = (status: number, tag: string, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message }, { status, headers })

interface DecodeIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/** `limit must be …; since is required …`: each issue led by the parameter it is about. */
export const describeIssues = (issues: ReadonlyArray<DecodeIssue>): string =>
  issues.map((i) => (i.path.length === 0 ? i.message : `${i.path.map(String).join(".")} ${i.message}`)).join("; ")

/**
 * The API-level middleware: a route the router did not find becomes a JSON 404
 * (or 405 with `Allow`), and a parameter that failed its schema a JSON 400 in words.
 */
export const apiErrors = (app: HttpApp.Default): HttpApp.Default =>
  Effect.catchAll(app as HttpApp.Default<unknown>, (e) =>
    Effect.gen(function* () {
      const tag = typeof e === "object" && e !== null ? (e as { _tag?: unknown })._tag : undefined
      if (tag === "HttpApiDecodeError") {
        return error(400, "BadRequest", describeIssues((e as { issues: ReadonlyArray<DecodeIssue> }).issues))
      }
      if (tag === "RouteNotFound") {
        const request = yield* HttpServerRequest.HttpServerRequest
        const path = pathOf(request.url).slice(0, 200)
        const allow = allowedMethods(request.url)
        if (allow.length > 0) {
          return error(405, "MethodNotAllowed", `${request.method} is not allowed on ${path}; allowed: ${allow.join(", ")}`, { allow: allow.join(", ") })
        }
        return error(404, "NotFound", `no endpoint ${request.method} ${path}; the API is described at /docs`)
      }
      return yield* Effect.fail(e)
    })
  ) as HttpApp.Default
