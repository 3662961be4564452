/** Small helpers for building the page's elements (no framework): text is always set as text, never as HTML. */
type Child = Node | string | null | undefined | false

export const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: ReadonlyArray<Child | ReadonlyArray<Child>>
): HTMLElementTagNameMap[K] => {
  const el = document.createElement(tag)
  setAttrs(el, attrs)
  append(el, children)
  return el
}

const SVG_NS = "http://www.w3.org/2000/svg"

export const s = <K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: ReadonlyArray<Child | ReadonlyArray<Child>>
): SVGElementTagNameMap[K] => {
  const el = document.createElementNS(SVG_NS, tag)
  setAttrs(el, attrs)
  append(el, children)
  return el
}

const setAttrs = (el: Element, attrs: Record<string, string | number | boolean | undefined>) => {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    el.setAttribute(k, v === true ? "" : String(v))
  }
}

const append = (el: Element, children: ReadonlyArray<Child | ReadonlyArray<Child>>) => {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    el.append(typeof c === "string" ? document.createTextNode(c) : c)
  }
}

/** Replace an element's content. */
export const fill = (el: Element, ...children: ReadonlyArray<Child | ReadonlyArray<Child>>) => {
  el.replaceChildren()
  append(el, children)
}

/** A labelled text input (the label is the accessible name). */
export const field = (label: string, name: string, value: string, attrs: Record<string, string | number | boolean | undefined> = {}) => {
  const input = h("input", { name, id: `f-${name}`, value, autocomplete: "off", spellcheck: "false", ...attrs })
  return { input, el: h("label", { for: `f-${name}`, class: "field" }, h("span", {}, label), input) }
}

/** Open ends and instants as the tables of the documentation write them: `–` for open, the date alone at midnight. */
export const showInstant = (instant: string | null): string =>
  instant === null ? "–" : instant.endsWith("T00:00:00.000000Z") ? instant.slice(0, 10) : instant.replace("T", " ").replace(/\.000000Z$/, "Z")

export const compactJson = (value: unknown): string => {
  const text = JSON.stringify(value)
  return text === undefined ? "" : text
}

/** A human age: 42 s, 5 min, 3 h 10 min, 2 d 4 h. */
export const showAge = (seconds: number): string => {
  if (seconds < 60) return `${Math.round(seconds)} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`
}

/** Save a blob as a file (the page fetched it with the token, so a plain link would not do). */
export const saveBlob = (blob: Blob, filename: string) => {
  const url = URL.createObjectURL(blob)
  const a = h("a", { href: url, download: filename })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** A query form: labelled fields and a submit button; `onSubmit` runs instead of a page load. */
export const queryForm = (label: string, fields: ReadonlyArray<Node>, onSubmit: () => void, button = "Show") => {
  const form = h("form", { class: "query", "aria-label": label }, fields, h("button", { type: "submit" }, button))
  form.addEventListener("submit", (e) => {
    e.preventDefault()
    onSubmit()
  })
  return form
}

/** A titled section of a view. */
export const section = (title: string, ...content: ReadonlyArray<Node>) => h("section", {}, h("h2", {}, title), content)

/** A wide table scrolls within itself on a narrow screen, so the page does not. */
export const scrolling = (table: HTMLTableElement) => h("div", { class: "table-scroll" }, table)

/** A table with a caption, or a line saying it is empty. */
export const dataTable = (caption: string, columns: ReadonlyArray<string>, rows: ReadonlyArray<HTMLTableRowElement>, cls: string, empty: string) =>
  rows.length === 0
    ? h("p", { class: `hint ${cls}` }, empty)
    : scrolling(h("table", { class: cls }, h("caption", {}, caption), h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)))

export const td = (text: string, cls?: string) => h("td", { class: cls }, text)
