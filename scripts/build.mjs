// Bundle the command (src/cli/main.ts and everything it imports, dependencies included) into one
// JavaScript file, dist/skygge.cjs, so `skygge` starts without compiling TypeScript or resolving
// thousands of module files: measured here, `skygge --version` in 0.8 s instead of 3.0 s through tsx.
// Native and optional modules stay outside (loaded from node_modules). Type checking is
// `tsc --noEmit`'s job; this only strips types. Runs on `npm ci` (prepare) and before the tests.
//
// A CommonJS-shaped script, not an ES module, because Node 20 keeps no compiled code for an ES module:
// bin/skygge.js runs it through vm.Script with V8's code cache (dist/skygge.cjs.<build id>.<node>.cache, made
// here and by the first start that finds none), which takes most of the 7 MB's parse and compile off
// every start. The build id in the first line ties a cache to its bundle.
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const modules = readdirSync(join(root, "src"), { recursive: true }).filter((f) => String(f).endsWith(".ts")).length
mkdirSync(join(root, "dist"), { recursive: true })
// Written beside the bundle and renamed into place, so a `skygge` starting meanwhile reads the old bundle or
// the new one whole, never half of one.
const buildId = randomUUID()
// Swagger UI's script and style sheet (1.9 MB, a quarter of the bundle, which every start would read and load
// into V8): written beside the bundle and read the first time the /docs page is made (by `skygge run`), so the
// other commands start without them. The bundle holds a stub of the module that reads them (lazy getters).
const SWAGGER_ASSETS = /@effect[\\/]platform[\\/]dist[\\/](esm|cjs)[\\/]internal[\\/]httpApiSwagger\.js$/
const swaggerAssets = await import(pathToFileURL(join(root, "node_modules", "@effect", "platform", "dist", "esm", "internal", "httpApiSwagger.js")).href)
const swaggerStub = `let assets
const load = () => (assets ??= JSON.parse(require("node:fs").readFileSync(require("node:path").join(__dirname, "swagger-ui.json"), "utf8")))
Object.defineProperty(exports, "javascript", { enumerable: true, get: () => load().javascript })
Object.defineProperty(exports, "css", { enumerable: true, get: () => load().css })
`
const result = await build({
  entryPoints: [join(root, "src", "cli", "main.ts")],
  outfile: join(root, "dist", "skygge.cjs"),
  write: false,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  // better-sqlite3 loads its compiled addon from its own folder; pg-native is pg's optional native driver.
  external: ["better-sqlite3", "pg-native"],
  // The sources' import.meta.url, which bin/skygge.js passes in (the bundle's own URL).
  define: { "import.meta.url": "__skyggeModuleUrl" },
  // Read by bin/skygge.js (a comment, so "use strict" stays the body's directive).
  banner: { js: `// skygge build ${buildId}` },
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [
    {
      name: "swagger-assets",
      // Resolved into a namespace of its own, where the stub is CommonJS (its package's "type": "module" would make it ES).
      setup: (b) => {
        b.onResolve({ filter: /internal[\\/]httpApiSwagger\.js$/ }, (args) =>
          SWAGGER_ASSETS.test(join(args.resolveDir, args.path)) ? { path: "httpApiSwagger", namespace: "swagger-assets" } : undefined
        )
        b.onLoad({ filter: /.*/, namespace: "swagger-assets" }, () => ({ contents: swaggerStub, loader: "js" }))
      }
    }
  ]
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
// The previous bundle's code caches, and the ES module bundle this one replaces.
for (const file of readdirSync(join(root, "dist"))) {
  if (/^skygge\.cjs\..+\.cache/.test(file) || /^skygge\.mjs(\.map)?$/.test(file)) rmSync(join(root, "dist", file), { force: true })
}
// The bundle as pure ASCII, which bin/skygge.js reads as latin1 into a one-byte string: no UTF-8 decoding of
// 7 MB, and V8 scans a one-byte source faster. esbuild already escapes code (charset ascii); what is left
// is in dependencies' comments, and \uXXXX means the same character anywhere else it could be.
const ascii = (file) =>
  file.path.endsWith(".cjs") ? file.text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : file.contents
const swaggerJson = { path: join(root, "dist", "swagger-ui.json"), contents: JSON.stringify({ javascript: swaggerAssets.javascript, css: swaggerAssets.css }) }
for (const file of [...result.outputFiles, ...page.outputFiles, swaggerJson]) {
  writeFileSync(`${file.path}.tmp-${process.pid}`, ascii(file))
  renameSync(`${file.path}.tmp-${process.pid}`, file.path)
}
// The stamp bin/skygge.js compares with the sources: a source newer than it means the bundle is stale.
writeFileSync(join(root, "dist", "BUILT"), `${new Date().toISOString()} from ${modules} modules\n`)
// One start makes the code cache (bin/skygge.js writes it when it finds none); a start that cannot is only slower.
spawnSync(process.execPath, [join(root, "bin", "skygge.js"), "--version"], { stdio: "ignore", env: { ...process.env, npm_command: undefined } })
console.error(`skygge: bundled ${modules} modules into dist/skygge.cjs and the time-travel page into dist/ui`)
