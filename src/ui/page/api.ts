/**
 * The page's only way to the register: the engine's own API, with `Authorization: Bearer <token>` when the
 * user gave one. The token lives in this tab's sessionStorage (gone when the tab closes), never in a URL,
 * never logged. A 401 asks for it and the call is tried again.
 */
import { fill, h } from "./dom.js"

const KEY = "skygge.token"

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

const token = (): string | null => sessionStorage.getItem(KEY)

export const forgetToken = () => sessionStorage.removeItem(KEY)
export const hasToken = () => token() !== null

let pending: Promise<void> | undefined

/** Show the token form and resolve once a token is entered. One prompt at a time, however many calls wait for it. */
const askToken = (reason: string): Promise<void> => {
  pending ??= new Promise<void>((resolve) => {
    const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true })
    const dialog = h(
      "div",
      { class: "token-prompt", role: "dialog", "aria-modal": "true", "aria-labelledby": "token-title" },
      h(
        "form",
        {},
        h("h2", { id: "token-title" }, "A token is needed"),
        h("p", {}, reason),
        h("label", { for: "token" }, "Bearer token (read or write scope)"),
        input,
        h("p", { class: "hint" }, "Kept in this tab only (sessionStorage), sent as an Authorization header, never in the address."),
        h("button", { type: "submit" }, "Use this token")
      )
    )
    dialog.querySelector("form")!.addEventListener("submit", (e) => {
      e.preventDefault()
      sessionStorage.setItem(KEY, input.value.trim())
      dialog.remove()
      pending = undefined
      resolve()
    })
    document.body.append(dialog)
    input.focus()
  })
  return pending
}

const errorMessage = async (res: Response): Promise<string> => {
  const text = await res.text()
  try {
    const body = JSON.parse(text) as { message?: unknown }
    if (typeof body.message === "string") return body.message
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || res.statusText
}

/** GET a path of this engine; 401 prompts for a token and tries again. */
export const get = async (path: string, accept = "application/json"): Promise<Response> => {
  for (let attempt = 0; ; attempt++) {
    const t = token()
    const res = await fetch(path, { headers: { accept, ...(t === null ? {} : { authorization: `Bearer ${t}` }) }, cache: "no-store", credentials: "omit" })
    if (res.status === 401 && attempt < 5) {
      const message = await errorMessage(res)
      await askToken(t === null ? "This engine has tokens configured." : `The token was not accepted: ${message}`)
      continue
    }
    if (!res.ok) throw new ApiError(res.status, await errorMessage(res))
    return res
  }
}

export const getJson = async <A>(path: string): Promise<A> => (await get(path)).json() as Promise<A>

/** Query string from defined, non-empty values. */
export const query = (params: Record<string, string | number | undefined>): string => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v))
  const text = q.toString()
  return text === "" ? "" : `?${text}`
}

/** An error shown where the data would have been. */
export const showError = (el: Element, e: unknown) =>
  fill(el, h("p", { class: "error", role: "alert" }, e instanceof ApiError ? `${e.status}: ${e.message}` : `Failed: ${String(e)}`))

export const enc = encodeURIComponent
