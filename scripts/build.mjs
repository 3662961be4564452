// Bundle the command (src/cli/main.ts and everything it imports, dependencies included) into one
// JavaScript file, dist/skygge.cjs, so `skygge` starts without compiling TypeScript or resolving
// thousands of module files: measured here, `skygge --version` in 0.8 s instead of 3.0 s through tsx.
// The query commands alone (src/cli/queryMain.ts) are bundled again into dist/skygge-query.cjs, 1.3 MB against
// 3, which bin/skygge.js runs for them: a `skygge get` reads, deserialises and evaluates what it uses and little
// else (bench/README.md (s)). Two whole bundles, each on its own, rather than one split into shared pieces: a
// process loads one of them, so nothing (effect's runtime, a tag, an error class) exists twice in it.
// Native addons and optional modules stay outside (loaded from node_modules). Type checking is
// `tsc --noEmit`'s job; this only strips types. Runs on `npm ci` (prepare) and before the tests.
//
// A CommonJS-shaped script, not an ES module, because Node 20 keeps no compiled code for an ES module:
// bin/skygge.js runs it through vm.Script with V8's code cache (dist/skygge.cjs.<build id>.<node>.cache, made
// here and by the first start that finds none), which takes most of the 7 MB's parse and compile off
// every start. The build id in the first line ties a cache to its bundle. The file is the module function
// itself, `(function (exports, require, module, …) {…})`, which the script evaluates to: wrapped by
// bin/skygge.js at each start, V8 made a second copy of the 4 MB text.
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
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
// CommonJS packages that only some commands use (HTTP clients and servers, the broker, PostgreSQL, @effect/cli's
// config-file parsers): imported from ES modules, each is replaced by a stub whose properties load the package on
// first use, so a command that never touches one does not evaluate it at start-up (undici alone, with the
// runtime's own copy its cookie module loads, was a tenth of `skygge get`'s start). Only through the
// properties: every importer uses them so (`pg.Pool`, `WS.WebSocketServer`, `{ request }`), none calls the
// module itself.
const LAZY_PACKAGES = ["undici", "ws", "amqplib", "pg", "yaml", "toml", "ini"]
const requireBuilt = createRequire(import.meta.url)
const lazyStub = (file, names = Object.keys(requireBuilt(file))) =>
  `let real\nconst load = () => (real ??= require(${JSON.stringify(file)}))\n` +
  names
    .map((name) => `Object.defineProperty(exports, ${JSON.stringify(name)}, { enumerable: true, get: () => load()[${JSON.stringify(name)}] })\n`)
    .join("")
// Node's own modules that a command's start would load only for its importers' module-level imports, and that only
// some commands use: each replaced by the same kind of stub for its ES module importers. node:crypto (about 20 M
// instructions to load, a twentieth of `skygge get`'s start over `node -e 0`: bench/README.md (s)) is imported by the
// file system layer @effect/cli is given and by the outbox writes (randomUUID); node:readline by the terminal layer.
const LAZY_BUILTINS = ["node:crypto", "crypto", "node:readline", "readline"]
// ES modules that only some commands run, imported by a module every command evaluates: each import replaced by the
// same kind of stub, whose properties evaluate the module (bundled once, as every other) on first use. drizzle's
// SQLite driver and migrator, which only migrating uses, are 111 modules of drizzle that `skygge get` evaluated.
const LAZY_MODULES = ["drizzle-orm/better-sqlite3", "drizzle-orm/better-sqlite3/migrator"]
// The sources import Effect's packages by their index (`import { Effect, Layer } from "effect"`), which re-exports
// every module of the package. The bundle hoists what is used of it, as long as nothing is loaded lazily; but a
// module behind an `import()` (a command's body, PostgreSQL) is wrapped to run on first use, and so is every module
// it imports, an index included, which then runs all it re-exports at start (all of effect, fast-check with it).
// So each such import is rewritten to the modules it names (`import * as Effect from "effect/Effect"`), as the
// packages import each other: an index is never in the bundle.
const BARRELS = ["effect", "@effect/platform", "@effect/platform-node", "@effect/cli"]
const barrelExports = new Map(
  BARRELS.map((pkg) => {
    const names = new Map()
    const index = readFileSync(join(root, "node_modules", pkg, "dist", "esm", "index.js"), "utf8")
    for (const [, name, file] of index.matchAll(/export \* as (\w+) from "\.\/(\w+)\.js"/g)) names.set(name, { from: `${pkg}/${file}`, namespace: true })
    for (const [, list, file] of index.matchAll(/export \{([^}]*)\} from "\.\/(\w+)\.js"/g)) {
      for (const name of list.split(",").map((n) => n.trim()).filter(Boolean)) names.set(name, { from: `${pkg}/${file}`, namespace: false })
    }
    return [pkg, names]
  })
)
const barrelImport = new RegExp(`import\\s+\\{([^}]*)\\}\\s*from\\s*"(${BARRELS.join("|")})"`, "g")
const unbarrel = (text, file) =>
  text.replace(barrelImport, (statement, list, pkg) =>
    list
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0 && !s.startsWith("type "))
      .map((s) => {
        const [name, alias = name] = s.split(/\s+as\s+/)
        const target = barrelExports.get(pkg).get(name)
        if (target === undefined) throw new Error(`${file}: ${name} is not a module of ${pkg}'s index`)
        return target.namespace ? `import * as ${alias} from "${target.from}"` : `import { ${name} as ${alias} } from "${target.from}"`
      })
      .join("; ") + "\n".repeat(statement.split("\n").length - 1) // the same lines, for the source map
  )
