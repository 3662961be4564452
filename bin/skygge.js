#!/usr/bin/env node
// The `skygge` command. Sources are TypeScript, loaded through tsx's ESM hook,
// so `npx skygge …` works straight after `npm ci` with no build step.
import { register } from "tsx/esm/api"

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

register()
const { runCli } = await import("../src/cli/main.ts")
runCli()
