/**
 * The time-travel page, served by the engine itself on the API's port: `/ui` (the page's shell), its
 * script and style sheet (built from src/ui/page by scripts/build.mjs into dist/ui), and `/`, which links
 * it and the API's documentation. The shell holds no register data and needs no token (as `/docs`); every
 * row the page shows comes from the API, with the token the user typed, under the API's own checks.
 * Nothing is loaded from elsewhere, and the Content-Security-Policy says so to the browser too.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { readFile } from "node:fs/promises"
import { inProject } from "../ProjectRoot.js"

/** Only this origin; no inline script; no framing; no referrer (the hash holds the object asked about). */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache"
}

const SHELL = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>skygge — time travel</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/page.css">
<script src="/ui/page.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<noscript><p>The time-travel page needs JavaScript (served by this engine, nothing from elsewhere). The API is described at <a href="/docs">/docs</a>.</p></noscript>
<div id="app"></div>
</body>
</html>
`

const INDEX = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>skygge</title><link rel="icon" href="data:,"></head>
<body>
<h1>skygge</h1>
<p>A bitemporal shadow register.</p>
<ul>
<li><a href="/ui">The time-travel page</a>: an object's history as a picture, snapshots, changes, operations</li>
<li><a href="/docs">The HTTP API</a> (OpenAPI document at <a href="/docs/openapi.json">/docs/openapi.json</a>)</li>
</ul>
</body>
</html>
`

/** The paths served here, for the metric label and the 405 answer (Routes.ts). */
export const UI_PATHS = ["/", "/ui", "/ui/page.js", "/ui/page.css"] as const

const html = (body: string) => Effect.succeed(HttpServerResponse.text(body, { contentType: "text/html; charset=utf-8", headers: SECURITY_HEADERS }))

/** A built asset, read when asked (a rebuild needs no restart); a missing build answers 503 saying how to make it. */
const asset = (file: string, contentType: string) =>
  Effect.tryPromise(() => readFile(inProject("dist", "ui", file))).pipe(
    Effect.map((body) => HttpServerResponse.uint8Array(body, { contentType, headers: SECURITY_HEADERS })),
    Effect.orElseSucceed(() =>
      HttpServerResponse.text(`dist/ui/${file} is missing: build the page with \`npm run build\` (npm ci does it)\n`, { status: 503, contentType: "text/plain; charset=utf-8" })
    )
  )

/** Mounted beside the API on its router (as the Swagger page is). */
export const UiLive = HttpApiBuilder.Router.use((router) =>
  Effect.all([
    router.get("/", html(INDEX)),
    router.get("/ui", html(SHELL)),
    router.get("/ui/page.js", asset("page.js", "text/javascript; charset=utf-8")),
    router.get("/ui/page.css", asset("page.css", "text/css; charset=utf-8"))
  ])
)
