/** Decoding Datafordeler's event messages against the real samples (legacy PULL, GraphQL events). */
import { readFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import { decodeObjectRows } from "../../src/sources/datafordeler/ObjectFetch.js"
import { decodeGraphqlEventsPage, decodeImportStatus, decodePullEnvelope, decodePullPage, type PullEvent } from "../../src/domain/datafordeler/DatafordelerEvents.js"
import { instant } from "../../src/domain/core/Instant.js"

const fixture = (name: string) => readFileSync(new URL(`../fixtures/datafordeler/${name}`, import.meta.url))

describe("legacy PULL envelopes", () => {
  const full = JSON.parse(gunzipSync(fixture("bbr_enhed_pull_response_full_993_events.json.gz")).toString("utf8")) as Array<unknown>

  it("decodes every one of a real 993-event response, in the service's order", () => {
    const { events, refused } = decodePullPage(full)
    expect(refused).toEqual([])
    expect(events).toHaveLength(993)
    const types = events.reduce<Record<string, number>>((n, e) => ({ ...n, [e.beskedtype]: (n[e.beskedtype] ?? 0) + 1 }), {})
    expect(types).toEqual({ EnhedCreate: 78, EnhedUpdate: 915 })
    // Id rises strictly; beskedID is unique: the two dedup keys.
    expect(events.every((e, i) => i === 0 || BigInt(e.id) > BigInt(events[i - 1]!.id))).toBe(true)
    expect(new Set(events.map((e) => e.beskedID)).size).toBe(993)
    expect(events.every((e) => e.registrations.length === 1 && e.references[0] === e.registrations[0]!.objektID)).toBe(true)
  })

  it("reads the first real event exactly: 7 fractional digits truncated, the local offset honoured", () => {
    const first = decodePullEnvelope(full[0]) as PullEvent
    expect(first).toMatchObject({
      id: "219585000",
      beskedID: "3e328ef8-949b-4fe7-b314-9ef819a37199",
      beskedtype: "EnhedCreate",
      registrations: [{ objektID: "5eb58da0-3068-45c5-ba14-a85248b78885", objekttype: "Enhed", registreringstid: instant("2020-10-16T06:50:50.747685Z"), status: "3" }],
      objektdata: [],
      timestamp: "2020-10-16T06:52:04.906746Z"
    })
  })

  it("reads the live service's Danish spelling the same as the transliterated one", () => {
    const subset = JSON.parse(fixture("bbr_enhed_pull_response_subset.json").toString("utf8")) as Array<unknown>
    const danish = JSON.parse(
      JSON.stringify(subset).replaceAll('"Haendelsesbesked"', '"Hændelsesbesked"').replaceAll('"registreringsaktoer"', '"registreringsaktør"').replaceAll('"tvaergaaendeProces"', '"tværgåendeProces"')
    ) as Array<unknown>
    expect(JSON.stringify(danish)).toContain("Hændelsesbesked")
    expect(decodePullPage(danish)).toEqual(decodePullPage(subset))
  })

  it("refuses a malformed envelope with its reason and keeps the rest of the page; a string Message is parsed", () => {
    const good = full[1] as Record<string, unknown>
    const page = [
      full[0],
      { Id: 5, Message: { Grunddatabesked: {} } },
      { Message: good.Message },
      { ...good, Message: JSON.stringify(good.Message) },
      { ...good, Id: 6, Message: "<xml/>", Format: "Xml" }
    ]
    const { events, refused } = decodePullPage(page)
    expect(events.map((e) => e.id)).toEqual(["219585000", String(good.Id)])
    expect(refused).toEqual([
      { index: 1, id: "5", reason: "envelope 5: no Message.Grunddatabesked.Hændelsesbesked" },
      { index: 2, id: null, reason: "envelope without 'Id'" },
      // An XML Message is read (test/domain/datafordelerXml.test.ts); this one holds no Grunddatabesked.
      { index: 4, id: "6", reason: "envelope 6: no Message.Grunddatabesked.Hændelsesbesked" }
    ])
  })
})

describe("GraphQL events", () => {
  it("decodes a real CVR_Events page: eventids, actions, row ids, delete+reinsert pairs, paging", () => {
    const page = decodeGraphqlEventsPage(JSON.parse(fixture("cvr_events_page_first50.json").toString("utf8")), "CVR")
    if (page._tag !== "Page") throw new Error(page.reason)
    expect(page.refused).toEqual([])
    expect(page.events).toHaveLength(50)
    expect(page.events.every((e, i) => i === 0 || e.eventid > page.events[i - 1]!.eventid)).toBe(true)
    expect(new Set(page.events.map((e) => e.action))).toEqual(new Set(["i", "d"]))
    const deleted = page.events.filter((e) => e.action === "d").map((e) => e.objectId)
    expect(page.events.some((e) => e.action === "i" && deleted.includes(e.objectId))).toBe(true)
    expect(page).toMatchObject({ hasNextPage: true, endCursor: "TVE9PTtNZ0FBQUFBQUFBQT0=" })
  })

  it("reads a real DAF_RegisterImportStatus: lastEventId is the gate (the sequence number is not in eventid order)", () => {
    const answer = JSON.parse(fixture("daf_register_import_status.json").toString("utf8")) as { data: unknown }
    expect(decodeImportStatus(answer.data)).toEqual({ lastEventId: 51128997 })
    expect(decodeImportStatus({})).toEqual({ reason: "no DAF_RegisterImportStatus in the answer" })
    expect(decodeImportStatus({ DAF_RegisterImportStatus: { lastEventId: "51128997" } })).toMatchObject({ reason: expect.stringContaining("lastEventId") })
  })

  it("a real row fetched by datafordelerRowId without its times selected is refused clearly, by the field it lacks", () => {
    const answer = JSON.parse(fixture("cvr_navn_by_rowid.json").toString("utf8")) as { data: { CVR_Navn: { nodes: Array<unknown> } } }
    const entity = { objectType: "cvr.navn", idField: "CVREnhedsId", rowIdField: "datafordelerRowId", identity: [] }
    const fetched = decodeObjectRows(answer.data.CVR_Navn.nodes, entity, "4010603255", "Europe/Copenhagen")
    expect(fetched.rows).toEqual([])
    expect(fetched.bad).toEqual(["row without 'registreringFra'"])
  })

  it("says why when the answer holds no events", () => {
    expect(decodeGraphqlEventsPage({ errors: [{ message: "The current user is not authorized" }] }, "CVR")).toEqual({ _tag: "Failed", reason: "The current user is not authorized" })
    expect(decodeGraphqlEventsPage({ data: {} }, "DAR")).toEqual({ _tag: "Failed", reason: "no data.DAR_Events" })
  })
})
