/**
 * Debian's chromium, driven by playwright-core, for the time-travel page's tests. A missing browser fails
 * the test (never skips it) saying how to install it; `.ci/run` installs it when it is missing.
 */
import { execFileSync } from "node:child_process"
import { type Browser, chromium } from "playwright-core"

export const chromiumPath = (): string => {
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim()
  } catch {
    throw new Error("chromium is not installed: the browser tests need Debian's chromium — `apt-get install -y chromium` (as root; .ci/run does this when it is missing)")
  }
}

/** Headless chromium with no network beyond what the page asks of the engine. */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: chromiumPath(), headless: true, args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"] })
