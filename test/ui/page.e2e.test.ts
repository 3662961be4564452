/**
 * The time-travel page in a real browser (Debian's chromium through playwright-core) against a real
 * `skygge run --config FILE`, its data loaded through `POST /v1/registrations`: the worked examples'
 * diagrams read from the DOM and compared with the pure geometry and the documentation's tables, a click
 * answering what the API answers, paging a type, a change window, the operations view turning red for a
 * cursor that stopped moving (a Datafordeler PULL path whose register went away), and a token prompt.
 * Screenshots of each view go to test-output/ui/.
 */
import type { ChildProcess } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { execFileSync } from "node:child_process"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDafSimulator } from "../../src/sources/datafordeler/simulator/DafSimulator.js"
import { diagramOf, type DiagramRow, layoutFor } from "../../src/ui/Diagram.js"
import { launchChromium } from "../support/browser.js"
import { useCleanups } from "../support/cleanups.js"
import { freePort } from "../support/net.js"
import { killIfRunning, startSkygge } from "../support/process.js"
import { waitFor, waitForReady } from "../support/wait.js"

// What the functions run inside the page use (this project's types are Node's, without the DOM).
interface PageElement {
  getAttribute(name: string): string | null
}
declare const document: { querySelector(selector: string): PageElement | null; readonly activeElement: PageElement | null; readonly documentElement: { readonly scrollWidth: number } }
declare const getComputedStyle: (el: unknown) => { readonly backgroundColor: string }

const root = fileURLToPath(new URL("../../", import.meta.url))
const shots = join(root, "test-output", "ui")
const cleanups = useCleanups()

/** The page as `npm test` builds it; rebuilt here when its sources are newer (a test file run alone). */
const ensurePageBuilt = () => {
  const built = (() => {
    try {
      return statSync(join(root, "dist", "ui", "page.js")).mtimeMs
    } catch {
      return 0
    }
  })()
  const src = join(root, "src")
  const newest = Math.max(...readdirSync(src, { recursive: true }).map((f) => statSync(join(src, String(f))).mtimeMs))
  if (built < newest) execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: "ignore" })
}

interface Engine {
  readonly api: string
  readonly stderr: Array<string>
}

/** A real engine on a SQLite store in a temp folder, with `extra` laid over its configuration. */
const startEngine = async (extra: { readonly api?: Record<string, unknown>; readonly [key: string]: unknown } = {}, env: NodeJS.ProcessEnv = {}): Promise<Engine> => {
  const dir = mkdtempSync(join(tmpdir(), "skygge-ui-"))
  const port = await freePort()
  const configFile = join(dir, "skygge.json")
  const config = { store: { url: `sqlite:${join(dir, "skygge.db")}` }, log: { level: "Warn" }, ...extra, api: { host: "127.0.0.1", ...(extra.api ?? {}), port } }
  writeFileSync(configFile, JSON.stringify(config))
  const stderr: Array<string> = []
  let child: ChildProcess | undefined = startSkygge(configFile, { stderr, env })
  cleanups.push(async () => {
    await killIfRunning(child)
    child = undefined
    rmSync(dir, { recursive: true, force: true })
  })
  await waitForReady(port)
  return { api: `http://127.0.0.1:${port}`, stderr }
}

const register = async (api: string, lines: ReadonlyArray<Record<string, unknown>>, token?: string) => {
  const res = await fetch(`${api}/v1/registrations`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: lines.map((l) => JSON.stringify(l)).join("\n") + "\n"
  })
  expect(res.status, await res.clone().text()).toBe(200)
}

