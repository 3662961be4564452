/**
 * A read model over two store services: where each polling source path stands
 * (its cursor and the cursor's age) and the PUSH inbox backlog — what the API,
 * the CLI and the metrics show. Nothing here writes.
 */
import { Clock, Effect } from "effect"
import { type Instant, toEpochMillis } from "../domain/core/Instant.js"
import { PushInbox } from "./PushInbox.js"
import { SourceCursors } from "./SourceCursors.js"

/** Each path's cursor with its age, and the PUSH inbox backlog (API and metrics). */
export const sourcesStatus = Effect.gen(function* () {
  const cursors = yield* SourceCursors
  const inbox = yield* PushInbox
  const now = yield* Clock.currentTimeMillis
  return {
    cursors: (yield* cursors.list).map((c) => ({ ...c, ageSeconds: Math.max(0, (now - toEpochMillis(c.updatedAt as Instant)) / 1000) })),
    pushInboxPending: yield* inbox.pendingCount
  }
})

