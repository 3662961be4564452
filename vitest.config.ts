import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // SQLite files and child processes: keep a modest number of workers on 2 cores.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: "forks"
  }
})
