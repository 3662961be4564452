/** The XML reader, and legacy PULL pages and Messages in XML decoding exactly like their JSON twins (real BBR sample, official DLS files). */
import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { decodePullEnvelope, decodePullPage, decodePullXmlPage, type PullEvent } from "../../src/domain/datafordeler/DatafordelerEvents.js"
import { MAX_XML_DEPTH, parseXml, type XmlElement, xmlToJson } from "../../src/domain/datafordeler/Xml.js"

const fixturePath = (name: string) => new URL(`../fixtures/datafordeler/${name}`, import.meta.url)
const fixture = (name: string) => readFileSync(fixturePath(name), "utf8")

const root = (xml: string): XmlElement => {
  const parsed = parseXml(xml)
  if (parsed._tag !== "Parsed") throw new Error(parsed.reason)
  return parsed.root
}
const json = (xml: string) => xmlToJson(root(xml))
const malformed = (xml: string) => {
  const parsed = parseXml(xml)
  if (parsed._tag !== "Malformed") throw new Error(`expected a syntax error for ${xml}`)
  return parsed
}

/** Escapes text for element content and double-quoted attributes. */
const escapeXml = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&apos;")

/** JSON → XML as the service serializes it: a property is an element, an array repeats its element, null is xsi:nil. */
const toXml = (name: string, value: unknown): string => {
  if (Array.isArray(value)) return value.map((v) => toXml(name, v)).join("")
  if (value === null) return `<${name} xsi:nil="true"/>`
  if (typeof value === "object") return `<${name}>${Object.entries(value as Record<string, unknown>).map(([k, v]) => toXml(k, v)).join("")}</${name}>`
  return `<${name}>${escapeXml(String(value))}</${name}>`
}

const XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
const arrayOfEnvelope = (envelopes: ReadonlyArray<string>) =>
  `<?xml version="1.0" encoding="utf-8"?>\n<ArrayOfEnvelope xmlns="http://schemas.datacontract.org/2004/07/Datafordeler" ${XSI}>\n${envelopes.map((e) => `  ${e}\n`).join("")}</ArrayOfEnvelope>\n`

type Envelope = { Id: number; Message: { Grunddatabesked: unknown }; Format: string; Timestamp: string }
const subset = JSON.parse(fixture("bbr_enhed_pull_response_subset.json")) as Array<Envelope>
const danish = JSON.parse(
  JSON.stringify(subset).replaceAll('"Haendelsesbesked"', '"Hændelsesbesked"').replaceAll('"registreringsaktoer"', '"registreringsaktør"').replaceAll('"tvaergaaendeProces"', '"tværgåendeProces"')
) as Array<Envelope>

