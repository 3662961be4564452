/**
 * What the page shows, as a URL a colleague can open: the view, the object, the instant pair (or the two
 * instants of a change window), the type and paging position, and the operations view's stuck threshold.
 * Kept in the URL's hash, so it never reaches a server log, and parsed here purely (tested without a browser).
 * Never holds the token.
 */
export const VIEWS = ["object", "type", "changes", "operations"] as const
export type View = (typeof VIEWS)[number]

export interface UiState {
  readonly view: View
  readonly objectType: string
  readonly objectId: string
  /** The instant pair (object and type views); empty: now. */
  readonly registreringstid: string
  readonly virkningstid: string
  /** The change window (changes view); `until` empty: now. */
  readonly since: string
  readonly until: string
  /** Type view: the search (an objectId to start from) and the page's `after`. */
  readonly after: string
  readonly scale: "time" | "even"
  /** Operations: a cursor older than this many seconds is shown as stuck. */
  readonly stuckAfter: number
}

export const DEFAULT_STUCK_AFTER = 600

export const EMPTY: UiState = {
  view: "object",
  objectType: "",
  objectId: "",
  registreringstid: "",
  virkningstid: "",
  since: "",
  until: "",
  after: "",
  scale: "time",
  stuckAfter: DEFAULT_STUCK_AFTER
}

const KEYS: ReadonlyArray<[keyof UiState, string]> = [
  ["view", "view"],
  ["objectType", "type"],
  ["objectId", "id"],
  ["registreringstid", "registreringstid"],
  ["virkningstid", "virkningstid"],
  ["since", "since"],
  ["until", "until"],
  ["after", "after"],
  ["scale", "scale"],
  ["stuckAfter", "stuckAfter"]
]

/** `#view=object&type=vej&id=yyyy&…` → state (unknown or malformed values fall back to the defaults). */
export const parseState = (hash: string): UiState => {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash)
  const get = (name: string) => params.get(name) ?? ""
  const view = get("view")
  const stuck = Number(get("stuckAfter"))
  return {
    view: (VIEWS as ReadonlyArray<string>).includes(view) ? (view as View) : EMPTY.view,
    objectType: get("type"),
    objectId: get("id"),
    registreringstid: get("registreringstid"),
    virkningstid: get("virkningstid"),
    since: get("since"),
    until: get("until"),
    after: get("after"),
    scale: get("scale") === "even" ? "even" : "time",
    stuckAfter: /^\d+(\.\d+)?$/.test(get("stuckAfter")) && stuck > 0 ? stuck : DEFAULT_STUCK_AFTER
  }
}

/** State → `#…`, leaving out what equals the default. */
export const formatState = (state: UiState): string => {
  const params = new URLSearchParams()
  for (const [field, name] of KEYS) {
    const value = state[field]
    if (value !== EMPTY[field]) params.set(name, String(value))
  }
  const text = params.toString()
  return text === "" ? "" : `#${text}`
}
