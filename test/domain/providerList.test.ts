import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { listPage } from "../../src/domain/intark/ProviderList.js"

const sample = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/intark/${name}`, import.meta.url), "utf8"))

describe("provider list pages", () => {
  it("takes the item hrefs of a real FS collection envelope, composite ids included", () => {
    const page = listPage(sample("fsapi-studentundervisning-collection.json"))
    expect(page.objects).toHaveLength(8)
    expect(page.unrecognised).toBe(0)
    expect(page.objects[0]).toMatchObject({
      id: "215,ABIO6050,1,2022,VÅR,1,33637",
      location: "https://api.fellesstudentsystem.no/studentundervisning/215,ABIO6050,1,2022,V%C3%85R,1,33637"
    })
    expect(page.next).toBeNull()
  })

  it("reads a person search hit by id.href, and an empty search as no objects", () => {
    expect(listPage(sample("fsapi-personer-search-by-fnr.redacted.json")).objects.map((o) => o.id)).toEqual(["33637"])
    expect(listPage(sample("fsapi-personer-search-empty.json"))).toEqual({ objects: [], unrecognised: 0, next: null })
  })

  it("follows next.href, reads bare arrays with an id field, and counts items it cannot point at", () => {
    const page = listPage({ items: [{ href: "https://x/personer/1" }, { navn: "no pointer" }], next: { href: "https://x/personer?page=2" } })
    expect(page).toEqual({ objects: [{ id: "1", location: "https://x/personer/1", item: { href: "https://x/personer/1" } }], unrecognised: 1, next: "https://x/personer?page=2" })
    expect(listPage([{ ansattnummer: 42 }, { ansattnummer: "43" }], "ansattnummer").objects.map((o) => o.id)).toEqual(["42", "43"])
    // An empty page ends the paging even if it names a next one.
    expect(listPage({ items: [], next: { href: "https://x/p?page=9" } }).next).toBeNull()
  })
})
