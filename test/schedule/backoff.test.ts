/** The one backoff: exponential from its base, capped, jittered within 80–120 %. */
import { Chunk, Duration, Effect, Schedule } from "effect"
import { describe, expect, it } from "vitest"
import { backoff, backoffDelay } from "../../src/schedule/Backoff.js"

const delays = (options: Parameters<typeof backoff>[0], n: number) =>
  Effect.runPromise(Schedule.run(backoff(options), 0, Array.from({ length: n }, () => undefined))).then((c) => Chunk.toReadonlyArray(c).map(Duration.toMillis))

describe("backoff", () => {
  it("doubles from its base and stops growing at its cap, each delay jittered", async () => {
    for (let run = 0; run < 20; run++) {
      const ms = await delays({ base: "250 millis", max: "2 seconds" }, 8)
      const plain = [250, 500, 1000, 2000, 2000, 2000, 2000, 2000]
      ms.forEach((d, i) => {
        expect(d).toBeGreaterThanOrEqual(plain[i]! * 0.8)
        expect(d).toBeLessThanOrEqual(plain[i]! * 1.2)
      })
    }
  })

  it("without a cap keeps doubling", async () => {
    const ms = await delays({ base: "250 millis" }, 6)
    expect(ms[5]).toBeGreaterThanOrEqual(250 * 32 * 0.8)
  })

  it("gives the delay of a retry counted elsewhere (a work queue's attempts)", async () => {
    const first = Duration.toMillis(await Effect.runPromise(backoffDelay({ base: "1 second", max: "5 seconds" }, 0)))
    const late = Duration.toMillis(await Effect.runPromise(backoffDelay({ base: "1 second", max: "5 seconds" }, 1000)))
    expect(first).toBeGreaterThanOrEqual(800)
    expect(first).toBeLessThanOrEqual(1200)
    expect(late).toBeGreaterThanOrEqual(4000)
    expect(late).toBeLessThanOrEqual(6000)
  })
})
