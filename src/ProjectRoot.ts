/**
 * The folder of skygge's package.json: where its own files (migrations, the default configuration,
 * the version) are, whether this module runs from `src/` (TypeScript through tsx, tests) or from the
 * compiled `dist/src/` (the `skygge` command, see bin/skygge.js). Found by looking upward once.
 */
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const findRoot = (from: string): string => {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir
    if (dirname(dir) === dir) throw new Error(`skygge: no package.json above ${from}`)
  }
}

export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)))

/** A path inside the package, e.g. `inProject("drizzle", "pg")`. */
export const inProject = (...parts: ReadonlyArray<string>): string => join(projectRoot, ...parts)
