#!/usr/bin/env node
// The `skygge` command. Sources are TypeScript, loaded through tsx's ESM hook,
// so `npx skygge …` works straight after `npm ci` with no build step.
import { register } from "tsx/esm/api"

register()
const { runCli } = await import("../src/cli/main.ts")
runCli()
