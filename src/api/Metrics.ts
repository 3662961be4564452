/**
 * Prometheus metrics, kept in-process: request counts and latency by endpoint
 * (its operationId, see Routes.ts; never a concrete path — object ids can be personal data), ingest
 * outcomes, and store gauges read at scrape time.
 */
import { Context, Effect, Layer } from "effect"
import type { ClusterView } from "../domain/cluster/ClusterView.js"
import type { PublisherState } from "../store/Outbox.js"
import type { StoreStats } from "../store/Store.js"
import type { StorePoolStats } from "../store/StorePool.js"

export interface DownstreamStats {
  readonly pendingActivations: number
  readonly outboxRecords: number
  readonly publishers: ReadonlyArray<PublisherState>
  /** Work items of the notification sources, by source and state (pending, in_flight, abandoned). */
  readonly workItems?: ReadonlyArray<{ readonly source: string; readonly state: string; readonly n: number }>
  /** Anomalies recorded by the mirror (upstream history rewrites and the like). */
  readonly anomalies?: number
  /** Events received by PUSH and not yet applied. */
  readonly pushInboxPending?: number
  /** Seconds since each polling source last confirmed its cursor. */
  readonly cursorAges?: ReadonlyArray<{ readonly source: string; readonly seconds: number }>
  /** The engines on the store and who holds each singleton. */
  readonly cluster?: ClusterView
}

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface Histogram {
  counts: Array<number>
  sum: number
  count: number
}

export interface MetricsShape {
  readonly observeRequest: (route: string, status: number, seconds: number) => void
  readonly countIngest: (outcome: string, n: number) => void
  /** What a retention run removed: `closed_rows` (by object type), `refused_inputs`, `inbox_bodies`. */
  readonly countPruned: (what: string, objectType: string | undefined, n: number) => void
  /** `pool`: the store's connection pool, where it has one (PostgreSQL). */
  readonly render: (stats: StoreStats, downstream?: DownstreamStats, pool?: StorePoolStats) => string
}

export class Metrics extends Context.Tag("skygge/Metrics")<Metrics, MetricsShape>() {
  static readonly layer = Layer.sync(Metrics, () => makeMetrics())
}

