/**
 * One retention run (`skygge prune`, and the engine's `retention` schedule): per object type with a
 * `retention.closedDays` entry, the registrations closed more than that many days ago are removed;
 * with `refusedDays`, refused inputs' raw text older than that is cleared; with `inboxDays`, processed
 * PUSH inbox bodies older than that are cleared.
 *
 * What stays answers as before. A row is removed only when its registreringTil is before the cutoff
 * (now − days); every row in force at a registration time at or after the cutoff has its registreringTil
 * after it (or none), so it stays: an as-of answer for a registreringstid within the window is
 * unchanged. For a registreringstid before the window the history is incomplete: the store keeps only
 * the registrations still open then — the README says to read it as "not kept", never as the register's
 * answer. Current rows are never removed, however old.
 */
import { Clock, Effect } from "effect"
import { fromEpochMillis, type Instant } from "../domain/core/Instant.js"
import { DataProtection } from "../store/DataProtection.js"
import { closedDaysOf, parseClosedDays, type RetentionConfig } from "./RetentionConfig.js"

const DAY_MS = 86_400_000

export interface PruneReport {
  readonly dryRun: boolean
  /** Per object type with a retention period: the cutoff and the closed registrations removed (or, dry, to remove). */
  readonly closed: ReadonlyArray<{ readonly objectType: string; readonly before: Instant; readonly rows: number }>
  /** Refused inputs whose raw text was cleared; null when `refusedDays` is not set. */
  readonly refusedInputs: { readonly before: Instant; readonly n: number } | null
  /** Processed PUSH inbox entries whose body was cleared; null when `inboxDays` is not set. */
  readonly inboxBodies: { readonly before: Instant; readonly n: number } | null
}

export const pruneNow = (config: RetentionConfig, dryRun: boolean) =>
  Effect.gen(function* () {
    const store = yield* DataProtection
    const now = yield* Clock.currentTimeMillis
    const cutoff = (days: number) => fromEpochMillis(now - days * DAY_MS)
    const byType = parseClosedDays(config.closedDays)
    const days = typeof byType === "string" ? new Map<string, number>() : byType
    const closed: Array<PruneReport["closed"][number]> = []
    if (days.size > 0) {
      for (const objectType of yield* store.objectTypes) {
        const d = closedDaysOf(days, objectType)
        if (d === undefined) continue
        const before = cutoff(d)
        closed.push({ objectType, before, rows: yield* store.pruneClosed(objectType, before, dryRun) })
      }
    }
    const refusedInputs = config.refusedDays._tag === "Some" ? { before: cutoff(config.refusedDays.value), n: yield* store.pruneRefusedInputs(cutoff(config.refusedDays.value), dryRun) } : null
    const inboxBodies = config.inboxDays._tag === "Some" ? { before: cutoff(config.inboxDays.value), n: yield* store.prunePushBodies(cutoff(config.inboxDays.value), dryRun) } : null
    return { dryRun, closed, refusedInputs, inboxBodies } satisfies PruneReport
  })

/** The counts of a report by what was pruned, for logs and metrics (object types are not personal data; ids never appear). */
export const prunedCounts = (report: PruneReport): ReadonlyArray<{ readonly what: string; readonly objectType?: string; readonly n: number }> => [
  ...report.closed.map((c) => ({ what: "closed_rows", objectType: c.objectType, n: c.rows })),
  ...(report.refusedInputs === null ? [] : [{ what: "refused_inputs", n: report.refusedInputs.n }]),
  ...(report.inboxBodies === null ? [] : [{ what: "inbox_bodies", n: report.inboxBodies.n }])
]
