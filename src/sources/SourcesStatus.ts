/** Where the polling sources stand, for the API, the CLI and the metrics. */
import { Clock, Effect } from "effect"
import { type Instant, toEpochMillis } from "../domain/core/Instant.js"
import { PushInbox } from "../store/PushInbox.js"
import { SourceCursors } from "../store/SourceCursors.js"

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

