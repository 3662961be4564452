/**
 * Retention on the mirror path: every item mirrored through this MirrorStore carries its type's cutoff
 * (now − `retention.closedDays`), so an upstream row closed before it that is not held — pruned, or about to
 * be — is not inserted again when the register serves the object's whole history (Datafordeler sources,
 * `import-extract --mirror`). Types without a retention period pass as they are.
 */
import { Clock, Effect, Layer } from "effect"
import { fromEpochMillis } from "../domain/core/Instant.js"
import { MirrorStore } from "../store/Mirror.js"
import { closedDaysOf, parseClosedDays, RetentionConfig } from "./RetentionConfig.js"

const DAY_MS = 86_400_000

export const RetentionMirrorLive = Layer.effect(
  MirrorStore,
  Effect.gen(function* () {
    const base = yield* MirrorStore
    const config = yield* RetentionConfig
    const parsed = parseClosedDays(config.closedDays)
    if (typeof parsed === "string" || parsed.size === 0) return base
    return {
      ...base,
      mirror: (source, eventId, items, cursor) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const withCutoff = items.map((item) => {
            const days = closedDaysOf(parsed, item.objectType)
            return days === undefined ? item : { ...item, closedBefore: fromEpochMillis(now - days * DAY_MS) }
          })
          return base.mirror(source, eventId, withCutoff, cursor)
        })
    }
  })
)
