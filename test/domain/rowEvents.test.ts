/** Folding GraphQL row events per object: worked examples on the real CVR_Events page and the edges. */
import fc from "fast-check"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { decodeGraphqlEventsPage, type RowEvent } from "../../src/domain/datafordeler/DatafordelerEvents.js"
import { instant } from "../../src/domain/core/Instant.js"
import { cursorAfterPage, rowEventFold, showsEvents } from "../../src/domain/datafordeler/RowEvents.js"

/** A round of one page. */
const foldRowEvents = (events: ReadonlyArray<RowEvent>, configured: (entity: string) => boolean, after: number) => {
  const fold = rowEventFold(configured, after)
  fold.add(events)
  return fold.result()
}

const realPage = () => {
  const page = decodeGraphqlEventsPage(JSON.parse(readFileSync(new URL("../fixtures/datafordeler/cvr_events_page_first50.json", import.meta.url), "utf8")), "CVR")
  if (page._tag !== "Page") throw new Error(page.reason)
  return page.events
}

const ev = (eventid: number, action: RowEvent["action"], rowId: string | null, extra: Partial<RowEvent> = {}): RowEvent => ({
  eventid,
  entityname: "Adresse",
  action,
  objectId: "a1",
  rowId,
  fromFailedImport: false,
  updatedAt: null,
  ...extra
})

