/**
 * One publisher's drain loop: read the outbox after its cursor in `seq` order,
 * deliver, move the cursor; on failure keep the records and retry with capped,
 * jittered backoff. At least once (a batch cut short is sent again from its
 * first undelivered record), in order per object (in order, full stop).
 */
import { Data, Duration, Effect, Queue, Schedule } from "effect"
import { backoff } from "../schedule/Backoff.js"
import type { NotificationRecord } from "../domain/core/Notification.js"
import { CommitSignal } from "../store/CommitSignal.js"
import { OutboxStore } from "../store/Outbox.js"

export class DeliveryError extends Data.TaggedError("DeliveryError")<{
  readonly message: string
  /** How many leading records of the batch were delivered before the failure. */
  readonly delivered: number
}> {}

export interface Deliverer {
  readonly name: string
  readonly deliver: (records: ReadonlyArray<NotificationRecord>) => Effect.Effect<void, DeliveryError>
}

export interface PublisherOptions {
  readonly batchSize: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  /** Longest idle sleep: records written by another process (a CLI import) are found within it. */
  readonly pollMs: number
  readonly deliveryTimeoutMs: number
}

/** Runs until interrupted. */
export const runPublisher = (deliverer: Deliverer, options: PublisherOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const outbox = yield* OutboxStore
      const wake = yield* (yield* CommitSignal).subscribe
      let cursor = yield* outbox.cursor(deliverer.name)
      let attempt = 0
      let lastError = ""
      /** The next batch delivered (false: none waiting), or a failure with the records kept. */
      const deliverNext = Effect.gen(function* () {
        const records = yield* outbox.after(cursor, options.batchSize)
        if (records.length === 0) return false
        const result = yield* deliverer.deliver(records).pipe(
          Effect.timeoutFail({
            duration: Duration.millis(options.deliveryTimeoutMs),
            onTimeout: () => new DeliveryError({ message: `no answer within ${options.deliveryTimeoutMs} ms`, delivered: 0 })
          }),
          Effect.either
        )
        // Each move is from the position this publisher holds: one that lost its leadership cannot move a successor's back (StaleWrite).
        if (result._tag === "Right") {
          const to = records[records.length - 1]!.seq
          yield* outbox.delivered(deliverer.name, cursor, to)
          cursor = to
          if (attempt > 0) yield* Effect.logInfo("outbox publisher recovered").pipe(Effect.annotateLogs({ publisher: deliverer.name, attempts: attempt }))
          attempt = 0
          return true
        }
        const error = result.left
        if (error.delivered > 0) {
          const to = records[Math.min(error.delivered, records.length) - 1]!.seq
          yield* outbox.delivered(deliverer.name, cursor, to)
          cursor = to
        }
        yield* outbox.failed(deliverer.name, error.message)
        attempt++
        lastError = error.message
        return yield* error
      })
      const retrying = backoff({ base: Duration.millis(options.baseDelayMs), max: Duration.millis(options.maxDelayMs) }).pipe(
        Schedule.tapOutput((delay) =>
          Effect.logWarning("outbox delivery failed; will retry").pipe(
            Effect.annotateLogs({ publisher: deliverer.name, attempt, retryInMs: Math.round(Duration.toMillis(delay)), error: lastError })
          )
        )
      )
      for (;;) {
        // A stale position is not retried: another process moved it, this one no longer leads (Leadership competes again).
        const delivered = yield* deliverNext.pipe(Effect.retry({ schedule: retrying, while: (e) => e._tag !== "StaleWrite" }))
        if (!delivered) yield* Effect.race(Effect.sleep(Duration.millis(options.pollMs)), Queue.take(wake))
      }
    })
  )