export const makeMetrics = (): MetricsShape => {
  const requests = new Map<string, number>()
  const latency = new Map<string, Histogram>()
  const ingest = new Map<string, number>()
  const pruned = new Map<string, number>()
  return {
    observeRequest: (route, status, seconds) => {
      const key = `route="${route}",status="${status}"`
      requests.set(key, (requests.get(key) ?? 0) + 1)
      let h = latency.get(route)
      if (h === undefined) {
        h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }
        latency.set(route, h)
      }
      for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++
      h.sum += seconds
      h.count++
    },
    countIngest: (outcome, n) => {
      if (n > 0) ingest.set(outcome, (ingest.get(outcome) ?? 0) + n)
    },
    countPruned: (what, objectType, n) => {
      const key = objectType === undefined ? `what="${what}"` : `what="${what}",type="${objectType.replace(/["\\\n]/g, "_")}"`
      pruned.set(key, (pruned.get(key) ?? 0) + n)
    },
    render: (stats, downstream, pool) => {
      const out: Array<string> = []
      const gauge = (name: string, help: string, value: number) =>
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`)
      gauge("skygge_rows", "Rows in the store, open and closed.", stats.rows)
      gauge("skygge_current_rows", "Rows not yet closed (registreringTil open).", stats.currentRows)
      gauge("skygge_objects", "Objects with at least one accepted operation.", stats.objects)
      gauge("skygge_events", "Accepted operations in the event log.", stats.events)
      gauge("skygge_refused", "Refused inputs recorded.", stats.refused)
      if (downstream !== undefined) {
        gauge("skygge_activations_pending", "Virkningstid activations waiting for their instant.", downstream.pendingActivations)
        gauge("skygge_outbox_records", "Records kept in the outbox (delivered ones until pruned).", downstream.outboxRecords)
        out.push("# HELP skygge_outbox_backlog Outbox records a publisher has not yet delivered.", "# TYPE skygge_outbox_backlog gauge")
        for (const p of downstream.publishers) out.push(`skygge_outbox_backlog{publisher="${p.publisher}"} ${p.backlog}`)
        out.push("# HELP skygge_outbox_failed_attempts Failed delivery attempts since the publisher's last success.", "# TYPE skygge_outbox_failed_attempts gauge")
        for (const p of downstream.publishers) out.push(`skygge_outbox_failed_attempts{publisher="${p.publisher}"} ${p.attempts}`)
        out.push("# HELP skygge_source_work_items Objects waiting to be fetched from a provider, by source and state (abandoned: gave up after maxAttempts; a resync retries them).", "# TYPE skygge_source_work_items gauge")
        for (const w of downstream.workItems ?? []) out.push(`skygge_source_work_items{source="${w.source}",state="${w.state}"} ${w.n}`)
        if (downstream.anomalies !== undefined) gauge("skygge_anomalies", "Upstream history rewrites and other anomalies the mirror recorded instead of obeying.", downstream.anomalies)
        if (downstream.pushInboxPending !== undefined) gauge("skygge_push_inbox_pending", "Events received by PUSH, recorded and not yet applied.", downstream.pushInboxPending)
        out.push("# HELP skygge_source_cursor_age_seconds Seconds since a polling source last committed or confirmed its cursor (PULL window, GraphQL eventid).", "# TYPE skygge_source_cursor_age_seconds gauge")
        for (const c of downstream.cursorAges ?? []) out.push(`skygge_source_cursor_age_seconds{source="${c.source}"} ${c.seconds.toFixed(3)}`)
        const cluster = downstream.cluster
        if (cluster !== undefined) {
          out.push("# HELP skygge_cluster_members Engines on this store, by state (live: a heartbeat younger than cluster.memberTimeoutSeconds).", "# TYPE skygge_cluster_members gauge")
          out.push(`skygge_cluster_members{state="live"} ${cluster.members.filter((m) => m.live).length}`, `skygge_cluster_members{state="gone"} ${cluster.members.filter((m) => !m.live).length}`)
          out.push("# HELP skygge_cluster_singleton_held Whether some engine holds the singleton (0: nobody runs it; alert when it stays 0).", "# TYPE skygge_cluster_singleton_held gauge")
          for (const s of cluster.singletons) out.push(`skygge_cluster_singleton_held{name="${s.name}"} ${s.holder === null ? 0 : 1}`)
          out.push("# HELP skygge_cluster_singletons_led Singletons this engine holds.", "# TYPE skygge_cluster_singletons_led gauge")
          out.push(`skygge_cluster_singletons_led ${cluster.members.find((m) => m.id === cluster.member)?.holds.length ?? 0}`)
        }
      }
      if (pool !== undefined) {
        out.push("# HELP skygge_store_pool_connections Connections of the store's pool, by state (their sum is the pool's size now).", "# TYPE skygge_store_pool_connections gauge")
        out.push(`skygge_store_pool_connections{state="in_use"} ${pool.total - pool.idle}`, `skygge_store_pool_connections{state="idle"} ${pool.idle}`)
        gauge("skygge_store_pool_waiting", "Store queries waiting for a connection of the pool (store.poolSize too small, or connections held too long).", pool.waiting)
      }
      out.push("# HELP skygge_ingest_operations_total Operations received by this process, by outcome.", "# TYPE skygge_ingest_operations_total counter")
      for (const [outcome, n] of ingest) out.push(`skygge_ingest_operations_total{outcome="${outcome}"} ${n}`)
      out.push("# HELP skygge_retention_pruned_total What retention removed since start: closed registrations by object type, refused inputs' raw text, processed PUSH inbox bodies.", "# TYPE skygge_retention_pruned_total counter")
      for (const [key, n] of pruned) out.push(`skygge_retention_pruned_total{${key}} ${n}`)
      out.push("# HELP skygge_http_requests_total HTTP requests by route and status.", "# TYPE skygge_http_requests_total counter")
      for (const [key, n] of requests) out.push(`skygge_http_requests_total{${key}} ${n}`)
      out.push("# HELP skygge_http_request_duration_seconds HTTP request latency by route.", "# TYPE skygge_http_request_duration_seconds histogram")
      for (const [route, h] of latency) {
        BUCKETS.forEach((b, i) => out.push(`skygge_http_request_duration_seconds_bucket{route="${route}",le="${b}"} ${h.counts[i]}`))
        out.push(`skygge_http_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${h.count}`)
        out.push(`skygge_http_request_duration_seconds_sum{route="${route}"} ${h.sum}`)
        out.push(`skygge_http_request_duration_seconds_count{route="${route}"} ${h.count}`)
      }
      return out.join("\n") + "\n"
    }
  }
}

/** Record the outcome counts of a summary. */
export const countSummary = (metrics: MetricsShape, s: { applied: number; unchanged: number; duplicate: number; refused: number }) =>
  Effect.sync(() => {
    metrics.countIngest("applied", s.applied)
    metrics.countIngest("unchanged", s.unchanged)
    metrics.countIngest("duplicate", s.duplicate)
    metrics.countIngest("refused", s.refused)
  })