describe("folding row events per object", () => {
  it("a real delete+reinsert of every row of a CVR unit: the old rows must be gone, the new ones there", () => {
    const folded = foldRowEvents(realPage(), (e) => e === "CVREnhed" || e === "Navn", 0)
    expect(folded.lastEventId).toBe(50)
    const unit = folded.objects.get("CVREnhed\u00004003849238")!
    expect(unit).toMatchObject({ firstEventId: 17, lastEventId: 32, events: 2 })
    expect([...unit.mustNotShow]).toEqual(["d90f8606-06c4-4b1e-b1ee-35360cf3b76b"])
    expect([...unit.mustShow]).toEqual(["e5d62cc6-ff49-472a-8dda-4ab7fb20f4eb"])
    const names = folded.objects.get("Navn\u00004003849238")!
    expect(names.mustNotShow.size).toBe(4)
    expect(names.mustShow.size).toBe(4)
    // Entities not configured pass the cursor without work.
    expect(folded.skipped).toBe(50 - [...folded.objects.values()].reduce((n, o) => n + o.events, 0))
  })

  it("the last event of a row decides; a failed import's events name the object but demand nothing", () => {
    const folded = foldRowEvents([ev(3, "i", "r1"), ev(4, "d", "r1"), ev(5, "i", "r1"), ev(6, "d", "r2"), ev(7, "i", "r3", { fromFailedImport: true })], () => true, 0)
    const o = folded.objects.get("Adresse\u0000a1")!
    expect([...o.mustShow]).toEqual(["r1"])
    expect([...o.mustNotShow]).toEqual(["r2"])
    expect(o.events).toBe(5)
  })

  it("events at or before the cursor are not taken again; events without an object are refused by eventid", () => {
    const folded = foldRowEvents([ev(2, "i", "old"), ev(9, "i", "r9", { objectId: null })], () => true, 5)
    expect(folded.objects.size).toBe(0)
    expect(folded.refused).toEqual([{ eventid: 9, reason: "event 9 (Adresse) names no object_id" }])
    expect(folded.lastEventId).toBe(9)
  })

  it("pages folded as they are read (each after the last, as the query asks) fold as one page of the whole round does", () => {
    const event = fc.record({
      action: fc.constantFrom<RowEvent["action"]>("i", "u", "d"),
      objectId: fc.constantFrom("a1", "a2", null),
      entityname: fc.constantFrom("Adresse", "Husnummer", "Other"),
      rowId: fc.constantFrom("r1", "r2", "r3", null),
      fromFailedImport: fc.boolean(),
      updatedAt: fc.option(fc.integer({ min: 1, max: 9 }).map((d) => instant(`2020-01-0${d}`)), { nil: null })
    })
    const round = fc.tuple(fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), event), { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 4 }), fc.integer({ min: 0, max: 10 }), fc.boolean())
    fc.assert(
      fc.property(round, ([steps, cuts, after, shuffled]) => {
        // Rising eventids (steps of 1–3), cut into pages, each page's events in any order within it.
        let id = 0
        const events = steps.map(([step, e]): RowEvent => ({ ...e, eventid: (id += step) }))
        const bounds = [...new Set([0, ...cuts.filter((c) => c < events.length), events.length])].sort((a, b) => a - b)
        const fold = rowEventFold((e) => e !== "Other", after)
        for (let i = 0; i + 1 < bounds.length; i++) {
          const page = events.slice(bounds[i], bounds[i + 1])
          fold.add(shuffled ? page.reverse() : page)
        }
        expect(fold.result()).toEqual(foldRowEvents(events, (e) => e !== "Other", after))
      }),
      { numRuns: 2000 }
    )
  })

  it("fetched rows show the events only with every demanded row and none of the deleted ones", () => {
    const o = foldRowEvents([ev(1, "d", "old"), ev(2, "i", "new")], () => true, 0).objects.get("Adresse\u0000a1")!
    const answer = (ids: Array<string>, rows = ids.length) => ({ rowIds: new Set(ids), rows, newestUpdate: null })
    expect(showsEvents(o, answer(["new"]))).toBe(true)
    expect(showsEvents(o, answer(["old"]))).toBe(false) // not yet re-imported
    expect(showsEvents(o, answer(["old", "new"]))).toBe(false) // half-way
    expect(showsEvents(o, answer([], 0))).toBe(false) // lagging: nothing yet
    expect(showsEvents(o, answer([], 3))).toBe(true) // rows without ids or stamps: presence only
    const stamped = foldRowEvents([ev(1, "i", "new", { updatedAt: instant("2026-11-27T10:00:00Z") })], () => true, 0).objects.get("Adresse\u0000a1")!
    expect(showsEvents(stamped, { rowIds: new Set(), rows: 3, newestUpdate: instant("2026-11-26T10:00:00Z") })).toBe(false) // without ids, written before the event: lagging
    expect(showsEvents(stamped, { rowIds: new Set(), rows: 3, newestUpdate: instant("2026-11-27T10:00:00Z") })).toBe(true)
  })

  it("data ahead of the page (a later re-import renamed the rows) shows the events when written no earlier than them", () => {
    const at = instant("2026-11-27T10:00:00.000001Z")
    const o = foldRowEvents([ev(1, "i", "r1", { updatedAt: at })], () => true, 0).objects.get("Adresse\u0000a1")!
    expect(o.newestUpdate).toBe(at)
    expect(showsEvents(o, { rowIds: new Set(["r1-reimported"]), rows: 1, newestUpdate: instant("2026-11-27T10:00:05Z") })).toBe(true)
    expect(showsEvents(o, { rowIds: new Set(["r0"]), rows: 1, newestUpdate: instant("2026-11-27T09:59:59Z") })).toBe(false) // older: lagging
  })

  it("an updated row shows its update only closed or written no earlier than the event (its presence shows nothing)", () => {
    const at = instant("2026-11-27T10:00:00Z")
    const o = foldRowEvents([ev(1, "u", "r1", { updatedAt: at })], () => true, 0).objects.get("Adresse\u0000a1")!
    const answer = (closed: boolean, updatedAt: string | null) => ({ rowIds: new Set(["r1"]), rowStates: new Map([["r1", { closed, updatedAt: updatedAt === null ? null : instant(updatedAt) }]]), rows: 1, newestUpdate: null })
    expect(showsEvents(o, answer(false, "2026-11-26T10:00:00Z"))).toBe(false) // the data service has not shown the close yet
    expect(showsEvents(o, answer(true, "2026-11-26T10:00:00Z"))).toBe(true)
    expect(showsEvents(o, answer(false, "2026-11-27T10:00:00Z"))).toBe(true)
    expect(showsEvents(o, answer(false, null))).toBe(true) // no stamp: presence only, as before
  })

  it("the cursor: the page's last event, or just before the earliest parked object's first event, never backwards", () => {
    const page = foldRowEvents([ev(11, "i", "r", { objectId: "a" }), ev(12, "i", "r", { objectId: "b" }), ev(13, "u", "r", { objectId: "a" })], () => true, 10)
    const [a, b] = [page.objects.get("Adresse\u0000a")!, page.objects.get("Adresse\u0000b")!]
    expect(cursorAfterPage(10, page, [])).toBe(13)
    expect(cursorAfterPage(10, page, [b])).toBe(11)
    expect(cursorAfterPage(10, page, [a, b])).toBe(10)
    expect(cursorAfterPage(12, page, [a])).toBe(12)
    expect(cursorAfterPage(10, foldRowEvents([], () => true, 10), [])).toBe(10)
  })
})
