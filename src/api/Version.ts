/** The package's version, read from package.json: what the OpenAPI document says it describes. */
import { readFileSync } from "node:fs"

export const packageVersion: string = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version