describe("the XML reader", () => {
  it("reads elements, text, the predefined entities and numeric character references", () => {
    expect(json("<a><b>x &lt; y &amp;&amp; y &gt; z</b><c>&quot;q&quot; &apos;s&apos;</c><d>Tv&#xE6;rg&#229;ende Pr&#x6F;ces &#x1F600;</d></a>")).toEqual({
      b: "x < y && y > z",
      c: `"q" 's'`,
      d: "Tværgående Proces 😀"
    })
  })

  it("keeps CDATA verbatim, skips comments, the declaration and a DOCTYPE, reads CRLF as LF", () => {
    const xml = '\uFEFF<?xml version="1.0" encoding="utf-8"?>\r\n<!DOCTYPE a [ <!ELEMENT a ANY> ]>\r\n<!-- before -->\r\n<a><!-- <b>not an element</b> --><b><![CDATA[<x> & &amp; ]]>tail</b><c>one\r\ntwo</c></a>\r\n<!-- after -->'
    expect(json(xml)).toEqual({ b: "<x> & &amp; tail", c: "one\ntwo" })
  })

  it("strips namespace prefixes from element names and drops xmlns declarations", () => {
    const el = root(`<ns:Envelope xmlns:ns="urn:x" xmlns="urn:y" ${XSI} ns:kind="k"><ns:Id>7</ns:Id><Other>o</Other></ns:Envelope>`)
    expect(el.name).toBe("Envelope")
    expect(el.attributes).toEqual({ "ns:kind": "k" })
    expect(xmlToJson(el)).toEqual({ Id: "7", Other: "o" })
  })

  it("reads attributes (either quote, entities, whitespace normalized) and keeps them in JSON on request", () => {
    const el = root(`<a x = 'it&apos;s "fine"' y="1&#10;2\t3" z=""><b id="7">text</b></a>`)
    expect(el.attributes).toEqual({ x: `it's "fine"`, y: "1\n2 3", z: "" })
    expect(xmlToJson(el)).toEqual({ b: "text" })
    expect(xmlToJson(el, { attributes: true })).toEqual({ "@x": `it's "fine"`, "@y": "1\n2 3", "@z": "", b: { "@id": "7", "#text": "text" } })
  })

  it("gives null for xsi:nil (any prefix), \"\" for an empty element, arrays only for repeated children", () => {
    expect(json(`<a ${XSI} xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><n xsi:nil="true"/><m i:nil="true"></m><e/><f></f><g xsi:nil="false">v</g><r>1</r><r>2</r><r>3</r><one><x>1</x></one></a>`)).toEqual({
      n: null,
      m: null,
      e: "",
      f: "",
      g: "v",
      r: ["1", "2", "3"],
      one: { x: "1" }
    })
    expect(json("<a/>")).toBe("")
  })

  it("drops indentation between children, keeps a text-only element's whitespace, and keeps mixed text as #text", () => {
    expect(json("<a>\n  <b> padded </b>\n  <c>  </c>\n</a>")).toEqual({ b: " padded ", c: "  " })
    expect(json("<p>Hello <b>you</b>!</p>")).toEqual({ b: "you", "#text": "Hello !" })
  })

  it("keeps a child named __proto__ as a property, not as the prototype", () => {
    const value = json("<a><__proto__>x</__proto__></a>") as Record<string, unknown>
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(Object.keys(value)).toEqual(["__proto__"])
  })

  it("hands the root's children over one by one when asked, in order, without keeping them", () => {
    const seen: Array<unknown> = []
    const parsed = parseXml("<list><item>1</item><item><x>2</x></item><!-- c --><item/></list>", { onChildOfRoot: (el) => seen.push(xmlToJson(el)) })
    expect(parsed).toMatchObject({ _tag: "Parsed", root: { name: "list", children: [] } })
    expect(seen).toEqual(["1", { x: "2" }, ""])
    expect(parseXml("<list><item/><item>", { onChildOfRoot: () => undefined })._tag).toBe("Malformed")
  })

  it("reads a large entity-dense text in one pass", () => {
    const big = "a&amp;&lt;b&#x3E;\r\n".repeat(200_000)
    expect(json(`<t>${big}</t>`)).toBe("a&<b>\n".repeat(200_000))
  })

  it("names what is wrong and where for malformed input", () => {
    expect(malformed("<a>\n  <b>\n</a>")).toMatchObject({ reason: "mismatched close tag </a>: <b> (opened at line 2, column 3) is still open at line 3, column 1", line: 3, column: 1 })
    expect(malformed("<a>\n  <b>text</b>\n").reason).toBe("unclosed tag <a> (end of document before </a>) at line 1, column 1")
    expect(malformed("<a><b x='1'").reason).toBe("unclosed tag <b (end of document before '>') at line 1, column 4")
    expect(malformed("<a>x &nbsp; y</a>").reason).toBe("unknown entity '&nbsp;' (only &lt; &gt; &amp; &quot; &apos; and &#…; are known) at line 1, column 6")
    expect(malformed("<a>\n fish & chips</a>").reason).toBe("bare '&' (write '&amp;') or an unterminated entity at line 2, column 7")
    expect(malformed("<a>&#xD800;</a>").reason).toBe("invalid character reference '&#xD800;' at line 1, column 4")
    expect(malformed("<a>&#12a;</a>").reason).toBe("invalid character reference '&#12a;' at line 1, column 4")
    expect(malformed("<a x=1/>").reason).toBe("the value of attribute 'x' in tag <a> is not quoted at line 1, column 6")
    expect(malformed(`<a x="1" x="2"/>`).reason).toBe("duplicate attribute 'x' in tag <a> at line 1, column 10")
    expect(malformed(`<a x="<"/>`).reason).toBe("'<' in the value of attribute 'x' in tag <a> at line 1, column 7")
    expect(malformed("<a/><b/>").reason).toBe("a second root element at line 1, column 5")
    expect(malformed("<a/>junk").reason).toBe("text after the root element at line 1, column 5")
    expect(malformed("</a>").reason).toBe("close tag </a> without an open element at line 1, column 1")
    expect(malformed("<a><!-- never closed</a>").reason).toBe("unterminated comment '<!--' (no '-->') at line 1, column 4")
    expect(malformed("<a><![CDATA[ open</a>").reason).toBe("unterminated CDATA section (no ']]>') at line 1, column 4")
    expect(malformed("<a>< b/></a>").reason).toBe("expected an element name after '<', found ' ' at line 1, column 5")
    expect(malformed("  \n").reason).toBe("no root element at line 2, column 1")
    expect(malformed("not xml").reason).toBe("text before the root element at line 1, column 1")
    expect(malformed("<a>".repeat(MAX_XML_DEPTH + 1)).reason).toBe(`elements nested deeper than ${MAX_XML_DEPTH} at line 1, column ${3 * MAX_XML_DEPTH + 1}`)
  })
})