const workedExamples = () =>
  readFileSync(join(root, "test", "fixtures", "worked-examples.ndjson"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>)

type Row = DiagramRow

const history = async (api: string, type: string, id: string): Promise<ReadonlyArray<Row>> =>
  ((await (await fetch(`${api}/v1/objects/${type}/${id}/history`)).json()) as { rows: Array<Row> }).rows

/** What the page drew: each row's rectangle as its attributes say, its letter and open sides. */
const drawn = (page: Page) =>
  page.$$eval("svg.diagram g.row", (groups) =>
    groups.map((g) => {
      const r = g.querySelector("rect.fill")!
      const n = (a: string) => Number(r.getAttribute(a))
      return { rowId: Number(g.getAttribute("data-row-id")), key: g.getAttribute("data-key"), open: g.getAttribute("data-open"), x: n("x"), y: n("y"), width: n("width"), height: n("height") }
    })
  )

const ready = async (page: Page) => page.waitForSelector("main[data-ready]", { timeout: 15_000 })

/** Open a hash of the page and wait until its view has rendered. */
const open = async (page: Page, api: string, hash: string) => {
  await page.goto(`${api}/ui${hash}`)
  await ready(page)
}

/** The row the page shows as in force (its id, or null for none) once it has answered. */
const inForce = async (page: Page): Promise<number | null> => {
  const el = await page.waitForSelector(".answer [data-row-id]", { timeout: 10_000 })
  const id = await el.getAttribute("data-row-id")
  return id === "" || id === null ? null : Number(id)
}

/** One browser for the file, launched once; without chromium every test fails saying how to install it (none is skipped). */
let launched: Promise<Browser> | undefined
const theBrowser = (): Promise<Browser> => (launched ??= launchChromium())

beforeAll(() => {
  ensurePageBuilt()
  mkdirSync(shots, { recursive: true })
}, 60_000)

afterAll(async () => {
  await (await launched?.catch(() => undefined))?.close()
})

describe("the time-travel page", () => {
  it("draws the worked examples as the documentation's tables read as pictures, and a click answers the row the API answers", async () => {
    const browser = await theBrowser()
    const { api, stderr } = await startEngine()
    // Beside the worked examples, an object whose validity starts in the future: a pending activation.
    const future = { op: "assert", objectType: "vej", objectId: "zzzz", registreringstid: "2020-01-01", virkningFra: "2099-01-01", virkningTil: null, data: { navn: "Fremtidsvej" }, eventId: "z-1" }
    await register(api, [...workedExamples(), future])
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    cleanups.push(() => context.close())
    const page = await context.newPage()
    const requests: Array<string> = []
    page.on("request", (r) => requests.push(r.url()))

    // `/` links the page.
    await page.goto(`${api}/`)
    await page.click("a[href='/ui']")
    await ready(page)

    for (const [id, expected] of [
      ["xxxx", 2],
      ["yyyy", 3]
    ] as const) {
      await open(page, api, `#type=vej&id=${id}`)
      const rects = await drawn(page)
      expect(rects).toHaveLength(expected)
      // Exactly the pure geometry for the size the page drew at.
      const width = Number(await page.getAttribute("svg.diagram", "width"))
      const want = diagramOf(await history(api, "vej", id), layoutFor(width))
      expect(Number(await page.getAttribute("svg.diagram", "height"))).toBe(layoutFor(width).height)
      for (const r of want.rects) {
        const got = rects.find((g) => g.rowId === r.rowId)!
        for (const k of ["x", "y", "width", "height"] as const) expect(Math.abs(got[k] - r.screen[k]), `row ${r.rowId} ${k}`).toBeLessThan(0.02)
      }
      await page.screenshot({ path: join(shots, `object-${id}.png`) })
    }

    // The even scale draws the same rows, each instant a step.
    await open(page, api, "#type=vej&id=yyyy&scale=even")
    expect(await page.getAttribute("svg.diagram", "data-scale")).toBe("even")
    expect(await drawn(page)).toHaveLength(3)
    await open(page, api, "#type=vej&id=yyyy")

    // yyyy as the table reads: row 3 first (left), then rows 4 (below 2017-02-01) and 5 (above) side by side from 2017-01-04 on, open to the right.
    const yyyy = await drawn(page)
    const [a, b, c] = [3, 4, 5].map((n) => yyyy.find((r) => r.rowId === n)!) as [(typeof yyyy)[number], (typeof yyyy)[number], (typeof yyyy)[number]]
    expect(a.x + a.width).toBeCloseTo(b.x, 1)
    expect(b.x).toBeCloseTo(c.x, 1)
    expect(c.y + c.height).toBeCloseTo(b.y, 1) // row 5 sits on top of row 4
    expect(a.y + a.height).toBeCloseTo(b.y + b.height, 1) // rows 3 and 4 start at the same virkningFra
    expect([a.open, b.open, c.open]).toEqual(["top", "right", "right top"])
    expect([a.key, b.key, c.key]).toEqual(["A", "A", "B"]) // Aabakke twice, Åbakke
    expect(await page.$$eval("ul.legend li", (li) => li.map((l) => l.textContent))).toEqual([expect.stringContaining("Aabakke"), expect.stringContaining("Åbakke")])

    // Hovering a rectangle shows its row.
    await page.hover("svg.diagram g.row[data-row-id='3'] rect.fill")
    expect(await (await page.waitForSelector(".tooltip:not([hidden])")).textContent()).toMatch(/row 3.*Aabakke.*registrering \[2016-11-01, 2017-01-04\)/)

    // A click in row 5's rectangle: the page asks the API and shows its answer, with a crosshair there.
    await page.mouse.click(...(await centre(page, 5)))
    expect(await inForce(page)).toBe(5)
    const cross = await page.waitForSelector("g.crosshair")
    const r = (await cross.getAttribute("data-registreringstid"))!, v = (await cross.getAttribute("data-virkningstid"))!
    const fromApi = (await (await fetch(`${api}/v1/objects/vej/yyyy?registreringstid=${r}&virkningstid=${v}`)).json()) as Row
    expect(fromApi.id).toBe(5)
    expect(await page.textContent(".in-force-row")).toContain("Åbakke")
    expect(await page.getAttribute("tr.in-force", "data-row-id")).toBe("5")

    // The URL holds the object and the pair: opened afresh, it shows the same.
    const url = page.url()
    expect(url).toContain(`registreringstid=${encodeURIComponent(r)}`)
    const again = await context.newPage()
    await again.goto(url)
    await ready(again)
    expect(await inForce(again)).toBe(5)
    await again.close()

    // Row 3's rectangle, and below every row's virkning (no row: the API's 404, said in words).
    await page.mouse.click(...(await centre(page, 3)))
    await page.waitForFunction(() => document.querySelector(".answer [data-row-id]")?.getAttribute("data-row-id") === "3")
    const box = (await (await page.$("svg.diagram"))!.boundingBox())!
    const layout = layoutFor(Number(await page.getAttribute("svg.diagram", "width")))
    const below = { x: a.x + a.width / 2, y: (a.y + a.height + layout.height - layout.margin.bottom) / 2 }
    await page.mouse.click(box.x + below.x, box.y + below.y)
    await page.waitForSelector(".answer p.none")
    const pair = await page.$eval("g.crosshair", (g) => [g.getAttribute("data-registreringstid"), g.getAttribute("data-virkningstid")])
    expect((await fetch(`${api}/v1/objects/vej/yyyy?registreringstid=${pair[0]}&virkningstid=${pair[1]}`)).status).toBe(404)

    // By keyboard: Tab past the form's Show button to the rectangles, Enter asks for the row at its centre.
    await page.focus("#f-scale")
    for (let i = 0; i < 3; i++) await page.keyboard.press("Tab")
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-row-id"))).toBe("4")
    await page.keyboard.press("Enter")
    await page.waitForFunction(() => document.querySelector(".answer [data-row-id]")?.getAttribute("data-row-id") === "4")

    // The history names what changed: navn Aabakke → Åbakke on 2017-01-04.
    const registrations = await page.textContent("table.registrations")
    expect(registrations).toContain('"Aabakke" → "Åbakke"')
    expect(registrations).toContain("same data as row 3")

    // The documentation's question — as registered on 2017-01-05, about 2017-03-01 — as a picture (docs/ui-object.png).
    await open(page, api, "#type=vej&id=yyyy&registreringstid=2017-01-05&virkningstid=2017-03-01")
    expect(await inForce(page)).toBe(5)
    await page.screenshot({ path: join(shots, "object.png") })
    await page.screenshot({ path: join(shots, "object-full.png"), fullPage: true })

    // A pending activation, marked on the virkning axis where the row's validity begins, and listed.
    await open(page, api, "#type=vej&id=zzzz")
    const marker = (await page.getAttribute("path.activation.pending", "d"))!
    const zzzz = (await drawn(page))[0]!
    expect(Number(/^M[\d.]+ ([\d.]+)/.exec(marker)![1])).toBeCloseTo(zzzz.y + zzzz.height, 1)
    expect(await page.textContent("table.activations-table")).toMatch(/2099-01-01.*started.*pending/)

    // On a phone the same picture fits the screen.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })
    cleanups.push(() => phone.close())
    const small = await phone.newPage()
    await small.goto(`${api}/ui#type=vej&id=yyyy&registreringstid=2017-01-05&virkningstid=2017-03-01`)
    await ready(small)
    expect(await inForce(small)).toBe(5) // the documentation's question: Åbakke
    expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await small.screenshot({ path: join(shots, "object-phone.png"), fullPage: true })

    expect(requests.every((u) => u.startsWith(api) || u.startsWith("data:"))).toBe(true) // nothing from elsewhere
    expect(stderr.join("")).not.toMatch(/Åbakke|Aabakke/) // nothing of the data in the log
  })

  it("pages a type by objectId, finds an id, and lists a change window", async () => {
    const browser = await theBrowser()
    const { api } = await startEngine()
    const ids = Array.from({ length: 60 }, (_, i) => `s${String(i).padStart(3, "0")}`)
    await register(api, [
      ...workedExamples(),
      ...ids.map((id, i) => ({ op: "assert", objectType: "studierett", objectId: id, registreringstid: "2020-01-01", virkningFra: "2020-01-01", virkningTil: null, data: { program: `P${i % 4}` }, eventId: `s-${id}` }))
    ])
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true })
    cleanups.push(() => context.close())
    const page = await context.newPage()
    await open(page, api, "#view=type&type=studierett")
    const shown = () => page.$$eval("table.snapshot tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-object-id")))
    expect(await shown()).toEqual(ids.slice(0, 25))
    await page.screenshot({ path: join(shots, "type.png"), fullPage: true })
    await page.click("#next-page")
    await page.waitForFunction(() => document.querySelector("table.snapshot tbody tr")?.getAttribute("data-object-id") === "s025")
    expect(await shown()).toEqual(ids.slice(25, 50))
    await page.click("#next-page")
    await page.waitForFunction(() => document.querySelector("table.snapshot tbody tr")?.getAttribute("data-object-id") === "s050")
    expect(await shown()).toEqual(ids.slice(50))
    expect(await page.isDisabled("#next-page")).toBe(true)
    await page.click("#prev-page")
    await page.waitForFunction(() => document.querySelector("table.snapshot tbody tr")?.getAttribute("data-object-id") === "s025")
    // The page's position is in the URL.
    expect(page.url()).toContain("after=s024")

    await page.fill("#f-search", "s042")
    await page.click("form.search button")
    await page.waitForSelector(".found tr[data-object-id='s042']")

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-csv")])
    const csv = readFileSync((await download.path())!, "utf8").trim().split("\n")
    expect(csv).toHaveLength(61)
    expect(csv[0]).toContain("objectType,objectId")

    // Changes: the window and type filter; as many rows as the API's NDJSON.
    await open(page, api, "#view=changes&since=2016-01-01&until=2018-01-01&type=vej")
    const lines = (await (await fetch(`${api}/v1/changes?since=2016-01-01&until=2018-01-01&objectType=vej`)).text()).trim().split("\n")
    expect(await page.$$eval("table.changes tbody tr", (trs) => trs.length)).toBe(lines.length)
    await page.screenshot({ path: join(shots, "changes.png"), fullPage: true })
  })

  it("turns a source path red once its cursor stops moving (its register gone) past the threshold in the URL", async () => {
    const browser = await theBrowser()
    const sim = await startDafSimulator({ seed: 7 })
    sim.randomChanges(12)
    let simOpen = true
    cleanups.push(async () => {
      if (simOpen) await sim.close()
    })
    const { api } = await startEngine({
      sources: [
        {
          kind: "datafordeler",
          name: "dar",
          pull: { url: sim.baseUrl, lagSeconds: 0.2, overlapSeconds: 1, pollSeconds: 0.5, maxAttempts: 2, maxBackoffSeconds: 0.2 },
          entities: { Adresse: { objectType: "dar.adresse", rest: `${sim.baseUrl}/rest/adresse?id={id}` } }
        }
      ]
    })
    await waitFor("the PULL path's cursor", async () => ((await (await fetch(`${api}/v1/sources`)).json()) as { cursors: Array<unknown> }).cursors.length > 0)
    // Changes in the register reach the shadow through the path.
    sim.randomChanges(8)
    await waitFor("rows from the register", async () => Number(/^skygge_rows (\d+)$/m.exec(await (await fetch(`${api}/metrics`)).text())?.[1] ?? 0) > 0)
    // A refused input, to be listed with its reason.
    const refused = await fetch(`${api}/v1/registrations`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: '{"op":"assert","objectType":"vej"}\n' })
    expect(refused.status).toBe(422)
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    cleanups.push(() => context.close())
    const page = await context.newPage()
    await open(page, api, "#view=operations&stuckAfter=3")
    expect(await page.getAttribute("tr[data-source='dar']", "class")).toBe("fresh")

    await sim.close()
    simOpen = false
    // The view refreshes itself: the path turns red, marked in words too, once its cursor is older than 3 s.
    const row = await page.waitForSelector("tr[data-source='dar'].stuck", { timeout: 20_000 })
    expect(await row.textContent()).toContain("STUCK")
    expect(await row.evaluate((el) => getComputedStyle(el).backgroundColor)).not.toBe("rgba(0, 0, 0, 0)")
    const age = Number(await row.getAttribute("data-age"))
    const sources = (await (await fetch(`${api}/v1/sources`)).json()) as { cursors: Array<{ source: string; ageSeconds: number }> }
    expect(sources.cursors.find((c) => c.source === "dar")!.ageSeconds).toBeGreaterThanOrEqual(age)
    expect(await page.textContent("table.refused")).toContain("objectId")
    // The engines: this one, live, holding every singleton it competes for (SQLite: one engine per file) — as /v1/cluster says.
    const cluster = (await (await fetch(`${api}/v1/cluster`)).json()) as { member: string; members: Array<{ id: string; name: string }>; singletons: Array<{ name: string; holder: string | null }> }
    const me = cluster.members.find((m) => m.id === cluster.member)!
    expect(await page.textContent(`tr[data-member='${me.name}']`)).toContain("(this one)")
    expect(await page.getAttribute(`tr[data-member='${me.name}']`, "class")).toBe("fresh")
    expect(cluster.singletons.map((x) => x.name)).toContain("datafordeler:dar:pull")
    for (const x of cluster.singletons) expect(await page.textContent(`tr[data-singleton='${x.name}']`)).toContain(me.name)
    await page.screenshot({ path: join(shots, "operations.png"), fullPage: true })
    await page.setViewportSize({ width: 390, height: 844 })
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(shots, "operations-phone.png"), fullPage: true })
  })

  it("asks for a token when the engine has tokens, sends it as a bearer header, and keeps it out of the URL and the log", async () => {
    const browser = await theBrowser()
    const read = "ui-read-token-7f3a9c", write = "ui-write-token-2b8e41"
    const { api, stderr } = await startEngine({ api: { readTokens: [read], writeTokens: [write] }, log: { level: "Debug" } })
    await register(api, workedExamples(), write)
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    cleanups.push(() => context.close())
    const page = await context.newPage()
    const authorization: Array<string> = []
    page.on("request", (r) => {
      const a = r.headers().authorization
      if (a !== undefined) authorization.push(a)
    })
    await page.goto(`${api}/ui#type=vej&id=yyyy`)
    await page.waitForSelector(".token-prompt")
    await page.screenshot({ path: join(shots, "token.png") })
    await page.fill("#token", "not-the-token")
    await page.click(".token-prompt button")
    await page.waitForSelector(".token-prompt >> text=not accepted")
    await page.fill("#token", read)
    await page.click(".token-prompt button")
    await ready(page)
    expect(await page.$$eval("svg.diagram g.row", (g) => g.length)).toBe(3)
    expect(authorization).toContain(`Bearer ${read}`)
    expect(page.url()).not.toContain(read)
    expect(stderr.join("")).not.toContain(read)
  })
})

/** The screen point at the middle of a row's rectangle as drawn. */
const centre = async (page: Page, rowId: number): Promise<[number, number]> => {
  const box = (await (await page.$(`svg.diagram g.row[data-row-id='${rowId}'] rect.fill`))!.boundingBox())!
  return [box.x + box.width / 2, box.y + box.height / 2]
}
