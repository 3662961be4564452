/** The package's version, read from package.json: what the OpenAPI document says it describes. */
import { readFileSync } from "node:fs"
import { inProject } from "../ProjectRoot.js"

export const packageVersion: string = (JSON.parse(readFileSync(inProject("package.json"), "utf8")) as { version: string }).version
