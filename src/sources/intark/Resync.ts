/**
 * Reconciliation (resync) of an IntArk source with its provider: the safety
 * net for any missed notification. Per resource with a list endpoint:
 * enumerate upstream, compare with the shadow by content fingerprint, and
 * queue what differs — missing, changed, unverifiable and extra objects —
 * for the one fetch path, which registers only real changes and deletes only
 * on the provider's own 404. A resource's abandoned work items get another
 * chance once its own listing succeeded (not when it failed). Every
 * run leaves a report. A dry run only measures the drift.
 */
import { Clock, Effect, Either, Option, type Redacted } from "effect"
import { runOnCron } from "../../schedule/OnCron.js"
import { drift, fingerprint, itemFingerprint } from "../../domain/intark/Drift.js"
import { type FieldFilter, minimise } from "../../domain/core/Fields.js"
import { fromEpochMillis } from "../../domain/core/Instant.js"
import { type ResyncReport, ResyncReports } from "../../store/ResyncReports.js"
import { presentState } from "../../store/Present.js"
import { Store } from "../../store/Store.js"
import { WorkQueue } from "../../store/WorkQueue.js"
import { forEachListPage, listedHint, providerHeaders } from "./FullLoad.js"
import { type IntarkSource, objectTypeOf } from "./IntarkConfig.js"

const now = Effect.map(Clock.currentTimeMillis, fromEpochMillis)
const ID_PAGE = 1000
const QUEUE_CHUNK = 1000

/** The shadow's present content of an object, as a fingerprint; none when the shadow holds nothing now. */
const shadowFingerprint = (objectType: string, objectId: string, hasValidity: boolean, fields: FieldFilter | undefined) =>
  Effect.flatMap(now, (at) =>
    Effect.map(presentState(objectType, objectId, hasValidity, at), (present) =>
      // Minimised again: a state stored before the setting (not yet `skygge minimise`d) compares as what a fetch would store now.
      Option.map(present, (p) => ("data" in p ? fingerprint(minimise(p.data, fields)) : `inconsistent:${p.inconsistent}`))
    )
  )

export interface ResyncOptions {
  readonly dryRun: boolean
}

/** Reconcile one resource; always returns (and records) a report, with `error` when it stopped short. */
export const resyncResource = (source: IntarkSource, resource: string, authHeaders: Readonly<Record<string, Redacted.Redacted>>, options: ResyncOptions) =>
  Effect.gen(function* () {
    const store = yield* Store
    const workQueue = yield* WorkQueue
    const reports = yield* ResyncReports
    const settings = source.resources[resource] ?? {}
    const objectType = objectTypeOf(source, resource)
    const hasValidity = settings.validFrom !== undefined || settings.validTo !== undefined
    const startedAt = yield* now
    const report = (counts: Partial<ResyncReport>) =>
      Effect.flatMap(now, (finishedAt) =>
        reports.record({
          source: source.name,
          resource,
          objectType,
          startedAt,
          finishedAt,
          dryRun: options.dryRun,
          checked: 0,
          missing: 0,
          changed: 0,
          extra: 0,
          repaired: 0,
          revived: 0,
          error: null,
          ...counts
        })
      )
    if (settings.list === undefined) return yield* report({ error: `resources.${resource}.list is not configured: nothing to compare with` })

    // Upstream: every listed object, with a fingerprint when the list carries the entity.
    const upstream = new Map<string, string | null>()
    const locations = new Map<string, string | null>()
    const listed = yield* Effect.either(
      forEachListPage(source, settings.list, settings.listIdField, providerHeaders(authHeaders), (page) =>
        Effect.sync(() => {
          for (const o of page.objects) {
            upstream.set(o.id, itemFingerprint(o.item, settings.fields))
            locations.set(o.id, o.location)
          }
        })
      )
    )
    // A list that failed part way is no basis for anything: nothing is repaired.
    if (Either.isLeft(listed)) return yield* report({ error: `listing failed: ${listed.left.message}` })

    // The shadow: every object of the type it ever held, as it stands now.
    const shadow = new Map<string, string>()
    for (let after = ""; ; ) {
      const ids = yield* store.objectIds(objectType, after, ID_PAGE)
      for (const id of ids) {
        const print = yield* shadowFingerprint(objectType, id, hasValidity, settings.fields)
        if (Option.isSome(print)) shadow.set(id, print.value)
      }
      if (ids.length < ID_PAGE) break
      after = ids[ids.length - 1]!
    }

    const d = drift(upstream, shadow)
    let repaired = 0, revived = 0
    if (!options.dryRun) {
      // Only this resource's items, now that its own listing succeeded (another's may be failing).
      revived = yield* workQueue.revive(source.name, resource)
      const ids = [...d.missing, ...d.changed, ...d.unverified, ...d.extra]
      for (let i = 0; i < ids.length; i += QUEUE_CHUNK) {
        const chunk = ids.slice(i, i + QUEUE_CHUNK)
        yield* workQueue.record(source.name, chunk.map((id) => listedHint(source, resource, id, locations.get(id) ?? null)))
      }
      repaired = ids.length
    }
    const done = yield* report({ checked: d.checked, missing: d.missing.length, changed: d.changed.length, extra: d.extra.length, repaired, revived })
    yield* Effect.logInfo(options.dryRun ? "resync (dry run): drift measured" : "resync: drift queued for repair").pipe(
      Effect.annotateLogs({ source: source.name, resource, checked: done.checked, missing: done.missing, changed: done.changed, extra: done.extra, repaired, revived })
    )
    return done
  })

/** Reconcile every resource of a source (or the named ones). */
export const resyncSource = (source: IntarkSource, authHeaders: Readonly<Record<string, Redacted.Redacted>>, options: ResyncOptions & { readonly resources?: ReadonlyArray<string> }) =>
  Effect.forEach(
    Object.keys(source.resources).filter((r) => options.resources === undefined || options.resources.includes(r)),
    (resource) => resyncResource(source, resource, authHeaders, options)
  )

/** Run `resyncSource` at every instant of the source's cron schedule (in its time zone), until interrupted. */
export const runResyncSchedule = (source: IntarkSource, authHeaders: Readonly<Record<string, Redacted.Redacted>>) =>
  source.resync === undefined
    ? Effect.void
    : runOnCron(source.resync.cron, source.resync.timeZone ?? source.timeZone, "scheduled resync", resyncSource(source, authHeaders, { dryRun: source.resync.dryRun })).pipe(
      Effect.annotateLogs({ source: source.name })
    )
