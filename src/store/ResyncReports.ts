/** Reports of reconciliation runs (resync): kept so operators and the API can see drift over time. */
import { Context, type Effect } from "effect"
import type { StoreError } from "./StoreError.js"

export interface ResyncReport {
  readonly id?: number
  readonly source: string
  readonly resource: string
  readonly objectType: string
  readonly startedAt: string
  readonly finishedAt: string
  readonly dryRun: boolean
  /** Objects looked at: upstream's and the shadow's, together. */
  readonly checked: number
  /** Upstream has it, the shadow does not. */
  readonly missing: number
  /** Both have it, with different content. */
  readonly changed: number
  /** The shadow has it, upstream no longer lists it. */
  readonly extra: number
  /** Objects queued for the fetch path to repair (0 in a dry run). */
  readonly repaired: number
  /** Abandoned work items given another chance. */
  readonly revived: number
  readonly error: string | null
}

export interface ResyncReportsShape {
  readonly record: (report: ResyncReport) => Effect.Effect<ResyncReport, StoreError>
  /** Newest first. */
  readonly list: (query: { readonly source?: string; readonly limit: number }) => Effect.Effect<ReadonlyArray<ResyncReport>, StoreError>
}

export class ResyncReports extends Context.Tag("skygge/ResyncReports")<ResyncReports, ResyncReportsShape>() {}
