/** Cleanups a test registers as it opens things (processes, simulators, folders), run last-first after each test. */
import { afterEach } from "vitest"

export const useCleanups = (): Array<() => Promise<void> | void> => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })
  return cleanups
}