// effect's Utils.js, as it is first evaluated, asks whether V8 keeps a wrapper function's frame by formatting a
// stack trace, which makes V8 find the line ends of the whole bundle: about a tenth of `skygge get`'s start
// (counted in instructions). Nothing is optimised at that point, so the answer is yes (as it was here): given.
const EFFECT_UTILS = /effect[\\/]dist[\\/]esm[\\/]Utils\.js$/
const STACK_PROBE = `/*#__PURE__*/standard.effect_internal_function(() => new Error().stack)?.includes("effect_internal_function") === true`
const BETTER_SQLITE3_DATABASE = /better-sqlite3[\\/]lib[\\/]database\.js$/
const BINDINGS_CALL = `require('bindings')('better_sqlite3.node')`
const BETTER_SQLITE3_ADDON = `(() => {
  try {
    return require("better-sqlite3/build/Release/better_sqlite3.node")
  } catch {
    return require("bindings")({ bindings: "better_sqlite3.node", module_root: path.dirname(require.resolve("better-sqlite3/package.json")) })
  }
})()`
const result = await build({
  entryPoints: { skygge: join(root, "src", "cli", "main.ts"), "skygge-query": join(root, "src", "cli", "queryMain.ts") },
  outdir: join(root, "dist"),
  outExtension: { ".js": ".cjs" },
  write: false,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  // pg-native is pg's optional native driver; bindings, what better-sqlite3 finds its addon with when it is not
  // where the build puts it (below). better-sqlite3's own code is bundled, so it is in the code cache: loaded from
  // node_modules, its 12 files were compiled at every start (a tenth of `skygge get`'s instructions over `node -e 0`).
  external: ["pg-native", "bindings", "better-sqlite3/build/Release/better_sqlite3.node", "better-sqlite3/package.json"],
  // The sources' import.meta.url, which bin/skygge.js passes in (the bundle's own URL).
  define: { "import.meta.url": "__skyggeModuleUrl" },
  // The build id is read by bin/skygge.js (a comment, so "use strict" stays the body's directive); the wrapper
  // shares the first line with it, so line numbers stay the bundle's.
  banner: { js: `(function (exports, require, module, __filename, __dirname, __skyggeModuleUrl) {// skygge build ${buildId}` },
  footer: { js: "})" },
  // A third less text to read and copy into V8 at each start (names are kept). Reading the bundle was the
  // start's largest share of page faults. A position in a stack trace maps back to src/ through the linked
  // dist/skygge.cjs.map (node:module's SourceMap, findEntry).
  minifyWhitespace: true,
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [
    {
      name: "unbarrel",
      setup: (b) => {
        b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => ({ contents: unbarrel(readFileSync(args.path, "utf8"), args.path), loader: "ts" }))
      }
    },
    {
      // better-sqlite3 asks `bindings` for its addon, which finds the package's folder from the stack of its caller:
      // in the bundle, that would be dist/. The addon is asked for where better-sqlite3's build puts it instead, and,
      // should it not be there, of `bindings` (from node_modules) told the package's folder.
      name: "better-sqlite3-addon",
      setup: (b) => {
        b.onLoad({ filter: BETTER_SQLITE3_DATABASE }, (args) => {
          const text = readFileSync(args.path, "utf8")
          if (!text.includes(BINDINGS_CALL)) throw new Error(`${args.path}: how better-sqlite3 loads its addon has changed; look again`)
          return { contents: text.replace(BINDINGS_CALL, BETTER_SQLITE3_ADDON), loader: "js" }
        })
      }
    },
    {
      name: "effect-stack-probe",
      setup: (b) => {
        b.onLoad({ filter: EFFECT_UTILS }, (args) => {
          const text = readFileSync(args.path, "utf8")
          if (!text.includes(STACK_PROBE)) throw new Error(`${args.path}: the stack probe scripts/build.mjs answers has changed; look again`)
          return { contents: text.replace(STACK_PROBE, "true"), loader: "js" }
        })
      }
    },
    {
      name: "lazy-packages",
      setup: (b) => {
        b.onResolve({ filter: new RegExp(`^(${LAZY_PACKAGES.join("|")})$`) }, async (args) => {
          if (args.kind !== "import-statement") return undefined
          const real = await b.resolve(args.path, { kind: "require-call", resolveDir: args.resolveDir })
          return real.errors.length > 0 ? undefined : { path: relative(root, real.path), namespace: "lazy-package" }
        })
        b.onLoad({ filter: /.*/, namespace: "lazy-package" }, (args) => ({ contents: lazyStub(join(root, args.path)), loader: "js", resolveDir: dirname(join(root, args.path)) }))
      }
    },
    {
      name: "lazy-builtins",
      setup: (b) => {
        b.onResolve({ filter: new RegExp(`^(${LAZY_BUILTINS.join("|")})$`) }, (args) =>
          args.kind === "import-statement" ? { path: args.path, namespace: "lazy-builtin" } : undefined
        )
        b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({ contents: lazyStub(args.path), loader: "js" }))
      }
    },
    {
      name: "lazy-modules",
      setup: (b) => {
        b.onResolve({ filter: new RegExp(`^(${LAZY_MODULES.join("|")})$`) }, async (args) => {
          if (args.kind !== "import-statement" || args.pluginData?.real === true) return undefined
          const real = await b.resolve(args.path, { kind: "import-statement", resolveDir: args.resolveDir, pluginData: { real: true } })
          return real.errors.length > 0 ? undefined : { path: real.path, namespace: "lazy-module" }
        })
        b.onLoad({ filter: /.*/, namespace: "lazy-module" }, async (args) => ({
          contents: lazyStub(args.path, Object.keys(await import(pathToFileURL(args.path).href))),
          loader: "js",
          resolveDir: dirname(args.path)
        }))
      }
    },
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
  if (/^skygge(-query)?\.cjs\..+\.cache/.test(file) || /^skygge\.mjs(\.map)?$/.test(file)) rmSync(join(root, "dist", file), { force: true })
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
// One start makes a bundle's code cache (bin/skygge.js writes it when it finds none, with all that start compiled); a
// start that cannot is only slower. Those starts are questions to a SQLite store, as most starts are, so that the
// code of opening one and asking it is in the caches too (a tenth fewer instructions for `skygge get` than a cache
// that `skygge --version` made): a `get` of a row for the query bundle's, `refused` for the full one's. The store is
// made for them by `migrate` and an `import` of that row, whose cache is dropped.
const scratch = mkdtempSync(join(tmpdir(), "skygge-build-"))
try {
  const env = { ...process.env, npm_command: undefined, SKYGGE_STORE_URL: `sqlite:${join(scratch, "skygge.db")}`, SKYGGE_LOG_LEVEL: "Error" }
  const skygge = (...args) => spawnSync(process.execPath, [join(root, "bin", "skygge.js"), ...args], { stdio: "ignore", env })
  const row = join(scratch, "row.ndjson")
  writeFileSync(row, `${JSON.stringify({ op: "assert", objectType: "cache", objectId: "warm-up", registreringstid: "2020-01-01", virkningFra: "2020-01-01", virkningTil: null, data: { warm: true }, eventId: "warm-up" })}\n`)
  skygge("migrate")
  skygge("import", row)
  for (const file of readdirSync(join(root, "dist"))) if (file.startsWith(`skygge.cjs.${buildId}.`)) rmSync(join(root, "dist", file), { force: true })
  skygge("get", "cache", "warm-up")
  skygge("refused")
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
console.error(`skygge: bundled ${modules} modules into dist/skygge.cjs (the query commands alone into dist/skygge-query.cjs) and the time-travel page into dist/ui`)
