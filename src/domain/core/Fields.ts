/**
 * Minimisation (GDPR art. 5(1)(c)): a shadow stores only the fields of a
 * provider's object it needs. Per IntArk resource and per Datafordeler entity,
 * `fields` names what to keep (`{"keep": ["navn", "adresse.postnummer"]}`) or
 * what to drop (`{"drop": ["fodselsnummer"]}`), as dotted paths into nested
 * objects. This one function is applied wherever data is built before it is
 * stored — a fetched state, a full load or list load, a dump (`import-extract`),
 * a mirrored row (REST, GraphQL, PULL inline rows, file downloads) — and by
 * `skygge minimise`, which rewrites what was stored before the setting.
 *
 * Rules:
 * - A path step into an array applies to each element (`adresser.gate` drops or
 *   keeps `gate` in every address); arrays of arrays likewise.
 * - `keep` builds a new value holding only the kept paths; a kept object keeps
 *   all of it. `drop` removes the paths and keeps the rest. An absent path is
 *   no error: it names nothing to keep or to drop.
 * - `always` paths (the engine's bookkeeping: a row's id and identity fields)
 *   are kept whatever the filter says.
 * - A top-level value that is not an object or an array is returned as it is.
 * - A field whose own name holds a dot cannot be named; keep its parent whole, or drop it.
 *
 * Only the paths are walked (the recursion is as deep as a path is long, plus
 * arrays nested in arrays, capped): untouched subtrees are shared, not copied.
 */
import { setOwn } from "./Json.js"

export type FieldFilter = { readonly keep: ReadonlyArray<string> } | { readonly drop: ReadonlyArray<string> }

/** Arrays nested in arrays deeper than this under a filtered path are removed (a hostile value cannot overflow the stack). */
const MAX_ARRAY_NESTING = 256

interface Tree {
  /** This path ends here: the whole value is kept (keep) or removed (drop). */
  whole: boolean
  readonly children: Map<string, Tree>
}

const tree = (paths: ReadonlyArray<string>): Tree => {
  const root: Tree = { whole: false, children: new Map() }
  for (const path of paths) {
    let node = root
    for (const step of path.split(".")) {
      let next = node.children.get(step)
      if (next === undefined) node.children.set(step, (next = { whole: false, children: new Map() }))
      node = next
    }
    node.whole = true
  }
  return root
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** `undefined`: nothing kept. */
const keepIn = (value: unknown, node: Tree, nesting: number): unknown => {
  if (node.whole) return value
  if (Array.isArray(value)) {
    if (nesting >= MAX_ARRAY_NESTING) return undefined
    return value.map((v) => keepIn(v, node, nesting + 1) ?? (isObject(v) ? {} : null))
  }
  if (!isObject(value)) return undefined
  const out: Record<string, unknown> = {}
  let any = false
  for (const [step, child] of node.children) {
    if (!Object.hasOwn(value, step)) continue
    const kept = keepIn(value[step], child, 0)
    if (kept !== undefined) {
      setOwn(out, step, kept)
      any = true
    }
  }
  return any ? out : undefined
}

/** `undefined`: the whole value goes. */
const dropIn = (value: unknown, node: Tree, nesting: number): unknown => {
  if (node.whole) return undefined
  if (Array.isArray(value)) {
    if (nesting >= MAX_ARRAY_NESTING) return undefined
    return value.map((v) => dropIn(v, node, nesting + 1) ?? null)
  }
  if (!isObject(value)) return value
  let out: Record<string, unknown> | undefined
  for (const [step, child] of node.children) {
    if (!Object.hasOwn(value, step)) continue
    const rest = dropIn(value[step], child, 0)
    if (rest === value[step]) continue
    out ??= { ...value }
    if (rest === undefined) delete out[step]
    else setOwn(out, step, rest)
  }
  return out ?? value
}

/** Put the `always` paths of `original` back into `filtered` (both objects). */
const restore = (filtered: Record<string, unknown>, original: Record<string, unknown>, always: ReadonlyArray<string>): Record<string, unknown> => {
  const kept = keepIn(original, tree(always), 0)
  if (!isObject(kept)) return filtered
  const merge = (into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...into }
    for (const [k, v] of Object.entries(from)) setOwn(out, k, isObject(v) && isObject(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v)
    return out
  }
  return merge(filtered, kept)
}

/** `value` with only the fields `filter` allows (none given: `value` itself), `always` paths kept. */
export const minimise = (value: unknown, filter: FieldFilter | undefined, always: ReadonlyArray<string> = []): unknown => {
  if (filter === undefined) return value
  if (!isObject(value) && !Array.isArray(value)) return value
  const filtered = "keep" in filter ? keepIn(value, tree(filter.keep), 0) ?? (Array.isArray(value) ? [] : {}) : dropIn(value, tree(filter.drop), 0) ?? {}
  return always.length > 0 && isObject(value) && isObject(filtered) ? restore(filtered, value, always) : filtered
}

/** A configured path list's problems: empty paths or steps (`a..b`, `.a`). */
export const fieldPathProblem = (paths: ReadonlyArray<string>): string | undefined => {
  const bad = paths.find((p) => p.split(".").some((step) => step.length === 0))
  return bad === undefined ? undefined : `'${bad}' is not a dotted path of field names`
}
