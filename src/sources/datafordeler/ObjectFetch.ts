/**
 * Talking to Datafordeler's data services: one undici Pool per origin for the
 * life of a source, jittered retries on anything transient, credentials (an
 * API key as the `apiKey` parameter, or OAuth client credentials as a bearer
 * token) applied to every request and never shown — messages carry the URL
 * without its query. On top: GraphQL requests, and an object's rows fetched by
 * id from REST or GraphQL, decoded with their row ids (to check that they show
 * the events that named them).
 */
import { Duration, Effect, Redacted } from "effect"
import { Pool } from "undici"
import { decodeMirrorRow, type MirrorRow } from "../../domain/core/Mirror.js"
import { printableUrl } from "../../ingest/Download.js"
import { backoff } from "../../schedule/Backoff.js"
import { DecodeError, FetchError, honouringRetryAfter, isTransient, parseJson, requestError, retryAfterOf, statusError, type UpstreamError } from "../FetchError.js"
import { getPath } from "../../domain/core/Json.js"
import { type Instant, parseInstant } from "../../domain/core/Instant.js"
import { type DafEntity, type FetchPolicy, rowShape } from "./DafConfig.js"
import type { RowState } from "../../domain/datafordeler/RowEvents.js"

export type Pools = (origin: string) => Pool

/** One undici Pool per service origin for the life of the source, closed with it. */
export const makePools = Effect.acquireRelease(
  Effect.sync(() => new Map<string, Pool>()),
  (pools) => Effect.promise(() => Promise.all([...pools.values()].map((p) => p.close().catch(() => undefined))))
).pipe(
  Effect.map((pools): Pools => (origin) => {
    let pool = pools.get(origin)
    if (pool === undefined) {
      pool = new Pool(origin, { connections: 16, keepAliveTimeout: 30_000 })
      pools.set(origin, pool)
    }
    return pool
  })
)

