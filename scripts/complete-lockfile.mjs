#!/usr/bin/env node
// `npm install` may write a lockfile with only this platform's optional
// binaries (rollup, esbuild, msgpackr-extract for linux-x64-gnu) and without
// the other platforms' entries, and
// `npm ci` then calls it out of sync. This adds each missing optional
// dependency with the os/cpu/libc its name says, so `npm ci` sees a complete
// lockfile and skips them here. Run after `npm install` changes the lockfile.
import { readFileSync, writeFileSync } from "node:fs"

const file = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(file, "utf8"))
const OS = { darwin: "darwin", linux: "linux", win32: "win32", freebsd: "freebsd", openbsd: "openbsd", netbsd: "netbsd", android: "android", sunos: "sunos", aix: "aix", openharmony: "openharmony", cygwin: "cygwin" }
const CPU = ["arm64", "x64", "ia32", "arm", "loong64", "ppc64", "riscv64", "s390x", "mips64el", "mips64", "wasm32", "ppc", "riscv32"]

const platformOf = (name) => {
  const parts = name.split("/").pop().split("-")
  const os = parts.find((p) => p in OS)
  const cpu = parts.find((p) => CPU.includes(p)) ?? (parts.includes("eabi") || parts.includes("gnueabihf") || parts.includes("musleabihf") ? "arm" : undefined)
  const libc = parts.some((p) => p.startsWith("musl")) ? "musl" : parts.some((p) => p.startsWith("gnu")) ? "glibc" : undefined
  return { os, cpu, libc }
}

let added = 0
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [dep, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = path === "" ? "" : `${path}/`
    if (lock.packages[`${base}node_modules/${dep}`] || lock.packages[`node_modules/${dep}`]) continue
    const { os, cpu, libc } = platformOf(dep)
    if (os === undefined && cpu === undefined) continue // not a platform binary: leave it to npm
    lock.packages[`node_modules/${dep}`] = {
      version: range.replace(/^[\^~=]/, ""),
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
      ...(cpu ? { cpu: [cpu] } : {}),
      ...(libc ? { libc: [libc] } : {})
    }
    added++
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)))
writeFileSync(file, JSON.stringify(lock, null, 2) + "\n")
console.log(`complete-lockfile: added ${added} optional platform entries`)
