/**
 * An entity's `list` query (the full load) must page: one without `$first`/`$after` and
 * `pageInfo { hasNextPage endCursor }` read the service's first page only — a thousand objects of
 * 1,154 in the simulator — and the full load called itself done, the rest never loaded (the events
 * start after it). `skygge run` refuses it at start, naming it; and a paged query whose answer does
 * not say whether there is more fails the load instead of ending it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { startDafSimulator } from "../../../src/sources/datafordeler/simulator/DafSimulator.js"
import { forEachGraphqlPage, noCredentials, makePools } from "../../../src/sources/datafordeler/ObjectFetch.js"

const bin = fileURLToPath(new URL("../../../bin/skygge.js", import.meta.url))
const FIELDS = "id_lokalId status adressebetegnelse registreringFra registreringTil virkningFra virkningTil datafordelerRowId datafordelerOpdateringstid"

describe("Datafordeler full load: an entity's list query", () => {
  it.each([
    ["without paging", `query { DAR_Adresse { nodes { ${FIELDS} } } }`],
    ["paged without pageInfo", `query Adresser($first: Int!, $after: String) { DAR_Adresse(first: $first, after: $after) { nodes { ${FIELDS} } } }`]
  ])("one %s is refused at start, naming it", async (_, query) => {
    const dir = mkdtempSync(join(tmpdir(), "skygge-daf-list-"))
    let child: ChildProcess | undefined
    try {
      const configFile = join(dir, "skygge.json")
      writeFileSync(configFile, JSON.stringify({
        store: { url: `sqlite:${join(dir, "skygge.db")}` },
        sources: [{ kind: "datafordeler", name: "dar", graphql: { url: "http://127.0.0.1:9/graphql", register: "DAR" }, entities: { Adresse: { objectType: "dar.adresse", rest: "http://127.0.0.1:9/{id}", list: { query } } } }]
      }))
      child = spawn(process.execPath, [bin, "run", "--config", configFile], { stdio: ["ignore", "ignore", "pipe"] })
      let stderr = ""
      child.stderr!.on("data", (d) => (stderr += String(d)))
      const [code] = await once(child!, "exit")
      expect(code, stderr).toBe(1)
      expect(stderr).toMatch(/entities\.Adresse\.list: the query must page — declare \$first and \$after, and select pageInfo \{ hasNextPage endCursor \}/)
    } finally {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)

  it("a paged query answered without pageInfo fails instead of ending after its first page", async () => {
    const sim = await startDafSimulator({ seed: 5 })
    try {
      sim.randomChanges(20)
      const query = `query Adresser($first: Int!, $after: String) { DAR_Adresse(first: $first, after: $after) { nodes { ${FIELDS} } } }`
      const pages = await Effect.runPromise(
        Effect.scoped(Effect.flatMap(makePools, (pools) =>
          forEachGraphqlPage({ pools, credentials: noCredentials, policy: { concurrency: 1, timeoutSeconds: 5, maxAttempts: 1, maxBackoffSeconds: 0 } }, sim.graphqlUrl, query, "DAR_Adresse", {}, () => Effect.void, 2)
        )).pipe(Effect.either)
      )
      expect(pages._tag).toBe("Left")
      expect(pages._tag === "Left" ? pages.left.message : "").toMatch(/has no pageInfo \{ hasNextPage endCursor \}/)
    } finally {
      await sim.close()
    }
  })
})
