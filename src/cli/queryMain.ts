/**
 * The query commands alone (`get`, `history`, `snapshot`, `changes`): the entry of the small bundle
 * dist/skygge-query.cjs that bin/skygge.js runs for them (scripts/build.mjs), so that such a start reads,
 * deserialises and evaluates none of what the other commands are defined with. The same commands, parsed and
 * answered as in main.ts; bin/skygge.js routes by the first argument to the names `queryCommands` lists.
 */
import { changes, get, history, snapshot } from "./commands/queries.js"
import { runCliWith } from "./root.js"

/** Their names are the list bin/skygge.js routes here (test/cli/queryBundle.test.ts checks they are equal). */
export const commands = [get, history, snapshot, changes] as const

export const runCli = () => runCliWith(commands)