/** One request (`attempt` may throw a FetchError or DecodeError; anything else is the connection's). */
export const request = <A>(url: string, attempt: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, UpstreamError> =>
  Effect.tryPromise({ try: attempt, catch: (e) => requestError(url, e) })

/**
 * A request tried up to `maxAttempts` times while its failure is transient, with jittered exponential
 * backoff capped at `maxBackoffSeconds` — or longer when the service asked for it (Retry-After, up to the cap).
 * Other failures (a store's, of work done while a body streams) are not retried.
 */
export const withRetry = <A, E, R>(policy: FetchPolicy, effect: Effect.Effect<A, E, R>) => {
  const cap = Duration.seconds(policy.maxBackoffSeconds)
  return effect.pipe(
    Effect.retry({
      while: isTransient,
      times: Math.max(0, policy.maxAttempts - 1),
      schedule: honouringRetryAfter(backoff({ base: Duration.millis(200), max: cap }), cap)
    })
  )
}

/** Credentials of a service: applied to each request's URL and headers. */
export interface Credentials {
  readonly apply: (url: URL, headers: Record<string, string>, signal: AbortSignal) => Promise<void>
}

export const noCredentials: Credentials = { apply: async () => undefined }

export const apiKeyCredentials = (key: Redacted.Redacted | undefined): Credentials =>
  key === undefined ? noCredentials : { apply: async (url) => void url.searchParams.set("apiKey", Redacted.value(key)) }

/** OAuth 2 client credentials: a token fetched when needed and reused until a minute before it expires. */
export const oauthCredentials = (pools: Pools, oauth: { tokenUrl: string; clientId: string; clientSecret: Redacted.Redacted; scope?: string | undefined }, timeoutMs: number): Credentials => {
  let token: { value: string; until: number } | undefined
  let pending: Promise<string> | undefined
  const fetchToken = async (signal: AbortSignal): Promise<string> => {
    const url = new URL(oauth.tokenUrl)
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: oauth.clientId, client_secret: Redacted.value(oauth.clientSecret), ...(oauth.scope !== undefined ? { scope: oauth.scope } : {}) })
    const res = await pools(url.origin).request({ path: url.pathname + url.search, method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" }, body: form.toString(), signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
    const text = await res.body.text()
    if (res.statusCode !== 200) throw statusError(url.href, res.statusCode, { what: "token endpoint answered HTTP", retryAfter: retryAfterOf(res.headers["retry-after"], Date.now()) })
    const body = parseJson(url.href, text, "a token answer that is not JSON") as { access_token?: unknown; expires_in?: unknown }
    if (typeof body?.access_token !== "string") throw new DecodeError({ url: printableUrl(url.href), message: `token endpoint ${printableUrl(url.href)} gave no access_token` })
    const seconds = typeof body.expires_in === "number" ? body.expires_in : 300
    token = { value: body.access_token, until: Date.now() + Math.max(0, seconds - 60) * 1000 }
    return body.access_token
  }
  return {
    apply: async (_url, headers, signal) => {
      let value = token !== undefined && token.until > Date.now() ? token.value : undefined
      if (value === undefined) {
        pending ??= fetchToken(signal).finally(() => (pending = undefined))
        value = await pending
      }
      headers.authorization = `Bearer ${value}`
    }
  }
}

/** A service reached through a pool with credentials and a fetch policy. */
export interface Service {
  readonly pools: Pools
  readonly credentials: Credentials
  readonly policy: FetchPolicy
}

/** GET a JSON document (one try; wrap in withRetry). */
export const getJson = (service: Service, target: string) => request(target, (signal) => getJsonPromise(service, target, signal))

const getJsonPromise = async (service: Service, target: string, signal: AbortSignal): Promise<unknown> => {
  const url = new URL(target)
  const headers: Record<string, string> = { accept: "application/json" }
  await service.credentials.apply(url, headers, signal)
  const timeoutMs = service.policy.timeoutSeconds * 1000
  const res = await service.pools(url.origin).request({ path: url.pathname + url.search, method: "GET", headers, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  const text = await res.body.text()
  if (res.statusCode !== 200) throw statusError(url.href, res.statusCode, { retryAfter: retryAfterOf(res.headers["retry-after"], Date.now()) })
  return parseJson(url.href, text)
}

/**
 * POST a GraphQL request (one try; wrap in withRetry); the `data` object, or a failure naming the
 * service's first error — transient only when the HTTP status says so.
 */
export const postGraphql = (service: Service, endpoint: string, query: string, variables: Record<string, unknown>) =>
  request(endpoint, (signal) => postGraphqlPromise(service, endpoint, query, variables, signal))

const postGraphqlPromise = async (service: Service, endpoint: string, query: string, variables: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>> => {
  const url = new URL(endpoint)
  const headers: Record<string, string> = { accept: "application/json", "content-type": "application/json" }
  await service.credentials.apply(url, headers, signal)
  const timeoutMs = service.policy.timeoutSeconds * 1000
  const res = await service.pools(url.origin).request({ path: url.pathname + url.search, method: "POST", headers, body: JSON.stringify({ query, variables }), signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  const text = await res.body.text()
  const failed = () => statusError(url.href, res.statusCode, { retryAfter: retryAfterOf(res.headers["retry-after"], Date.now()) })
  let body: { data?: unknown; errors?: Array<{ message?: unknown }> }
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    if (res.statusCode !== 200) throw failed()
    throw new DecodeError({ url: printableUrl(url.href), message: `HTTP 200 with a body that is not JSON from ${printableUrl(url.href)}` })
  }
  const printable = printableUrl(url.href)
  if (Array.isArray(body?.errors) && body.errors.length > 0) {
    const message = `GraphQL error from ${printable}: ${String(body.errors[0]?.message ?? "unnamed")}`
    if (res.statusCode !== 200 && failed().transient) throw new FetchError({ url: printable, status: res.statusCode, transient: true, message })
    throw new DecodeError({ url: printable, message })
  }
  if (res.statusCode !== 200) throw failed()
  if (body?.data === null || typeof body?.data !== "object") throw new DecodeError({ url: printable, message: `a GraphQL answer without data from ${printable}` })
  return body.data as Record<string, unknown>
}

/** Each page of a Relay-paged root field's `nodes`, handed to `onPage` as it comes (paged by `$first`/`$after` when the query declares them). */
export const forEachGraphqlPage = <E, R>(
  service: Service,
  endpoint: string,
  query: string,
  root: string,
  variables: Record<string, unknown>,
  onPage: (nodes: ReadonlyArray<unknown>) => Effect.Effect<void, E, R>,
  pageSize = 1000
) =>
  Effect.gen(function* () {
    const paged = /\$after\b/.test(query)
    let after: string | null = null
    for (;;) {
      const vars: Record<string, unknown> = paged ? { ...variables, first: pageSize, after } : variables
      const data = yield* withRetry(service.policy, postGraphql(service, endpoint, query, vars))
      const field = data[root] as { nodes?: unknown; pageInfo?: { hasNextPage?: unknown; endCursor?: unknown } } | undefined
      if (field === undefined || field === null || !Array.isArray(field.nodes)) {
        return yield* new DecodeError({ url: printableUrl(endpoint), message: `the GraphQL answer has no ${root}.nodes` })
      }
      yield* onPage(field.nodes)
      if (!paged) return
      // A paged query whose answer does not say whether there is more would end after one page, as if complete.
      const more = field.pageInfo?.hasNextPage
      const next = field.pageInfo?.endCursor
      if (typeof more !== "boolean" || (more && typeof next !== "string")) {
        return yield* new DecodeError({ url: printableUrl(endpoint), message: `the GraphQL answer pages ${root} (the query declares $after) but has no pageInfo { hasNextPage endCursor }` })
      }
      if (!more) return
      after = next as string
    }
  })

/** Every node of a root field, all pages. */
export const graphqlNodes = (service: Service, endpoint: string, query: string, root: string, variables: Record<string, unknown>) =>
  Effect.gen(function* () {
    const nodes: Array<unknown> = []
    yield* forEachGraphqlPage(service, endpoint, query, root, variables, (page) => Effect.sync(() => page.forEach((n) => nodes.push(n))))
    return nodes
  })

export interface FetchedObject {
  readonly rows: ReadonlyArray<MirrorRow>
  /** Row ids the answer carried (`rowIdField`), to tell whether it shows the events that named the object. */
  readonly rowIds: ReadonlySet<string>
  /** By row id: whether the row is closed and when it was written (whether it shows an update event). */
  readonly rowStates: ReadonlyMap<string, RowState>
  /** The newest `datafordelerOpdateringstid` of the rows: how recent the answer is. */
  readonly newestUpdate: Instant | null
  readonly bad: ReadonlyArray<string>
}

/** Raw rows of one object, decoded; rows of another object in the answer are ignored. */
export const decodeObjectRows = (raw: ReadonlyArray<unknown>, entity: DafEntity, objectId: string, timeZone: string): FetchedObject => {
  const shape = rowShape(entity)
  const rows: Array<MirrorRow> = []
  const rowIds = new Set<string>()
  const rowStates = new Map<string, RowState>()
  const bad: Array<string> = []
  let newestUpdate: Instant | null = null
  for (const r of raw) {
    const row = decodeMirrorRow(r, shape, timeZone)
    if ("reason" in row) bad.push(row.reason)
    else if (row.objectId === objectId) {
      rows.push(row)
      const rowId = getPath(r, entity.rowIdField)
      const updated = getPath(r, "datafordelerOpdateringstid")
      const at = typeof updated === "string" ? parseInstant(updated, timeZone) : undefined
      if (typeof at === "string" && (newestUpdate === null || at > newestUpdate)) newestUpdate = at
      if (typeof rowId === "string" || typeof rowId === "number") {
        rowIds.add(String(rowId))
        rowStates.set(String(rowId), { closed: row.registreringTil !== null, updatedAt: typeof at === "string" ? at : null })
      }
    }
  }
  return { rows, rowIds, rowStates, newestUpdate, bad }
}

/** Whether an entity's GraphQL query fetches many objects at once (declares `$ids`). */
export const fetchesMany = (entity: DafEntity): boolean => entity.graphql !== undefined && /\$ids\b/.test(entity.graphql.query)

/** The rows of one object from its entity's REST URL or GraphQL query. */
export const fetchObject = (service: Service, graphqlUrl: string | undefined, register: string | undefined, entityName: string, entity: DafEntity, objectId: string, timeZone: string) =>
  Effect.gen(function* () {
    if (entity.graphql !== undefined && graphqlUrl !== undefined) {
      const root = entity.graphql.root ?? `${register}_${entityName}`
      const nodes = yield* graphqlNodes(service, graphqlUrl, entity.graphql.query, root, fetchesMany(entity) ? { ids: [objectId] } : { id: objectId })
      return decodeObjectRows(nodes, entity, objectId, timeZone)
    }
    const url = entity.rest!.replaceAll("{id}", encodeURIComponent(objectId))
    const body = yield* withRetry(service.policy, getJson(service, url))
    return decodeObjectRows(Array.isArray(body) ? body : [], entity, objectId, timeZone)
  })

/** The rows of many objects by one GraphQL query with `$ids` (every id gets an answer, empty if no row named it). */
export const fetchObjects = (service: Service, graphqlUrl: string, register: string | undefined, entityName: string, entity: DafEntity, objectIds: ReadonlyArray<string>, timeZone: string) =>
  Effect.gen(function* () {
    const root = entity.graphql!.root ?? `${register}_${entityName}`
    const nodes = yield* graphqlNodes(service, graphqlUrl, entity.graphql!.query, root, { ids: objectIds })
    const idField = rowShape(entity).id
    const byId = new Map<string, Array<unknown>>(objectIds.map((id) => [id, []]))
    for (const node of nodes) {
      const id = getPath(node, idField)
      if (typeof id === "string" || typeof id === "number") byId.get(String(id))?.push(node)
    }
    return new Map([...byId].map(([id, raw]) => [id, decodeObjectRows(raw, entity, id, timeZone)] as const))
  })
