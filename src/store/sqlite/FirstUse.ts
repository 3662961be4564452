/**
 * The SQLite adapters' statements made on first use rather than when the store opens: a command that asks one
 * question prepares the statement it runs, not the store's 130-odd (about 14 M of `skygge get`'s instructions,
 * bench/README.md (s)). Each is made once and kept. Every use is inside an operation's `attempt`, so a
 * statement that cannot be prepared fails there, as a StoreError naming that operation.
 */
import type Database from "better-sqlite3"

/** Per database, every statement maker handed to `onFirstUse`, for `makeEvery`. Weak: they go with the handle. */
const makersOf = new WeakMap<Database.Database, Array<() => unknown>>()

/** An object whose properties are made by `makers` (prepared, for a statement) the first time each is read. */
export const onFirstUse = <T extends object>(db: Database.Database, makers: { readonly [K in keyof T]: () => T[K] }): T => {
  const made = {} as T
  const all = makersOf.get(db) ?? []
  makersOf.set(db, all)
  for (const key of Object.keys(makers) as Array<keyof T>) {
    const make = () => {
      const value = makers[key]()
      Object.defineProperty(made, key, { value, enumerable: true })
      return value
    }
    Object.defineProperty(made, key, { configurable: true, enumerable: true, get: make })
    all.push(() => made[key])
  }
  return made
}

/**
 * Make now every statement the services on `db` would make on first use: how a test checks all of them against
 * the migrated schema at once (no operation needs to run for a mistake in its SQL to show). How many were made.
 */
export const makeEvery = (db: Database.Database): number => {
  const all = makersOf.get(db) ?? []
  for (const make of all) make()
  return all.length
}
