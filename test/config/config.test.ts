/** The configuration contract: every key the engine reads is shown in config/example.json and documented in README. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { KNOWN_KEYS, mergeEnvironment, readConfigFile } from "../../src/config/Config.js"
import { decodeDafSources, EntitySettings, FullLoadSettings, GraphqlSettings, OAuthSettings, PullSettings, PushSettings, PushTls } from "../../src/sources/datafordeler/DafConfig.js"
import { AmqpSettings, decodeIntarkSources, ProviderSettings, ResourceSettings, ResyncSettings } from "../../src/sources/intark/IntarkConfig.js"

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url))
const writeTemp = (json: unknown) => {
  const file = join(mkdtempSync(join(tmpdir(), "skygge-config-")), "c.json")
  writeFileSync(file, JSON.stringify(json))
  return file
}

describe("configuration", () => {
  it("shows every key in config/example.json, which itself passes the checks", () => {
    const example = readConfigFile(root("config/example.json")) as Record<string, Record<string, unknown>>
    const missing = Object.entries(KNOWN_KEYS).flatMap(([section, keys]) => keys.filter((k) => !(k in (example[section] ?? {}))).map((k) => `${section}.${k}`))
    expect(missing).toEqual([])
  })

  it("documents every key in the README's configuration table", () => {
    const readme = readFileSync(root("README.md"), "utf8")
    const undocumented = Object.entries(KNOWN_KEYS).flatMap(([section, keys]) => keys.map((k) => `${section}.${k}`)).filter((key) => !readme.includes(`| \`${key}\``))
    expect(undocumented).toEqual([])
  })

  it("reads list keys from the environment as comma-separated values", () => {
    const merged = mergeEnvironment({}, { SKYGGE_OUTBOX_WEBHOOK_URLS: "http://a/hook, http://b/hook", SKYGGE_ACTIVATIONS_LATE_AFTER_SECONDS: "5" })
    expect(merged).toEqual({ outbox: { webhookUrls: ["http://a/hook", "http://b/hook"] }, activations: { lateAfterSeconds: "5" } })
  })

  it("decodes the example's sources, and shows and documents every IntArk source setting", () => {
    const example = readConfigFile(root("config/example.json")) as { sources: Array<Record<string, unknown>> }
    const decoded = Effect.runSync(decodeIntarkSources(example.sources))
    expect(decoded.map((s) => s.name)).toEqual(["fs-uio"])
    expect(Effect.runSync(decodeDafSources(example.sources)).map((s) => s.name)).toEqual(["dar", "cvr"])
    // A bad cron expression stops the start, naming it.
    const badCron = Effect.runSync(Effect.flip(decodeIntarkSources([{ ...example.sources[0], resync: { cron: "every night" } }])))
    expect(() => readConfigFile(writeTemp({ sources: [{ kind: "nope" }] }))).toThrow(/sources\[0\] has kind "nope" \(known: intark, datafordeler\)/)
    expect(badCron.message).toMatch(/not a cron expression/)
    const readme = readFileSync(root("README.md"), "utf8")
    const text = JSON.stringify(example.sources)
    const fields = [
      ...Object.keys(AmqpSettings.fields).map((k) => `amqp.${k}`),
      ...Object.keys(ProviderSettings.fields).map((k) => `provider.${k}`),
      ...Object.keys(ResourceSettings.fields).map((k) => `resources.*.${k}`),
      ...Object.keys(ResyncSettings.fields).map((k) => `resync.${k}`),
      ...Object.keys(PullSettings.fields).map((k) => `pull.${k}`),
      ...Object.keys(GraphqlSettings.fields).map((k) => `graphql.${k}`),
      ...Object.keys(OAuthSettings.fields).map((k) => `graphql.oauth.${k}`),
      ...Object.keys(PushSettings.fields).map((k) => `push.${k}`),
      ...Object.keys(PushTls.fields).map((k) => `push.tls.${k}`),
      ...Object.keys(FullLoadSettings.fields).map((k) => `fullLoad.${k}`),
      ...Object.keys(EntitySettings.fields).map((k) => `entities.*.${k}`)
    ]
    expect(fields.filter((f) => !text.includes(`"${f.split(".").pop()}"`))).toEqual([])
    expect(fields.filter((f) => !readme.includes(`\`${f}\``))).toEqual([])
  })

  it("refuses Datafordeler settings that cannot work, naming them", () => {
    const refused = (source: Record<string, unknown>) =>
      Effect.runSync(Effect.flip(decodeDafSources([{ kind: "datafordeler", name: "x", entities: { Adresse: { objectType: "a", rest: "http://x/{id}" } }, ...source }]))).message
    expect(refused({})).toMatch(/needs at least one of pull, graphql and push/)
    expect(refused({ push: { port: 1 }, fullLoad: { cron: "0 3 * * *" } })).toMatch(/fullLoad\.cron needs something to load/)
    expect(refused({ push: { port: 1 }, fullLoad: { cron: "every night" } })).toMatch(/not a cron expression/)
    expect(refused({ push: { port: 1, allowedSubjects: ["datafordeler.dk"] } })).toMatch(/push\.allowedSubjects needs client certificates/)
    expect(refused({ push: { port: 1 }, entities: { Adresse: { objectType: "a" } } })).toMatch(/entities\.Adresse: give rest/)
    expect(refused({ push: { port: 1 }, entities: { Adresse: { objectType: "a", graphql: { query: "q" } } } })).toMatch(/needs the source's graphql settings/)
  })
})
