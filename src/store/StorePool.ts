/**
 * The store's connection pool as /metrics shows it: only a backend with a pool (PostgreSQL) provides
 * it, and the API reads it optionally, so SQLite needs nothing.
 */
import { Context, type Effect } from "effect"

export interface StorePoolStats {
  /** Connections open, in use or idle. */
  readonly total: number
  readonly idle: number
  /** Queries waiting for a connection: the pool is too small, or connections are held too long. */
  readonly waiting: number
}

export class StorePool extends Context.Tag("skygge/StorePool")<StorePool, { readonly stats: Effect.Effect<StorePoolStats> }>() {}
