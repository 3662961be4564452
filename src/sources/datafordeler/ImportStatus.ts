/**
 * What the GraphQL service tells about the register's imports:
 * `DAF_RegisterImportStatus.lastEventId` is the newest event of a complete
 * import, and events past it mean an import is running — one that may have
 * deleted an object's rows and not yet inserted them again. Every path that
 * fetches rows asks it (when the source has `graphql` with the gate on) before
 * it takes a history lacking rows we hold as complete.
 */
import { Effect } from "effect"
import { decodeImportStatus } from "../../domain/datafordeler/DatafordelerEvents.js"
import type { GraphqlSettings } from "./DafConfig.js"
import { postGraphql, type Service, withRetry } from "./ObjectFetch.js"

export const IMPORT_STATUS_QUERY = "query SkyggeImportStatus { DAF_RegisterImportStatus { lastEventId lastSequenceNumber lastUpdated } }"

/** Any event past the import status's lastEventId: an import is running (its deletes may show before its inserts). */
export const runningImportQuery = (register: string): string =>
  `query SkyggeImportRunning($first: Int!, $gt: Long!) { ${register}_Events(first: $first, where: { eventid: { gt: $gt } }, order: { eventid: ASC }) { nodes { eventid } } }`

/** The newest event of a complete import. */
export const lastCompleteEvent = (gql: GraphqlSettings, service: Service) =>
  withRetry(gql, (signal) => postGraphql(service, gql.url, IMPORT_STATUS_QUERY, {}, signal)).pipe(
    Effect.flatMap((d) => {
      const status = decodeImportStatus(d)
      return "reason" in status ? Effect.fail(status.reason) : Effect.succeed(status.lastEventId)
    })
  )

/** Whether an import is running now: events exist past the newest complete one. */
export const importRunning = (gql: GraphqlSettings, service: Service) =>
  Effect.gen(function* () {
    const complete = yield* lastCompleteEvent(gql, service)
    const answer = yield* withRetry(gql, (signal) => postGraphql(service, gql.url, runningImportQuery(gql.register), { first: 1, gt: complete }, signal))
    const nodes = (answer[`${gql.register}_Events`] as { nodes?: unknown } | undefined)?.nodes
    if (!Array.isArray(nodes)) return yield* Effect.fail(`no ${gql.register}_Events nodes in the answer`)
    return nodes.length > 0
  })
