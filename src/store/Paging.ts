/**
 * Keyset paging over the store: the HTTP API's streamed answers and the CLI's
 * lists read the same pages the same way, in constant memory.
 */
import { Effect, Option, Stream } from "effect"

/** Rows asked of the store at once. */
export const PAGE = 1000

/**
 * The pages from `first` on, `cap` rows at most in all: each fetch starts after
 * the last row of the page before (`cursorOf`), and a page shorter than PAGE is the last.
 */
export const keysetPages = <C, A, E>(
  first: C,
  fetch: (cursor: C) => Effect.Effect<ReadonlyArray<A>, E>,
  cursorOf: (last: A) => C,
  cap = Infinity
): Stream.Stream<ReadonlyArray<A>, E> =>
  Stream.paginateEffect({ cursor: first, sent: 0 }, ({ cursor, sent }) =>
    fetch(cursor).pipe(
      Effect.map((rows) => {
        const page = rows.slice(0, Math.max(0, cap - sent))
        const done = rows.length < PAGE || sent + page.length >= cap
        return [page, done ? Option.none() : Option.some({ cursor: cursorOf(rows[rows.length - 1]!), sent: sent + page.length })] as const
      })
    )
  ).pipe(Stream.filter((page) => page.length > 0))
