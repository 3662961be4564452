/**
 * JSON values walked without recursion. `JSON.parse` reads any depth, but
 * `JSON.stringify` and a recursive walk overflow the stack a few thousand
 * levels down — one hostile line would then take a whole request (or an import)
 * with it. Everything that walks a value received from outside goes through here.
 */

/** How deeply objects and arrays nest in `value` (a scalar is 0, `{}` and `[]` are 1), counted up to `limit + 1`. */
export const jsonDepth = (value: unknown, limit = Infinity): number => {
  let deepest = 0
  const stack: Array<{ readonly value: unknown; readonly depth: number }> = [{ value, depth: 0 }]
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop()!
    if (v === null || typeof v !== "object") continue
    const here = depth + 1
    if (here > deepest) {
      deepest = here
      if (deepest > limit) return deepest
    }
    const children = Array.isArray(v) ? v : Object.values(v)
    for (const child of children) if (child !== null && typeof child === "object") stack.push({ value: child, depth: here })
  }
  return deepest
}

type Frame =
  | { readonly kind: "array"; readonly holder: object; readonly items: ReadonlyArray<unknown>; i: number }
  | { readonly kind: "object"; readonly holder: object; readonly obj: Record<string, unknown>; readonly keys: ReadonlyArray<string>; i: number; written: number }

const INDEX = /^(?:0|[1-9][0-9]*)$/
const isIndex = (k: string) => INDEX.test(k) && Number(k) < 4_294_967_295

/**
 * Keys sorted as an object built from sorted keys would hold them (the order the
 * recursive canonical form has always written, so stored texts stay equal):
 * array-index keys first in numeric order, then the others sorted.
 */
const sortedKeys = (obj: object): Array<string> => {
  const keys = Object.keys(obj).sort()
  const indices = keys.filter(isIndex)
  return indices.length === 0 ? keys : [...indices.sort((a, b) => Number(a) - Number(b)), ...keys.filter((k) => !isIndex(k))]
}

/** A value as JSON.stringify sees it: its `toJSON(key)` when it has one (a Date, say). */
const resolve = (v: unknown, key: string): unknown =>
  v !== null && (typeof v === "object" || typeof v === "bigint") && typeof (v as { toJSON?: unknown }).toJSON === "function"
    ? (v as { toJSON: (k: string) => unknown }).toJSON(key)
    : v

const skipped = (v: unknown) => v === undefined || typeof v === "function" || typeof v === "symbol"

/**
 * `JSON.stringify(value)` (no replacer, no indent) at any depth, with object
 * keys sorted when `sortKeys`. Same output, same `undefined` for an unserialisable
 * top level, same TypeError on a cycle or a BigInt.
 */
export const stringifyJson = (value: unknown, sortKeys = false): string | undefined => {
  const out: Array<string> = []
  const stack: Array<Frame> = []
  const ancestors = new Set<object>()

  /** Write a value (its toJSON already applied): a scalar, or open a container (pushing its frame). */
  const write = (v: unknown): void => {
    if (v === null) return void out.push("null")
    switch (typeof v) {
      case "string":
        return void out.push(JSON.stringify(v))
      case "number":
      case "boolean":
        return void out.push(JSON.stringify(v))
      case "bigint":
        throw new TypeError("Do not know how to serialize a BigInt")
      case "object": {
        if (v instanceof Number || v instanceof String || v instanceof Boolean) return void out.push(JSON.stringify(v))
        if (ancestors.has(v)) throw new TypeError("Converting circular structure to JSON")
        ancestors.add(v)
        if (Array.isArray(v)) {
          out.push("[")
          stack.push({ kind: "array", holder: v, items: v, i: 0 })
        } else {
          const obj = v as Record<string, unknown>
          const keys = sortKeys ? sortedKeys(obj) : Object.keys(obj)
          out.push("{")
          stack.push({ kind: "object", holder: v, obj, keys, i: 0, written: 0 })
        }
        return
      }
      default:
        return void out.push("null") // undefined, a function or a symbol in an array
    }
  }

  const first = resolve(value, "")
  if (skipped(first)) return undefined
  write(first)
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!
    if (frame.kind === "array") {
      if (frame.i === frame.items.length) {
        out.push("]")
        ancestors.delete(frame.holder)
        stack.pop()
        continue
      }
      const i = frame.i++
      if (i > 0) out.push(",")
      write(resolve(frame.items[i], String(i)))
    } else {
      if (frame.i === frame.keys.length) {
        out.push("}")
        ancestors.delete(frame.holder)
        stack.pop()
        continue
      }
      const key = frame.keys[frame.i++]!
      const v = resolve(frame.obj[key], key)
      if (skipped(v)) continue
      if (frame.written++ > 0) out.push(",")
      out.push(JSON.stringify(key), ":")
      write(v)
    }
  }
  return out.join("")
}

/** A JSON object (not an array, not null). */
export const isJsonObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** The value at a dotted path (`a.b.c`) through nested objects; undefined where the path leads nowhere. */
export const getPath = (value: unknown, path: string): unknown => {
  if (!path.includes(".")) return isJsonObject(value) ? value[path] : undefined
  let cur = value
  for (const part of path.split(".")) {
    if (!isJsonObject(cur)) return undefined
    cur = cur[part]
  }
  return cur
}

/**
 * Set a key as an own property. A plain assignment to "__proto__" (a key
 * `JSON.parse` makes an own property) would set the prototype and lose the
 * value; objects without a prototype would avoid that but are slower to build
 * and to stringify (V8 keeps them as dictionaries), and this is a hot path.
 */
export const setOwn = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

/** `JSON.parse` of untrusted text: its value, or why it is not JSON ("malformed JSON: …", the parser's own words). */
export type ParsedJson = { readonly value: unknown; readonly malformed?: undefined } | { readonly malformed: string }

/** `Error` with V8's `stackTraceLimit` (typed by @types/node, which the page's own type check does not load). */
const V8Error = Error as ErrorConstructor & { stackTraceLimit: number }

/**
 * Its exception is made without a stack trace: capturing one was most of refusing a junk line
 * (4.1 → 1.4 µs a line), and a request or an import may hold millions of them.
 */
export const parseJson = (text: string): ParsedJson => {
  const limit = V8Error.stackTraceLimit
  V8Error.stackTraceLimit = 0
  try {
    return { value: JSON.parse(text) as unknown }
  } catch (e) {
    return { malformed: `malformed JSON: ${(e as Error).message}` }
  } finally {
    V8Error.stackTraceLimit = limit
  }
}
