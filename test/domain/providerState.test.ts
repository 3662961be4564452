/** Provider state → operations: registration time = fetch time; validity from fields; 9999-12-31 is open. */
import { describe, expect, it } from "vitest"
import { instant } from "../../src/domain/core/Instant.js"
import { deletionOperations, stateOperations } from "../../src/domain/intark/ProviderState.js"

const r = instant("2026-03-01T10:00:00Z")
const plain = { objectType: "fs.person", timeZone: "Europe/Oslo" }
const dated = { objectType: "fs.personrolle", timeZone: "Europe/Oslo", validFrom: "periode.fraDato", validTo: "periode.tilDato" }

describe("stateOperations", () => {
  it("asserts a resource without validity fields from the registration time on", () => {
    expect(stateOperations(plain, "56154", { b: 1, a: 2 }, r, "e")).toEqual([
      { op: "assert", objectType: "fs.person", objectId: "56154", registreringstid: r, virkningFra: r, virkningTil: null, data: '{"a":2,"b":1}', eventId: "e" }
    ])
  })

  it("holds the state over its own period and nothing outside it, reading dates in the source's zone", () => {
    const ops = stateOperations(dated, "185498,11", { periode: { fraDato: "2018-09-02", tilDato: "2019-06-30" } }, r, "e")
    expect(ops).toMatchObject([
      { op: "retract", virkningFra: null, virkningTil: "2018-09-01T22:00:00.000000Z", eventId: "e:before" },
      { op: "retract", virkningFra: "2019-06-29T22:00:00.000000Z", virkningTil: null, eventId: "e:after" },
      { op: "assert", virkningFra: "2018-09-01T22:00:00.000000Z", virkningTil: "2019-06-29T22:00:00.000000Z", eventId: "e" }
    ])
  })

  it("reads 9999-12-31 and a missing end as open", () => {
    for (const periode of [{ fraDato: "2018-09-02", tilDato: "9999-12-31" }, { fraDato: "2018-09-02" }]) {
      const ops = stateOperations(dated, "x", { periode }, r, "e")
      expect(ops).toMatchObject([{ op: "retract", virkningTil: "2018-09-01T22:00:00.000000Z" }, { op: "assert", virkningTil: null }])
    }
  })

  it("refuses provider data with an empty or unreadable period, naming the field", () => {
    expect(stateOperations(dated, "x", { periode: { fraDato: "2019-01-01", tilDato: "2018-01-01" } }, r, "e")).toMatchObject({ reason: expect.stringMatching(/empty validity/), field: "periode.tilDato" })
    expect(stateOperations(dated, "x", { periode: { fraDato: "snart" } }, r, "e")).toMatchObject({ reason: expect.stringMatching(/periode.fraDato/), field: "periode.fraDato" })
    expect(stateOperations(dated, "x", { periode: { fraDato: 20180902 } }, r, "e")).toMatchObject({ reason: "validity field 'periode.fraDato' is not a date string" })
  })

  it("retracts from now on for a deletion without validity fields, and everything with them", () => {
    expect(deletionOperations(plain, "1", r, "d")).toMatchObject([{ op: "retract", virkningFra: r, virkningTil: null }])
    expect(deletionOperations(dated, "1", r, "d")).toMatchObject([{ op: "retract", virkningFra: null, virkningTil: null }])
  })
})
