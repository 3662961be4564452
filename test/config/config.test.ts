/** The configuration contract: every key the engine reads is shown in config/example.json and documented in README. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { type Config, Effect, LogLevel, Option, Redacted } from "effect"
import { ApiConfig, ClusterConfig, configProvider, IngestConfig, KNOWN_KEYS, LogConfig, mergeEnvironment, readConfigFile, StoreConfig } from "../../src/config/Config.js"
import { OutboxConfig } from "../../src/outbox/OutboxConfig.js"
import { RetentionConfig } from "../../src/retention/RetentionConfig.js"
import { ActivationsConfig } from "../../src/schedule/ActivationScheduler.js"
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

  /** Each section's typed configuration: the audit below reads every key of every one of them. */
  const SECTIONS: Record<string, Config.Config<Record<string, unknown>>> = {
    store: StoreConfig,
    api: ApiConfig,
    ingest: IngestConfig,
    log: LogConfig,
    activations: ActivationsConfig,
    outbox: OutboxConfig,
    cluster: ClusterConfig,
    retention: RetentionConfig
  }
  /** A decoded value as it was written in the file: secrets revealed, log levels by label. */
  const plain = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(plain) : Option.isOption(value) ? plain(Option.getOrUndefined(value)) : Redacted.isRedacted(value) ? Redacted.value(value) : LogLevel.allLevels.includes(value as LogLevel.LogLevel) ? (value as LogLevel.LogLevel).label : value
  const decode = (file: string | undefined, env: NodeJS.ProcessEnv) =>
    Effect.runSync(Effect.withConfigProvider(Effect.all(SECTIONS), configProvider(file, env))) as Record<string, Record<string, unknown>>

  it("reads every key of every section from a real file exactly as written (none silently falls back to its default)", () => {
    expect(Object.keys(SECTIONS).sort()).toEqual(Object.keys(KNOWN_KEYS).sort())
    // Values unlike the defaults, so that a key read as absent cannot pass.
    const file = writeTemp({
      store: { url: "sqlite:/tmp/audit.db", synchronous: "NORMAL", cacheMiB: 7, mmapMiB: 3, busyTimeoutSeconds: 4, poolSize: 22, password: "pw", sslCa: "/tmp/ca.pem" },
      api: { host: "0.0.0.0", port: 9191, readTokens: ["r1", "r2"], writeTokens: ["w1"], eraseTokens: ["x1"], maxBodyBytes: 11, maxLineBytes: 12, maxPageSize: 13, maxDepth: 21 },
      ingest: { batchSize: 14, timeZone: "Europe/Copenhagen" },
      log: { level: "DEBUG", format: "json" },
      activations: { enabled: false, lateAfterSeconds: 15, pollSeconds: 16 },
      cluster: { memberName: "m1", heartbeatSeconds: 3, memberTimeoutSeconds: 16, lockCheckSeconds: 0.7, lockTimeoutSeconds: 1.5, acquireSeconds: 0.4 },
      outbox: {
        source: "urn:x", prefix: "p", subjectBaseUrl: "http://s", retentionHours: 17, batchSize: 18, maxBackoffSeconds: 19,
        deliveryTimeoutSeconds: 20, amqpUrl: "amqp://u:p@h", amqpExchange: "ex", amqpDeclareExchange: true,
        webhookUrls: ["http://a/hook", "http://b/hook?token=t"], webhookSecret: "s3"
      },
      retention: { closedDays: ["fs.person=3650", "*=30"], refusedDays: 9, inboxDays: 2.5, cron: "5 4 * * *" }
    })
    const written = readConfigFile(file) as Record<string, Record<string, unknown>>
    const unlisted = Object.entries(KNOWN_KEYS).flatMap(([section, keys]) => keys.filter((k) => !(k in (written[section] ?? {}))).map((k) => `${section}.${k}`))
    expect(unlisted, "the audit's file must set every known key").toEqual([])
    const decoded = decode(file, {})
    for (const [section, body] of Object.entries(written)) {
      for (const [key, value] of Object.entries(body)) {
        const expected = key === "level" ? "DEBUG" : value
        expect(plain(decoded[section]![key]), `${section}.${key}`).toEqual(expected)
      }
    }
  })

  it("reads every list key from the environment alone, comma-separated, over a file's value", () => {
    const file = writeTemp({ api: { readTokens: ["from-file"] } })
    const decoded = decode(file, {
      SKYGGE_API_READ_TOKENS: "r1, r2,",
      SKYGGE_API_WRITE_TOKENS: "w1",
      SKYGGE_API_ERASE_TOKENS: "x1,x2",
      SKYGGE_OUTBOX_WEBHOOK_URLS: "http://a/hook,http://b/hook",
      SKYGGE_RETENTION_CLOSED_DAYS: "fs.person=3650, *=730"
    })
    expect(plain(decoded.retention!.closedDays)).toEqual(["fs.person=3650", "*=730"])
    expect(plain(decoded.api!.readTokens)).toEqual(["r1", "r2"])
    expect(plain(decoded.api!.writeTokens)).toEqual(["w1"])
    expect(plain(decoded.api!.eraseTokens)).toEqual(["x1", "x2"])
    expect(plain(decoded.outbox!.webhookUrls)).toEqual(["http://a/hook", "http://b/hook"])
    expect(plain(decode(undefined, {}).api!.readTokens)).toEqual([])
    // An empty variable is unset: it never empties the file's tokens (which would open the API).
    expect(plain(decode(file, { SKYGGE_API_READ_TOKENS: "", SKYGGE_API_PORT: " " }).api!.readTokens)).toEqual(["from-file"])
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

  it("refuses retention and minimisation settings that cannot work, naming them", () => {
    const retention = (body: Record<string, unknown>) =>
      Effect.runSync(Effect.flip(Effect.withConfigProvider(RetentionConfig, configProvider(writeTemp({ retention: body }), {})))).toString()
    expect(retention({ closedDays: ["fs.person"] })).toMatch(/TYPE=DAYS/)
    expect(retention({ closedDays: ["a=1", "a=2"] })).toMatch(/each type once/)
    expect(retention({ refusedDays: 0 })).toMatch(/positive/)
    expect(retention({ cron: "daily" })).toMatch(/cron/)
    const example = readConfigFile(root("config/example.json")) as { sources: Array<Record<string, unknown>> }
    const fields = (value: unknown) =>
      Effect.runSync(Effect.flip(decodeIntarkSources([{ ...example.sources[0], resources: { personer: { fields: value } } }]))).message
    expect(fields({ keep: ["a"], drop: ["b"] })).toMatch(/fields/)
    expect(fields({ drop: ["a..b"] })).toMatch(/a\.\.b/)
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
