/** Polling for a condition seen from outside (an HTTP answer, a received request), with a message when it never holds. */
export const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Wait until a `skygge run` on `port` answers /ready. */
export const waitForReady = (port: number, timeoutMs = 30_000): Promise<void> =>
  waitFor(`skygge on port ${port} to be ready`, async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200, timeoutMs)

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