describe("official DLS XML files", () => {
  it("reads the MAT Jordstykke event template: its 42 attributes load the same source columns as the JSON template's", () => {
    const jordstykke = root(fixture("MAT_Jordstykke_event_objektdata_template.xml"))
    const template = JSON.parse(fixture("MAT_Jordstykke_event_objektdata_template.json")) as { entityType: string; attributes: Record<string, string> }
    expect(jordstykke.name).toBe(template.entityType)
    expect(jordstykke.attributes).toEqual({})
    const attributes = xmlToJson(jordstykke) as Record<string, string>
    expect(Object.keys(attributes)).toHaveLength(42)
    expect(attributes.matrikelnummer).toBe("Load(matrikelnummer)")
    expect(Object.values(attributes).sort()).toEqual(Object.values(template.attributes).sort())
    // The XML names each element after its (truncated) source column; the JSON renames 8 of them.
    expect(Object.entries(attributes).every(([name, load]) => load === `Load(${name})`)).toBe(true)
    expect(Object.keys(attributes).filter((name) => template.attributes[name] !== attributes[name])).toEqual([
      "klitfredning_klitfredningsarea",
      "majoratsskov_majoratsskovsnumm",
      "strandbeskyttelse_strandbeskyt",
      "samletFastEjendomLokalId",
      "ejerlavLokalId",
      "sognLokalId",
      "kommuneLokalId",
      "regionLokalId"
    ])
    expect(template.attributes.kommunekode).toBe(attributes.kommuneLokalId)
  })

  const deliveries = readdirSync(fixturePath("dls_opdateringsproevedata")).filter((f) => f.endsWith(".xml"))
  const delivery = (file: string) => root(fixture(`dls_opdateringsproevedata/${file}`))
  const dataEntities = (doc: XmlElement) => doc.children.find((c) => c.name === "Data")?.children.filter((c) => c.name === "DataEntity") ?? []

  it("reads all 26 Opdateringsprøvedata deliveries: 1 row per Create, 3 per Update, 2 per Invalidate", () => {
    expect(deliveries).toHaveLength(26)
    for (const file of deliveries) {
      const doc = delivery(file)
      expect(doc.name).toBe("DatafordelerDataDelivery")
      const expected = file.endsWith("_Create.xml") ? 1 : file.endsWith("_Update.xml") ? 3 : 2
      expect(dataEntities(doc), file).toHaveLength(expected)
    }
  })

  it("reads a DLS Update's rows: Danish element names, nil header fields, the open successor row", () => {
    const doc = delivery("Postnummer_Update.xml")
    const header = xmlToJson(doc.children.find((c) => c.name === "Header")!) as Record<string, unknown>
    expect(header).toMatchObject({ SequenceNumber: "2", CoversPeriodFrom: null, CoversPeriodTo: null, DeliveryType: "Delta" })
    const rows = (xmlToJson(doc.children.find((c) => c.name === "Data")!) as { DataEntity: Array<Record<string, unknown>> }).DataEntity
    expect(rows.map((r) => [r.Action, r.CreateEvent])).toEqual([
      ["Update", "NoEvent"],
      ["Create", "NoEvent"],
      ["Create", "UpdateEvent"]
    ])
    const successor = rows[2]!.Postnummer as Record<string, unknown>
    expect(successor).toMatchObject({ forretningshændelse: "4", forretningsområde: "54.15.10.25", virkningsaktør: "Konvertering2017", navn: "Stokkemarke", postnr: "4952" })
    expect(successor.virkningFra).toBe("2016-09-09T21:35:00+02:00")
    expect(successor).not.toHaveProperty("virkningTil")
    expect((rows[0]!.Postnummer as Record<string, unknown>).registreringTil).toBe("2016-09-09T21:35:00+02:00")
  })
})

