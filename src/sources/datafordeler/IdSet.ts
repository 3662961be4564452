/**
 * An exact set of id strings that holds most ids without a string each: a PULL page of 100,000 events
 * kept 200,000 id strings (envelope Ids, beskedIDs) in two Sets for its whole fold, each string ~56
 * bytes on the heap plus its entry, and every old-space collection marked them. Here a lowercase GUID
 * is 16 bytes and a decimal integer (up to 15 digits, no leading zero: exact as a double) 8, each in an
 * open-addressing table of typed arrays outside the heap; any other string (an uppercase GUID, "007",
 * a number too long to be exact) in a plain Set, as it came. Exact: an id is in one table only, so
 * "007" and "7", "ABC…" and "abc…" stay apart.
 */

export interface IdSet {
  has(id: string): boolean
  add(id: string): void
  readonly size: number
}

/** The value of a lowercase hex digit, or -1. */
const hexDigit = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1)

/** Writes a lowercase GUID's 128 bits into four words of `out`; false (out unspecified) for anything else. */
const guidWords = (id: string, out: Uint32Array): boolean => {
  if (id.length !== 36 || id.charCodeAt(8) !== 45 || id.charCodeAt(13) !== 45 || id.charCodeAt(18) !== 45 || id.charCodeAt(23) !== 45) return false
  let word = 0, nibbles = 0, w = 0
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue
    const d = hexDigit(id.charCodeAt(i))
    if (d < 0) return false
    word = (word << 4) | d
    if (++nibbles === 8) {
      out[w++] = word
      word = 0
      nibbles = 0
    }
  }
  return true
}

/** A decimal integer of 1–15 digits without a leading zero (so one string per value), or -1. */
const decimal = (id: string): number => {
  const n = id.length
  if (n === 0 || n > 15 || (n > 1 && id.charCodeAt(0) === 48)) return -1
  let v = 0
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

const mix = (h: number): number => Math.imul(h ^ (h >>> 16), 0x45d9f3b) ^ (h >>> 13)

const INITIAL_SLOTS = 1024
/**
 * How full a table gets before it doubles: four fifths (a page's 100,000 ids fit 131,072 slots, not 262,144).
 * A linear probe then looks at a dozen slots for an id not held: typed-array reads, cheap beside decoding it.
 */
const full = (size: number, slots: number) => size * 5 > slots * 4

/** GUIDs, four words a slot; a slot is taken when its flag is set (the all-zero GUID is a GUID). */
const guidTable = () => {
  let slots = INITIAL_SLOTS
  let words = new Uint32Array(slots * 4)
  let used = new Uint8Array(slots)
  let size = 0
  /** The slot holding `k`, or the free slot where it would go. */
  const find = (k: Uint32Array, ws: Uint32Array, us: Uint8Array, n: number): number => {
    let i = mix(k[0]! ^ mix(k[1]! ^ mix(k[2]! ^ mix(k[3]!)))) & (n - 1)
    while (us[i] === 1) {
      const at = i * 4
      if (ws[at] === k[0] && ws[at + 1] === k[1] && ws[at + 2] === k[2] && ws[at + 3] === k[3]) return i
      i = (i + 1) & (n - 1)
    }
    return i
  }
  const grow = () => {
    const old = words, oldUsed = used
    slots *= 2
    words = new Uint32Array(slots * 4)
    used = new Uint8Array(slots)
    for (let s = 0; s < oldUsed.length; s++) {
      if (oldUsed[s] !== 1) continue
      const k = old.subarray(s * 4, s * 4 + 4)
      const i = find(k, words, used, slots)
      words.set(k, i * 4)
      used[i] = 1
    }
  }
  return {
    has: (k: Uint32Array) => used[find(k, words, used, slots)] === 1,
    add: (k: Uint32Array) => {
      const i = find(k, words, used, slots)
      if (used[i] === 1) return
      words.set(k, i * 4)
      used[i] = 1
      if (full(++size, slots)) grow()
    },
    size: () => size
  }
}

/** Decimal integers (non-negative, exact doubles), one a slot; -1 marks a free slot. */
const numberTable = () => {
  let slots = INITIAL_SLOTS
  let values = new Float64Array(slots).fill(-1)
  let size = 0
  const find = (v: number, vs: Float64Array, n: number): number => {
    let i = mix((v >>> 0) ^ mix(Math.floor(v / 4294967296))) & (n - 1)
    while (vs[i] !== -1 && vs[i] !== v) i = (i + 1) & (n - 1)
    return i
  }
  const grow = () => {
    const old = values
    slots *= 2
    values = new Float64Array(slots).fill(-1)
    for (const v of old) if (v !== -1) values[find(v, values, slots)] = v
  }
  return {
    has: (v: number) => values[find(v, values, slots)] === v,
    add: (v: number) => {
      const i = find(v, values, slots)
      if (values[i] === v) return
      values[i] = v
      if (full(++size, slots)) grow()
    },
    size: () => size
  }
}

export const idSet = (): IdSet => {
  // Made on first use: a set that sees no GUIDs holds no GUID table.
  let guids: ReturnType<typeof guidTable> | undefined
  let numbers: ReturnType<typeof numberTable> | undefined
  const others = new Set<string>()
  const key = new Uint32Array(4)
  return {
    has: (id) => {
      if (guidWords(id, key)) return guids !== undefined && guids.has(key)
      const v = decimal(id)
      if (v >= 0) return numbers !== undefined && numbers.has(v)
      return others.has(id)
    },
    add: (id) => {
      if (guidWords(id, key)) (guids ??= guidTable()).add(key)
      else {
        const v = decimal(id)
        if (v >= 0) (numbers ??= numberTable()).add(v)
        else others.add(id)
      }
    },
    get size() {
      return (guids?.size() ?? 0) + (numbers?.size() ?? 0) + others.size
    }
  }
}
