// Bundle the command (src/cli/main.ts and everything it imports, dependencies included) into one
// JavaScript file, dist/skygge.mjs, so `skygge` starts without compiling TypeScript or resolving
// thousands of module files: measured here, `skygge --version` in 0.8 s instead of 3.0 s through tsx.
// Native and optional modules stay outside (loaded from node_modules). Type checking is
// `tsc --noEmit`'s job; this only strips types. Runs on `npm ci` (prepare) and before the tests.
import { build } from "esbuild"
import { mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const modules = readdirSync(join(root, "src"), { recursive: true }).filter((f) => String(f).endsWith(".ts")).length
mkdirSync(join(root, "dist"), { recursive: true })
// Written beside the bundle and renamed into place, so a `skygge` starting meanwhile reads the old bundle or
// the new one whole, never half of one.
const result = await build({
  entryPoints: [join(root, "src", "cli", "main.ts")],
  outfile: join(root, "dist", "skygge.mjs"),
  write: false,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // better-sqlite3 loads its compiled addon from its own folder; pg-native is pg's optional native driver.
  external: ["better-sqlite3", "pg-native"],
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: { js: "import { createRequire as skyggeCreateRequire } from 'node:module'; const require = skyggeCreateRequire(import.meta.url);" },
  sourcemap: "linked",
  logLevel: "warning"
})
// The time-travel page's script and style sheet (src/ui/page), for the browser: served by the engine from
// dist/ui under /ui, nothing loaded from elsewhere.
const page = await build({
  entryPoints: [join(root, "src", "ui", "page", "main.ts")],
  outfile: join(root, "dist", "ui", "page.js"),
  write: false,
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning"
})
mkdirSync(join(root, "dist", "ui"), { recursive: true })
for (const file of [...result.outputFiles, ...page.outputFiles]) {
  writeFileSync(`${file.path}.tmp-${process.pid}`, file.contents)
  renameSync(`${file.path}.tmp-${process.pid}`, file.path)
}
// The stamp bin/skygge.js compares with the sources: a source newer than it means the bundle is stale.
writeFileSync(join(root, "dist", "BUILT"), `${new Date().toISOString()} from ${modules} modules\n`)
console.error(`skygge: bundled ${modules} modules into dist/skygge.mjs and the time-travel page into dist/ui`)
