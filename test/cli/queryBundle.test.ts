/**
 * The query bundle (dist/skygge-query.cjs, src/cli/queryMain.ts) that bin/skygge.js runs for `get`, `history`,
 * `snapshot` and `changes`: its commands are the ones bin/skygge.js routes to it. What they answer (output, errors,
 * exit codes) the CLI tests check through bin/skygge.js, so through this bundle.
 */
import { Command } from "@effect/cli"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { commands } from "../../src/cli/queryMain.js"
import { bin, repo } from "./skygge.js"

describe("the query bundle", () => {
  it("holds the commands bin/skygge.js routes to it", () => {
    const routed = /const QUERY_COMMANDS = (\[[^\]]*\])/.exec(readFileSync(bin, "utf8"))?.[1]
    expect(routed).toBeDefined()
    expect(commands.flatMap((c) => [...Command.getNames(c as Command.Command<any, any, any, any>)]).sort()).toEqual((JSON.parse(routed!) as Array<string>).sort())
  })

  it("is built beside the full bundle", () => {
    const first = (name: string) => readFileSync(join(repo, "dist", name), "latin1").slice(0, 200).split("\n")[0]
    // One build id for both (their code caches are named by it).
    expect(first("skygge-query.cjs")).toEqual(first("skygge.cjs"))
  })
})
