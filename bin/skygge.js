#!/usr/bin/env node
// The `skygge` command. It runs the bundle `npm ci` built from src/ (dist/skygge.cjs, scripts/build.mjs,
// the package's `prepare`), which starts in a fraction of the time; when the bundle is missing or older
// than any source (an edited checkout), it loads the TypeScript itself through tsx's ESM hook instead.
// A CommonJS script (bin/package.json): an ES module entry costs every start Node's ES module loader, which
// reads the file on the thread pool and sets itself up before running a line.
const { closeSync, fstatSync, openSync, readdirSync, readSync, renameSync, statSync, writeFileSync } = require("node:fs")
const { createRequire } = require("node:module")
const { dirname, join } = require("node:path")
const { pathToFileURL } = require("node:url")
const { constants, Script } = require("node:vm")

// A bulk import's garbage (each batch's lines, decoded operations, statements' values) outlives a
// young-generation collection and dies in the old one, which V8 lets grow to several times what is
// live before collecting it: an import's RSS followed the file's size to about 330 MiB. Growing the
// old generation by 20 % of what is live keeps an import of 200,000 lines at 231 MiB for the same CPU
// time (measured; the runtime and the bundle alone take about 130 MiB). `run` by 50 %: a GraphQL
// round's garbage took its peak to about 290 MiB, 233–241 with 50 % for the same CPU time (20 %:
// about 220 MiB for 30 % more CPU; bench:datafordeler). Set before anything is loaded, so that
// every collection's limit is computed with it.
const v8Flags = process.argv[2] === "import" || process.argv[2] === "import-extract" ? "--heap-growing-percent=20" : process.argv[2] === "run" ? "--heap-growing-percent=50" : ""
// node:v8 only then: loading it (with the streams its heap utilities load) was 7 M instructions of every start.
if (v8Flags !== "") require("node:v8").setFlagsFromString(v8Flags)

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
    const built = statSync(join(__dirname, "..", "dist", "BUILT")).mtimeMs
    // By hand rather than readdirSync's `recursive`, which makes each name relative at a cost.
    const current = (dir) =>
      readdirSync(dir, { withFileTypes: true }).every((entry) =>
        entry.isDirectory() ? current(`${dir}/${entry.name}`) : statSync(`${dir}/${entry.name}`).mtimeMs <= built
      )
    return current(join(__dirname, "..", "src"))
  } catch {
    return false
  }
}

/**
 * V8 takes a code cache only from its own version under the same flags: one cache per Node and flags, so
 * starts with other flags (`--cpu-prof`, NODE_OPTIONS, an import's above) neither refuse nor overwrite each other's.
 */
const runtimeKey = () => {
  let h = 0x811c9dc5 // FNV-1a
  for (const c of `${process.version} ${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""} ${v8Flags}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0
  return h.toString(16)
}

/**
 * The commands of the query bundle, dist/skygge-query.cjs (src/cli/queryMain.ts, whose list this must equal: a test
 * checks): 1.3 of the full bundle's 3 MB, which such a start then neither reads nor deserialises nor evaluates (a
 * sixth of `skygge get`'s wall time here: bench/README.md (s)). Every other command line, help and errors for one
 * that names none of them included, goes to the full bundle, dist/skygge.cjs (src/cli/main.ts).
 */
const QUERY_COMMANDS = ["get", "history", "snapshot", "changes"]
/** Is this command line the query bundle's? Not when it asks for the whole command line's completions or wizard. */
const isQuery = (argv) =>
  QUERY_COMMANDS.includes(argv[2]) && !argv.some((a) => a === "--completions" || a.startsWith("--completions=") || a === "--wizard")

/**
 * A bundle (dist/skygge.cjs or dist/skygge-query.cjs, a CommonJS module's function) run through vm.Script with
 * V8's code cache: Node 20 keeps none for ES modules, and compiling the 7 MB was most of a start. The cache is
 * named by the build id in the bundle's first line, so it can only be used with the bundle it was made from; when
 * there is none (or V8 refuses it), this start compiles as usual and leaves one behind at exit.
 */
const loadBundle = (name) => {
  const file = join(__dirname, "..", "dist", name)
  // One buffer for the bundle and then its cache: the cache is read into memory the bundle's text has already
  // been read into (each page a start touches for the first time costs it a fault).
  let buffer = Buffer.alloc(0)
  const read = (path) => {
    const fd = openSync(path, "r")
    try {
      const size = fstatSync(fd).size
      if (size > buffer.length) buffer = Buffer.allocUnsafeSlow(size)
      let at = 0
      for (let n; at < size && (n = readSync(fd, buffer, at, size - at, at)) > 0; ) at += n
      return buffer.subarray(0, at)
    } finally {
      closeSync(fd)
    }
  }
  // Pure ASCII (scripts/build.mjs), so latin1 reads the same text without decoding UTF-8.
  const source = read(file).toString("latin1")
  const id = /^\(function [^\n]*\/\/ skygge build ([0-9a-f-]+)/.exec(source)?.[1]
  const cacheFile = id === undefined ? undefined : `${file}.${id}.${runtimeKey()}.cache`
  let cachedData
  try {
    if (cacheFile !== undefined) cachedData = read(cacheFile)
  } catch {}
  // The file is the function of the module (scripts/build.mjs), which the script evaluates to.
  const script = new Script(source, {
    filename: file,
    ...(cachedData === undefined ? {} : { cachedData }),
    ...(constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER === undefined ? {} : { importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
  })
  if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected)) {
    process.once("exit", () => {
      try {
        const temporary = `${cacheFile}.${process.pid}`
        writeFileSync(temporary, script.createCachedData())
        renameSync(temporary, cacheFile) // whole or not at all, for a start reading it meanwhile
      } catch {} // a read-only install: every start compiles, as before
    })
  }
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), pathToFileURL(file).href)
  return module.exports
}

if (compiledIsCurrent()) {
  loadBundle(isQuery(process.argv) ? "skygge-query.cjs" : "skygge.cjs").runCli()
} else {
  import("tsx/esm/api")
    .then(({ register }) => (register(), import("../src/cli/main.ts")))
    .then(({ runCli }) => runCli())
}
