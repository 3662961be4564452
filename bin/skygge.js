#!/usr/bin/env node
// The `skygge` command. It runs the bundle `npm ci` built from src/ (dist/skygge.mjs, scripts/build.mjs,
// the package's `prepare`), which starts in a fraction of the time; when the bundle is missing or older
// than any source (an edited checkout), it loads the TypeScript itself through tsx's ESM hook instead.
import { readdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"

// Started through npm (`npx skygge run`, `npm start`), this process is npm's grandchild behind a
// `sh -c`: npm passes a SIGTERM on to that shell, which dies of it without passing it further, and
// the engine would be left running on its port. So under npm, a parent that goes away (this process
// re-parented) stops it as the signal would have. Run directly (`node bin/skygge.js`, a service, a
// container), the signal comes here and nothing is watched.
if (process.env.npm_command !== undefined) {
  const parent = process.ppid
  const watch = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(watch)
    process.kill(process.pid, "SIGTERM")
  }, 200)
  watch.unref()
}

/** Is the bundle built from the sources as they are? (Its stamp is newer than every file under src/.) */
const compiledIsCurrent = () => {
  try {
    const built = statSync(fileURLToPath(new URL("../dist/BUILT", import.meta.url))).mtimeMs
    const src = fileURLToPath(new URL("../src/", import.meta.url))
    return readdirSync(src, { recursive: true }).every((file) => statSync(src + file).mtimeMs <= built)
  } catch {
    return false
  }
}

if (compiledIsCurrent()) {
  const { runCli } = await import("../dist/skygge.mjs")
  runCli()
} else {
  const { register } = await import("tsx/esm/api")
  register()
  const { runCli } = await import("../src/cli/main.ts")
  runCli()
}
