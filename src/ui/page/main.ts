/**
 * The time-travel page's script: a header with the four views, each rendered from the URL's hash (so a URL
 * is a shareable view), re-rendered when it changes. Built by scripts/build.mjs into dist/ui/page.js.
 */
import "./style.css"
import { VIEWS, type View } from "../UiState.js"
import { forgetToken, hasToken } from "./api.js"
import { current, hrefOf } from "./app.js"
import { fill, h } from "./dom.js"
import { renderChanges } from "./changesView.js"
import { renderObject } from "./objectView.js"
import { renderOperations } from "./operationsView.js"
import { renderType } from "./typeView.js"

const TITLES: Record<View, string> = { object: "Object", type: "Type", changes: "Changes", operations: "Operations" }

const renderers: Record<View, (main: HTMLElement, state: ReturnType<typeof current>) => Promise<void>> = {
  object: renderObject,
  type: renderType,
  changes: renderChanges,
  operations: renderOperations
}

let generation = 0
/** The hash last rendered: going back fires both popstate and hashchange, and one render is enough. */
let rendered: string | undefined

const render = (force = false) => {
  if (!force && location.hash === rendered) return
  rendered = location.hash
  const state = current()
  const app = document.getElementById("app")!
  const nav = h(
    "nav",
    { "aria-label": "Views" },
    h("a", { href: "/", class: "brand" }, "skygge"),
    VIEWS.map((v) => h("a", { href: hrefOf({ view: v }), "aria-current": v === state.view ? "page" : undefined, "data-view": v }, TITLES[v])),
    hasToken() ? h("button", { type: "button", class: "forget", id: "forget-token" }, "Forget token") : null
  )
  nav.querySelector("#forget-token")?.addEventListener("click", () => {
    forgetToken()
    render(true)
  })
  const main = h("main", { id: "main", tabindex: -1, "data-view": state.view })
  fill(app, h("header", {}, nav), main)
  document.title = `skygge — ${TITLES[state.view]}${state.objectId !== "" && state.view === "object" ? ` ${state.objectType}/${state.objectId}` : ""}`
  const mine = ++generation
  void renderers[state.view](main, state).finally(() => {
    if (mine === generation) main.setAttribute("data-ready", "true")
  })
}

window.addEventListener("hashchange", () => render())
window.addEventListener("popstate", () => render())
window.addEventListener("skygge:state", () => render(true))
// The skip link moves the focus to the view (following its `#main` would replace the page's state).
document.querySelector(".skip")?.addEventListener("click", (e) => {
  e.preventDefault()
  document.getElementById("main")?.focus()
})
render()
