#!/usr/bin/env node
// The `skygge` command. It runs the bundle `npm ci` built from src/ (dist/skygge.mjs, scripts/build.mjs,
// the package's `prepare`), which starts in a fraction of the time; when the bundle is missing or older
// than any source (an edited checkout), it loads the TypeScript itself through tsx's ESM hook instead.
import { readdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"

// A bulk import's garbage (each batch's lines, decoded operations, statements' values) outlives a
// young-generation collection and dies in the old one, which V8 lets grow to several times what is
// live before collecting it: an import's RSS followed the file's size to about 330 MiB. Growing the
// old generation by 20 % of what is live keeps an import of 200,000 lines at 231 MiB for the same CPU
// time (measured; the runtime and the bundle alone take about 130 MiB). Set before anything is
// loaded, so that every collection's limit is computed with it.
if (process.argv[2] === "import" || process.argv[2] === "import-extract") setFlagsFromString("--heap-growing-percent=20")

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
