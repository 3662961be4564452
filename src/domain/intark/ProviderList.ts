/**
 * One page of a provider's list endpoint, as the object pointers it holds.
 * FS-API answers with a collection envelope (`items[]`, each with `id.href`
 * or `href`, and `next.href` when there is more); other providers give a bare
 * array. Only pointers are taken: each object is fetched on its own, through
 * the same path as a notification, so a full load and a change agree.
 */
import { resourceAndId } from "./ChangeHint.js"

export interface ListedObject {
  readonly id: string
  /** The item's own URL, when it has one (fetched instead of the template when it is under the provider's base URL). */
  readonly location: string | null
  /** The list item itself (FS `fields=*` lists carry the whole entity). */
  readonly item: unknown
}

export interface ListPage {
  readonly objects: ReadonlyArray<ListedObject>
  /** Items without a recognisable pointer (counted, not guessed). */
  readonly unrecognised: number
  /** The next page's URL, when the envelope names one. */
  readonly next: string | null
}

const hrefOf = (item: unknown): string | undefined => {
  if (item === null || typeof item !== "object") return typeof item === "string" ? item : undefined
  const record = item as Record<string, unknown>
  const id = record.id
  if (id !== null && typeof id === "object" && typeof (id as Record<string, unknown>).href === "string") return (id as Record<string, string>).href
  if (typeof record.href === "string") return record.href
  return undefined
}

/** The pointers on one list page. `idField` names a plain id field for providers without hrefs. */
export const listPage = (body: unknown, idField?: string): ListPage => {
  const envelope = body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined
  const items = Array.isArray(body) ? body : Array.isArray(envelope?.items) ? (envelope.items as Array<unknown>) : []
  const objects: Array<ListedObject> = []
  let unrecognised = 0
  for (const item of items) {
    const plain = idField !== undefined && item !== null && typeof item === "object" ? (item as Record<string, unknown>)[idField] : undefined
    if (typeof plain === "string" || typeof plain === "number") {
      objects.push({ id: String(plain), location: null, item })
      continue
    }
    const href = hrefOf(item)
    const ref = href === undefined ? undefined : resourceAndId(href)
    if (ref === undefined) unrecognised++
    else objects.push({ id: ref[1], location: href!, item })
  }
  const next = envelope?.next
  const nextHref: string | null = next !== null && typeof next === "object" ? (hrefOf(next) ?? null) : null
  return { objects, unrecognised, next: items.length === 0 ? null : nextHref }
}
