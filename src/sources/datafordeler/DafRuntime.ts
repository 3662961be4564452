/**
 * A configured Datafordeler source with its secrets resolved (at start, so a
 * missing environment variable stops the start naming it), and the
 * credentials of its services: the GraphQL endpoint's (OAuth client
 * credentials or an API key) for requests to its origin, and for every other
 * Datafordeler URL (REST) the asking path's own `restApiKey` — or else the
 * PULL key, or else the GraphQL one (a path with only OAuth or only PUSH
 * would otherwise have none).
 */
import { Effect, type Redacted } from "effect"
import { resolveSecret } from "../../config/Sources.js"
import type { DafSource, FetchPolicy } from "./DafConfig.js"
import { apiKeyCredentials, type Credentials, oauthCredentials, type Pools } from "./ObjectFetch.js"
import { importRunning } from "./ImportStatus.js"
import type { DataService } from "./ObjectSync.js"

export interface DafRuntime {
  readonly source: DafSource
  readonly pullKey: Redacted.Redacted | undefined
  readonly graphqlKey: Redacted.Redacted | undefined
  readonly oauthSecret: Redacted.Redacted | undefined
  readonly downloadKey: Redacted.Redacted | undefined
  /** Each path's own key for the REST services. */
  readonly restKeys: Readonly<Record<Path, Redacted.Redacted | undefined>>
}

export type Path = "pull" | "graphql" | "push"

const optionalSecret = (secret: Parameters<typeof resolveSecret>[0] | undefined, what: string) =>
  secret === undefined ? Effect.succeed(undefined) : resolveSecret(secret, what)

export const resolveRuntime = (source: DafSource) =>
  Effect.gen(function* () {
    const name = `sources '${source.name}'`
    return {
      source,
      pullKey: yield* optionalSecret(source.pull?.apiKey, `${name} pull.apiKey`),
      graphqlKey: yield* optionalSecret(source.graphql?.apiKey, `${name} graphql.apiKey`),
      oauthSecret: yield* optionalSecret(source.graphql?.oauth?.clientSecret, `${name} graphql.oauth.clientSecret`),
      downloadKey: yield* optionalSecret(source.fullLoad.downloadApiKey, `${name} fullLoad.downloadApiKey`),
      restKeys: {
        pull: yield* optionalSecret(source.pull?.restApiKey, `${name} pull.restApiKey`),
        graphql: yield* optionalSecret(source.graphql?.restApiKey, `${name} graphql.restApiKey`),
        push: yield* optionalSecret(source.push?.restApiKey, `${name} push.restApiKey`)
      }
    } satisfies DafRuntime
  })

/** Credentials chosen by the request's origin (REST: the asking path's key, when it has one). */
export const credentialsOf = (runtime: DafRuntime, pools: Pools, timeoutMs = 30_000, path?: Path): Credentials => {
  const graphql = runtime.source.graphql
  const graphqlOrigin = graphql === undefined ? undefined : new URL(graphql.url).origin
  const oauth = graphql?.oauth
  const graphqlCredentials =
    oauth !== undefined && runtime.oauthSecret !== undefined
      ? oauthCredentials(pools, { tokenUrl: oauth.tokenUrl, clientId: oauth.clientId, clientSecret: runtime.oauthSecret, scope: oauth.scope }, timeoutMs)
      : apiKeyCredentials(runtime.graphqlKey)
  const own = path === undefined ? undefined : runtime.restKeys[path]
  const otherCredentials = apiKeyCredentials(own ?? runtime.pullKey ?? runtime.graphqlKey)
  return {
    apply: (url, headers, signal) => (url.origin === graphqlOrigin ? graphqlCredentials : otherCredentials).apply(url, headers, signal)
  }
}

/** Where a source fetches its objects' rows: REST URLs and/or its GraphQL endpoint, with its credentials. */
export const dataServiceOf = (runtime: DafRuntime, pools: Pools, policy: FetchPolicy, path?: Path): DataService => {
  const service = { pools, credentials: credentialsOf(runtime, pools, policy.timeoutSeconds * 1000, path), policy }
  const gql = runtime.source.graphql
  return {
    service,
    graphqlUrl: gql?.url,
    register: gql?.register,
    // Every path asks the import status when the source has it: a re-import empties REST's answers too.
    importRunning: gql?.importStatusGate === true ? importRunning(gql, { ...service, policy: gql }) : undefined
  }
}
