/**
 * What the CLI prints where a user reads it: a line for an empty list (none in JSON), the sources
 * table's header, `--limit` by the rule HTTP applies, help and usage errors in plain text when not on
 * a terminal, every option described, usage lines that start with `skygge`.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CLI_BUDGET_MS, type Result, skygge, skyggeEach } from "./skygge.js"

const fixture = fileURLToPath(new URL("../fixtures/worked-examples.ndjson", import.meta.url))
const SUBCOMMANDS = ["run", "demo", "import", "import-extract", "get", "history", "snapshot", "changes", "refused", "activations", "anomalies", "sources", "resync", "resync-reports", "erase", "erasures", "migrate", "copy-store"]
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[/

/** The entries of a help text's ARGUMENTS and OPTIONS sections: the entry's line, and the paragraphs under it. */
const helpEntries = (help: string) => {
  const entries: Array<{ entry: string; text: Array<string> }> = []
  let section = ""
  for (const line of help.split("\n")) {
    if (/^[A-Z]+$/.test(line)) section = line
    else if ((section === "ARGUMENTS" || section === "OPTIONS") && /^\S/.test(line)) entries.push({ entry: line, text: [] })
    else if (entries.length > 0 && /^\s+\S/.test(line)) entries[entries.length - 1]!.text.push(line.trim())
  }
  return entries
}
/** What the library says of a value's type alone: not a description of what the option does. */
const TYPE_ONLY = /^(A file\.|An integer\.|A true or false value\.|One of the following: .*|This setting is optional\.|A user-defined piece of text\.)$/

describe("skygge output", () => {
  let dir: string
  let env: Record<string, string>
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skygge-cli-output-"))
    env = { SKYGGE_STORE_URL: `sqlite:${join(dir, "cli.db")}` }
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("an empty list says so in text and prints nothing in JSON; sources prints its header", async () => {
    expect((await skygge(["import", fixture], env)).code).toBe(0)
    const [refused, anomalies, reports, activations, sources, refusedJson, anomaliesJson, reportsJson] = await Promise.all([
      skygge(["refused"], env),
      skygge(["anomalies", "--type", "dar.adresse"], env),
      skygge(["resync-reports"], env),
      skygge(["activations", "--status", "fired"], env),
      skygge(["sources"], env),
      skygge(["refused", "--json"], env),
      skygge(["anomalies", "--json"], env),
      skygge(["resync-reports", "--json"], env)
    ])
    expect(refused.stdout).toBe("no refused inputs\n")
    expect(anomalies.stdout).toBe("no anomalies of type dar.adresse\n")
    expect(reports.stdout).toBe("no resync reports\n")
    expect(activations.stdout).toBe("no fired activations\n")
    expect(sources.stdout.split("\n")[0]).toMatch(/^source\s+cursor\s+updatedAt\s+age$/)
    expect(sources.stdout).toContain("PUSH events recorded and not yet applied: 0")
    for (const r of [refused, anomalies, reports, activations, sources, refusedJson, anomaliesJson, reportsJson]) expect(r.code).toBe(0)
    for (const r of [refusedJson, anomaliesJson, reportsJson]) expect(r.stdout).toBe("")
  }, CLI_BUDGET_MS)

  it("--limit is held to the rule of HTTP's limit: at least 1, and at most api.maxPageSize for a one-page list", async () => {
    const cases = [
      [["refused", "--limit", "0"], "skygge: --limit must be a whole number between 1 and 10000"],
      [["anomalies", "--limit", "-5"], "skygge: --limit must be a whole number between 1 and 10000"],
      [["snapshot", "vej", "--limit", "0"], "skygge: --limit must be a whole number of at least 1"],
      [["activations", "--limit", "10001"], "skygge: --limit must be a whole number between 1 and 10000"],
      [["resync-reports", "--limit", "3"], null]
    ] as const
    const results = await Promise.all(cases.map(([args]) => skygge(args, env)))
    results.forEach((r, i) => {
      const expected = cases[i]![1]
      if (expected === null) expect(r.code).toBe(0)
      else expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 1, stderr: expected })
    })
  })

  it("help and usage errors are plain text off a terminal; every option says what it does; usage lines start with skygge", async () => {
    const [root, missing, unknown, ...helps] = (await skyggeEach([
      () => skygge(["--help"]),
      () => skygge(["get"], env),
      () => skygge(["refused", "--bogus"], env),
      ...SUBCOMMANDS.map((c) => () => skygge([c, "--help"]))
    ])) as [Result, Result, Result, ...Array<Result>]
    expect(root.code).toBe(0)
    expect(root.stdout).not.toMatch(ANSI)
    for (const c of SUBCOMMANDS) expect(root.stdout).toContain(c)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("Missing argument <OBJECT_TYPE>")
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("--bogus")
    for (const r of [missing, unknown]) expect(r.stderr).not.toMatch(ANSI)

    helps.forEach((help, i) => {
      const command = SUBCOMMANDS[i]!
      expect(help.code, command).toBe(0)
      expect(help.stdout, command).not.toMatch(ANSI)
      expect(help.stdout, command).not.toContain("A user-defined piece of text.")
      const usage = help.stdout.split("\n").filter((l) => l.startsWith("$ "))
      expect(usage.length, command).toBeGreaterThan(0)
      for (const line of usage) expect(line, command).toMatch(new RegExp(`^\\$ skygge ${command}( |$)`))
      const entries = helpEntries(help.stdout)
      expect(entries.length, command).toBeGreaterThan(3)
      for (const { entry, text } of entries) expect({ command, entry, described: text.some((t) => !TYPE_ONLY.test(t)) }).toEqual({ command, entry, described: true })
    })
  }, 300_000)
})