describe("legacy PULL pages in XML", () => {
  const jsonPage = decodePullPage(subset)

  it("decodes the real BBR sample as an ArrayOfEnvelope with inline Messages exactly like the JSON page (ASCII keys)", () => {
    const xml = arrayOfEnvelope(subset.map((e) => toXml("Envelope", e)))
    expect(xml).toContain("<Haendelsesbesked>")
    expect(jsonPage.events).toHaveLength(40)
    expect(jsonPage.refused).toEqual([])
    expect(decodePullXmlPage(xml)).toEqual({ _tag: "Page", ...jsonPage })
  })

  it("does the same with the live service's Danish key spellings and namespace prefixes", () => {
    const xml = arrayOfEnvelope(danish.map((e) => toXml("Envelope", e)))
      .replaceAll("<ArrayOfEnvelope xmlns=", '<d:ArrayOfEnvelope xmlns:d="urn:d" xmlns=')
      .replaceAll("</ArrayOfEnvelope>", "</d:ArrayOfEnvelope>")
      .replaceAll("<Envelope>", "<d:Envelope>")
      .replaceAll("</Envelope>", "</d:Envelope>")
    expect(xml).toContain("<Hændelsesbesked>")
    expect(xml).toContain("<registreringsaktør>")
    expect(decodePullXmlPage(xml, "Europe/Copenhagen")).toEqual({ _tag: "Page", ...jsonPage })
  })

  it("reads a Message sent as escaped XML text or as CDATA (Format Xml) the same as an inline one", () => {
    const escaped = subset.map((e) =>
      toXml("Envelope", { Id: e.Id, Message: `<?xml version="1.0"?>${toXml("Grunddatabesked", e.Message.Grunddatabesked)}`, Format: "Xml", Timestamp: e.Timestamp })
    )
    expect(escaped[0]).toContain("<Message>&lt;?xml")
    expect(decodePullXmlPage(arrayOfEnvelope(escaped))).toEqual({ _tag: "Page", ...jsonPage })

    const cdata = subset.map(
      (e) => `<Envelope><Id>${e.Id}</Id><Message><![CDATA[${toXml("Grunddatabesked", e.Message.Grunddatabesked)}]]></Message><Format>Xml</Format><Timestamp>${e.Timestamp}</Timestamp></Envelope>`
    )
    expect(decodePullXmlPage(arrayOfEnvelope(cdata))).toEqual({ _tag: "Page", ...jsonPage })
  })

  it("reads a JSON envelope whose Format is Xml and whose Message is an XML string like its JSON twin", () => {
    for (const twin of [subset[0]!, danish[7]!]) {
      const expected = decodePullEnvelope(twin) as PullEvent
      expect(expected.id).toBe(String(twin.Id))
      const grunddatabesked = toXml("Grunddatabesked", twin.Message.Grunddatabesked)
      expect(decodePullEnvelope({ ...twin, Format: "Xml", Message: grunddatabesked })).toEqual(expected)
      // Prefixed, wrapped in an element around Grunddatabesked, or with no Format at all: the same event.
      const prefixed = grunddatabesked.replaceAll("<", "<g:").replaceAll("<g:/", "</g:").replace("<g:Grunddatabesked>", '<g:Grunddatabesked xmlns:g="urn:g">')
      expect(decodePullEnvelope({ ...twin, Format: "xml", Message: prefixed })).toEqual(expected)
      expect(decodePullEnvelope({ ...twin, Format: "XML", Message: `<Message>${grunddatabesked}</Message>` })).toEqual(expected)
      expect(decodePullEnvelope({ Id: twin.Id, Message: `\n ${grunddatabesked}`, Timestamp: twin.Timestamp })).toEqual(expected)
    }
  })

  it("refuses an envelope with an unparsable XML Message with the parser's reason; the rest of the page stands", () => {
    const [first, second, third] = subset
    const broken = toXml("Grunddatabesked", second!.Message.Grunddatabesked).replace("</Beskedkuvert>", "")
    const xml = arrayOfEnvelope([
      toXml("Envelope", first),
      toXml("Envelope", { Id: second!.Id, Message: broken, Format: "Xml", Timestamp: second!.Timestamp }),
      toXml("Envelope", { Id: 99, Message: { Grunddatabesked: {} }, Format: "Json", Timestamp: third!.Timestamp }),
      toXml("Envelope", third)
    ])
    const page = decodePullXmlPage(xml)
    if (page._tag !== "Page") throw new Error(page.reason)
    expect(page.events.map((e) => e.id)).toEqual([String(first!.Id), String(third!.Id)])
    expect(page.refused).toHaveLength(2)
    expect(page.refused[0]).toMatchObject({ index: 1, id: String(second!.Id) })
    expect(page.refused[0]!.reason).toMatch(
      new RegExp(`^envelope ${second!.Id}: Message is not well-formed XML \\(mismatched close tag </Haendelsesbesked>: <Beskedkuvert> \\(opened at line 1, column \\d+\\) is still open at line 1, column \\d+\\)$`)
    )
    expect(page.refused[1]).toEqual({ index: 2, id: "99", reason: "envelope 99: no Message.Grunddatabesked.Hændelsesbesked" })
  })

  it("fails the whole page, with the reason, when the document is malformed or not a list of envelopes", () => {
    const xml = arrayOfEnvelope(subset.slice(0, 3).map((e) => toXml("Envelope", e)))
    expect(decodePullXmlPage(xml.replace("</Envelope>", ""))).toEqual({
      _tag: "Failed",
      reason: expect.stringMatching(/^the page is not well-formed XML: mismatched close tag <\/ArrayOfEnvelope>: <Envelope> \(opened at line 3, column 3\) is still open at line 6, column 1$/)
    })
    expect(decodePullXmlPage("")).toEqual({ _tag: "Failed", reason: "the page is not well-formed XML: no root element at line 1, column 1" })
    expect(decodePullXmlPage("<Error><Message>Unauthorized</Message></Error>")).toEqual({ _tag: "Failed", reason: "the page's root element is <Error>, not <ArrayOfEnvelope>" })
    expect(decodePullXmlPage(`<ArrayOfEnvelope ${XSI}/>`)).toEqual({ _tag: "Page", events: [], refused: [] })
  })
})
