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
import { type Instant, parseInstant } from "../../domain/Instant.js"
import { startAtRefusal } from "../../domain/PullWindow.js"
import { SourceCursors } from "../../store/SourceCursors.js"
import type { DafSource } from "./DafConfig.js"
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
const oldestEventQuery = (register: string) => `query SkyggeOldestEvent { ${register}_Events(first: 1, order: { eventid: ASC }) { nodes { eventid } } }`

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
      const nodes = (answer[`${gql.register}_Events`] as { nodes?: Array<{ eventid?: unknown }> } | undefined)?.nodes
      const oldest = nodes?.[0]?.eventid
      if (typeof oldest === "number" && oldest > after + 1) {
        return yield* Effect.fail(
          new ConfigFileError(
            `${name} graphql.startAfterEventId: ${after} is older than the service keeps events (its oldest is ${oldest}); events ${after + 1}–${oldest - 1} are gone — start from ${oldest - 1} or later and load what came before (fullLoad.download, an entity's list query)`
          )
        )
      }
    }
  })
