import { describe, expect, it } from "vitest"
import { csvField, csvHeader, csvLine } from "../../src/domain/core/Csv.js"

/** A small RFC 4180 reader, to prove what is written reads back. */
const parseCsv = (text: string): Array<Array<string>> => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = [], field = "", quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++
      else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ",") row.push(field), (field = "")
    else if (c === "\r" && text[i + 1] === "\n") row.push(field), rows.push(row), (row = []), (field = ""), i++
    else field += c
  }
  return rows
}

describe("CSV out", () => {
  it("quotes only what needs it, and open ends are empty", () => {
    expect(csvField("plain")).toBe("plain")
    expect(csvField('Åbakke, "gl." vej')).toBe('"Åbakke, ""gl."" vej"')
    expect(csvField("two\nlines")).toBe('"two\nlines"')
    expect(csvField(" padded")).toBe('" padded"')
    expect(csvField(null)).toBe("")
  })

  it("round-trips rows, data as canonical JSON in one field", () => {
    const row = {
      change: "registered",
      changeAt: "2017-01-04T00:00:00.000000Z",
      objectType: "vej",
      objectId: "yyyy",
      registreringFra: "2017-01-04T00:00:00.000000Z",
      registreringTil: null,
      virkningFra: "2017-02-01T00:00:00.000000Z",
      virkningTil: null,
      data: { navn: 'Åbakke, "ny"', nr: 1, a: [1, 2] },
      eventId: "e-5",
      storedAt: "2026-11-23T00:00:00.000000Z"
    }
    const parsed = parseCsv(csvHeader(true) + csvLine(row, true))
    expect(parsed[0]).toEqual(["change", "changeAt", "objectType", "objectId", "registreringFra", "registreringTil", "virkningFra", "virkningTil", "data", "eventId", "storedAt"])
    expect(parsed[1]![5]).toBe("")
    expect(JSON.parse(parsed[1]![8]!)).toEqual(row.data)
    expect(parsed[1]![8]).toBe('{"a":[1,2],"navn":"Åbakke, \\"ny\\"","nr":1}')
    expect(parseCsv(csvHeader(false) + csvLine(row, false))[1]).toHaveLength(9)
  })
})
