/**
 * Where a first start of an event path begins, checked before the source
 * starts. A subscription's events reach back to its creation and the service
 * keeps them about two months, so an operator may start a path earlier than
 * now: `pull.startAt` (an instant) or `graphql.startAfterEventId`. A starting
 * point whose events the service no longer keeps would lose them silently, so
 * the start is refused naming the setting. Only a first start uses them: a
 * path with a cursor goes on from it.
 */
import { Clock, Effect, Option } from "effect"
import { ConfigFileError } from "../../config/Config.js"
import { fromEpochMillis, type Instant, parseInstant, toEpochMillis } from "../../domain/core/Instant.js"
import { startAtRefusal } from "../../domain/datafordeler/PullWindow.js"
import { SourceCursors } from "../../store/SourceCursors.js"
import type { DafSource, GraphqlSettings } from "./DafConfig.js"
import { postGraphql, type Service, withRetry } from "./ObjectFetch.js"

/** The PULL cursor keeps the source's own name (the first path built had it); GraphQL's is suffixed. */
export const pullCursorName = (source: DafSource) => source.name
export const graphqlCursorName = (source: DafSource) => `${source.name}:graphql`

/** `pull.startAt` as an instant (a time without an offset is read in the source's zone). */
export const pullStartAt = (source: DafSource): Instant | undefined => {
  const at = source.pull?.startAt === undefined ? undefined : parseInstant(source.pull.startAt, source.timeZone)
  return typeof at === "string" ? at : undefined
}

/** The oldest event the GraphQL service still keeps (any entity). */
const oldestEventQuery = (register: string) => `query SkyggeOldestEvent { ${register}_Events(first: 1, order: { eventid: ASC }) { nodes { eventid datafordelerOpdateringstid } } }`

/** The first event (any entity) stamped at or after `$since`. */
export const firstEventSinceQuery = (register: string) =>
  `query SkyggeFirstEventSince($since: DateTime!) { ${register}_Events(first: 1, where: { datafordelerOpdateringstid: { gte: $since } }, order: { eventid: ASC }) { nodes { eventid datafordelerOpdateringstid } } }`

type EventNode = { readonly eventid: number; readonly stamp: Instant | undefined }

/** The one node of an events answer (none: undefined), or why the answer is not one. */
const firstNode = (answer: Record<string, unknown>, register: string): EventNode | undefined | { readonly reason: string } => {
  const nodes = (answer[`${register}_Events`] as { nodes?: unknown } | undefined)?.nodes
  if (!Array.isArray(nodes)) return { reason: `no ${register}_Events nodes in the answer` }
  const node = nodes[0] as { eventid?: unknown; datafordelerOpdateringstid?: unknown } | undefined
  if (node === undefined) return undefined
  if (typeof node.eventid !== "number" || !Number.isSafeInteger(node.eventid)) return { reason: "an event without an integer eventid" }
  const stamp = typeof node.datafordelerOpdateringstid === "string" ? parseInstant(node.datafordelerOpdateringstid) : undefined
  return { eventid: node.eventid, stamp: typeof stamp === "string" ? stamp : undefined }
}

/**
 * Where the GraphQL events start after a first start loaded a file download
 * whose newest row was written at `newestWrite`: after the event before the
 * first one stamped `fullLoad.downloadOverlapMinutes` before it — or at
 * `planned` when that is earlier. Whatever changed between the download's
 * generation and the start then comes from events, and the mirror absorbs
 * what is read twice. A service that cannot answer the question is read from
 * its oldest kept event (slower, never lossy), and says so.
 */
export const graphqlStartAfterDownload = (source: DafSource, gql: GraphqlSettings, service: Service, planned: number, newestWrite: Instant) =>
  Effect.gen(function* () {
    const log = Effect.annotateLogs({ source: source.name, path: "graphql" })
    const overlapMinutes = source.fullLoad.downloadOverlapMinutes
    const since = fromEpochMillis(Math.floor(toEpochMillis(newestWrite)) - overlapMinutes * 60_000)
    const ask = (query: string, variables: Record<string, unknown>) =>
      withRetry(gql, (signal) => postGraphql(service, gql.url, query, variables, signal)).pipe(
        Effect.flatMap((answer) => {
          const node = firstNode(answer, gql.register)
          return node !== undefined && "reason" in node ? Effect.fail(node.reason) : Effect.succeed(node)
        })
      )
    const found = yield* Effect.either(Effect.all([ask(firstEventSinceQuery(gql.register), { since }), ask(oldestEventQuery(gql.register), {})]))
    if (found._tag === "Left") {
      yield* Effect.logWarning(
        `cannot find the first event after the file download's newest row (${newestWrite}); events are read from the oldest the service keeps (set graphql.startAfterEventId to start elsewhere)`
      ).pipe(log, Effect.annotateLogs({ error: found.left }))
      return 0
    }
    const [first, oldest] = found.right
    if (oldest?.stamp !== undefined && oldest.stamp > since) {
      yield* Effect.logError(
        `the file download's newest row was written at ${newestWrite}, before the oldest event the service keeps (${oldest.eventid}, ${oldest.stamp}); changes in between are missing until a newer download is loaded (fullLoad.cron)`
      ).pipe(log)
    }
    // No event since: everything after the download is at or after the planned start.
    const start = first === undefined ? planned : Math.min(planned, first.eventid - 1)
    if (start !== planned) yield* Effect.logWarning(`events are read after ${start}, ${overlapMinutes} minutes (fullLoad.downloadOverlapMinutes) before the file download's newest row (${newestWrite})`).pipe(log)
    return start
  })

/** Refuse a first start whose configured starting point has lost events; the error names the setting and what to do. */
export const checkStartingPoints = (source: DafSource, graphqlService: Service) =>
  Effect.gen(function* () {
    const cursors = yield* SourceCursors
    const name = `sources '${source.name}'`
    const startAt = pullStartAt(source)
    if (startAt !== undefined && Option.isNone(yield* cursors.get(pullCursorName(source)))) {
      const refusal = startAtRefusal(startAt, yield* Clock.currentTimeMillis, source.fullLoad.retentionDays)
      if (refusal !== undefined) return yield* Effect.fail(new ConfigFileError(`${name} pull.startAt: ${refusal}`))
    }
    const gql = source.graphql
    const after = gql?.startAfterEventId
    if (gql !== undefined && after !== undefined && Option.isNone(yield* cursors.get(graphqlCursorName(source)))) {
      const answer = yield* withRetry(gql, (signal) => postGraphql(graphqlService, gql.url, oldestEventQuery(gql.register), {}, signal)).pipe(
        Effect.mapError((e) => new ConfigFileError(`${name} graphql.startAfterEventId: cannot ask the service which events it still keeps: ${e}`))
      )
      const node = firstNode(answer, gql.register)
      const oldest = node === undefined || "reason" in node ? undefined : node.eventid
      if (oldest !== undefined && oldest > after + 1) {
        return yield* Effect.fail(
          new ConfigFileError(
            `${name} graphql.startAfterEventId: ${after} is older than the service keeps events (its oldest is ${oldest}); events ${after + 1}–${oldest - 1} are gone — start from ${oldest - 1} or later and load what came before (fullLoad.download, an entity's list query)`
          )
        )
      }
    }
  })
