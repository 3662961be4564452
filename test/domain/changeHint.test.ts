/** Every notification format, from the real samples, into a change hint; poison says why. */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { decodeNotification, detectFormat } from "../../src/domain/intark/ChangeHint.js"

const sample = (name: string) => readFileSync(new URL(`../fixtures/intark/${name}`, import.meta.url), "utf8")
const auto = { format: "auto" as const }

describe("decodeNotification", () => {
  it("reads the real FS notification: resource and id from sub, iat as a string of epoch ms, jti", () => {
    expect(decodeNotification(sample("fs-notification-personer-update.json"), "no.uio.fs.FS-prod.personer.update", auto)).toEqual({
      format: "fs", resource: "personer", id: "56154", operation: "update", messageId: "35380ac0-247d-44b3-9be3-2f2dded049ee",
      issuedAt: "2020-02-22T04:06:52.462000Z", location: "personer/56154", validFrom: null
    })
  })

  it("reads FS without sub from the routing key and the {ressurs}_id field", () => {
    const body = JSON.stringify({ iss: "FS-test", iat: "1539075071295", operation: "create", jti: "j1", studieretter_id: "77" })
    expect(decodeNotification(body, "no.uio.fs.FS-test.studieretter.create", { format: "fs" })).toMatchObject({ resource: "studieretter", id: "77", operation: "create", location: null })
  })

  it("reads CloudEvents, Greg, Cerebrum SCIM events and SCIM Notify samples", () => {
    expect(decodeNotification(sample("cloudevents-cerebrum-account-create.json"), "", auto)).toMatchObject({
      format: "cloudevents", resource: "accounts", id: "123456", operation: "create", messageId: "4d3559ec67504aaba65d40b0363faad8",
      issuedAt: "2020-10-29T09:01:14.000000Z", location: "https://cerebrum-uio.uio.no/api/v2/accounts/123456"
    })
    expect(decodeNotification(sample("greg-event-person_role.add.json"), "", auto)).toMatchObject({ format: "greg", resource: "person", id: "1", operation: "create", messageId: "100" })
    expect(decodeNotification(sample("cerebrum-scim-event-example.json"), "", auto)).toMatchObject({
      format: "scim-event", resource: "accounts", id: "1234", operation: "create", messageId: "4d3559ec67504aaba65d40b0363faad8", issuedAt: "2016-03-20T17:53:24.000000Z"
    })
    expect(decodeNotification(sample("uh-iam-scim-notify-modify.json"), "", auto)).toMatchObject({
      format: "scim-notify", resource: "Users", id: "uhid-12345", operation: "update", messageId: null, issuedAt: "2026-02-05T10:30:00.000000Z"
    })
  })

  it("reads DFØ's {id, uri, gyldigEtter} and a configured mapping", () => {
    expect(decodeNotification(JSON.stringify({ id: 4711, uri: "dfo:ansatte", gyldigEtter: "2026-03-01" }), "", auto)).toMatchObject({
      format: "dfo", resource: "ansatte", id: "4711", operation: "unknown", validFrom: "2026-03-01T00:00:00.000000Z"
    })
    const mapping = { resourceValue: "emner", id: "payload.emnekode", operation: "action", messageId: "meta.uuid", issuedAt: "meta.ts" }
    expect(decodeNotification(JSON.stringify({ action: "DELETED", payload: { emnekode: "INF1000" }, meta: { uuid: "u1", ts: "2026-01-01T10:00:00+01:00" } }), "", { format: "auto", mapping })).toEqual({
      format: "mapped", resource: "emner", id: "INF1000", operation: "delete", messageId: "u1", issuedAt: "2026-01-01T09:00:00.000000Z", location: null, validFrom: null
    })
  })

  it("says why poison is poison", () => {
    expect(decodeNotification("{not json", "k", auto)).toMatchObject({ reason: expect.stringMatching(/^not JSON/) })
    expect(decodeNotification(Buffer.from([0xff, 0xfe, 0x00]), "k", auto)).toMatchObject({ reason: expect.stringMatching(/^not JSON/) })
    expect(decodeNotification("[1,2]", "k", auto)).toEqual({ reason: "not a JSON object" })
    expect(decodeNotification(JSON.stringify({ hello: "world" }), "k", auto)).toMatchObject({ reason: expect.stringMatching(/no recognisable notification format/) })
    expect(decodeNotification(JSON.stringify({ sub: "personer/", operation: "update", jti: "x" }), "k", auto)).toMatchObject({ reason: expect.stringMatching(/FS notification: no/) })
    expect(decodeNotification(JSON.stringify({ specversion: "1.0", id: "x", type: "t", source: "s" }), "k", auto)).toMatchObject({ reason: expect.stringMatching(/subject/) })
    expect(decodeNotification(sample("fs-notification-personer-update.json"), "k", { format: "cloudevents" })).toMatchObject({ reason: expect.stringMatching(/subject/) })
  })

  it("tells the formats apart by their own fields", () => {
    expect(detectFormat(JSON.parse(sample("fs-notification-format-template.json")) as Record<string, unknown>)).toBe("fs")
    expect(detectFormat(JSON.parse(sample("cloudevents-cerebrum-account-create.json")) as Record<string, unknown>)).toBe("cloudevents")
    expect(detectFormat(JSON.parse(sample("greg-event-person_role.add.json")) as Record<string, unknown>)).toBe("greg")
  })
})
