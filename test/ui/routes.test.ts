/**
 * How the engine serves the time-travel page, over HTTP without a browser: `/` links it, `/ui` is a shell
 * that loads only this origin's script and style sheet (and says so in its Content-Security-Policy), no
 * token is needed for the shell while the API behind it keeps its tokens, a wrong method answers 405, and
 * each request is counted under the `ui` label.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer } from "../support/server.js"

describe("the page's routes", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ api: { readTokens: ["routes-read-token"] } })
  })
  afterAll(() => server.close())

  it("serves the shell, its script and its style sheet from this origin only; the API still needs its token", async () => {
    const index = await fetch(`${server.baseUrl}/`)
    expect(index.status).toBe(200)
    expect(await index.text()).toContain('href="/ui"')

    const shell = await fetch(`${server.baseUrl}/ui`)
    expect(shell.status).toBe(200)
    expect(shell.headers.get("content-type")).toContain("text/html")
    expect(shell.headers.get("content-security-policy")).toContain("default-src 'none'; script-src 'self'")
    expect(shell.headers.get("referrer-policy")).toBe("no-referrer")
    const html = await shell.text()
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    expect(sources.filter((u) => !u.startsWith("#"))).toEqual(["data:,", "/ui/page.css", "/ui/page.js", "/docs"])
    expect(html).not.toMatch(/<script>|<style>/) // nothing inline

    const script = await fetch(`${server.baseUrl}/ui/page.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get("content-type")).toContain("text/javascript")
    const js = await script.text()
    expect(js).toContain("/v1/objects/")
    expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/) // no address elsewhere but the SVG namespace
    const css = await fetch(`${server.baseUrl}/ui/page.css`)
    expect(css.headers.get("content-type")).toContain("text/css")
    expect(await css.text()).not.toMatch(/@import|url\(\s*["']?https?:/)

    expect((await fetch(`${server.baseUrl}/v1/sources`)).status).toBe(401)
    expect((await fetch(`${server.baseUrl}/v1/sources`, { headers: { authorization: "Bearer routes-read-token" } })).status).toBe(200)
  })

  it("answers another method with 405 and counts the page's requests under `ui`", async () => {
    const post = await fetch(`${server.baseUrl}/ui`, { method: "POST" })
    expect(post.status).toBe(405)
    expect(post.headers.get("allow")).toBe("GET, HEAD")
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text()
    expect(metrics).toMatch(/skygge_http_requests_total\{route="ui",status="200"\} [1-9]/)
    expect(metrics).toMatch(/skygge_http_requests_total\{route="ui",status="405"\} 1/)
  })
})
