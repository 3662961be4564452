/**
 * The elements of the arrays in a JSON document, streamed: a top-level array
 * `[{…}, {…}]`, or an object of arrays as Datafordeler's file downloads are
 * (`{"AdresseList": [{…}, …], "HusnummerList": [{…}, …]}`). Each element's
 * text is cut out and parsed on its own, so a file of gigabytes is read in
 * constant memory. Other values of the object are skipped. An element over
 * `maxElementBytes` is reported, not kept. A document that is not an array or
 * an object (a zip, an HTML page) or has a malformed key is reported `fatal`
 * and read no further: nothing after it can be trusted.
 *
 * `wholeArray` is for a service's answer, which is used whole or not at all:
 * anything but one complete top-level array (another root, a body cut off
 * before its end — even one whose HTTP answer was complete —, an empty body)
 * throws NotWholeArray instead of being reported, so that a reader never takes
 * part of an answer, or none, for all of it.
 */
import { parseJson } from "../domain/core/Json.js"

export class NotWholeArray extends Error {}

export type JsonElement =
  | { readonly _tag: "Element"; readonly list: string | null; readonly index: number; readonly value: unknown }
  | { readonly _tag: "Bad"; readonly list: string | null; readonly index: number; readonly reason: string; readonly fatal?: true }

export async function* jsonElements(
  chunks: AsyncIterable<Uint8Array>,
  options: { readonly maxElementBytes: number; readonly progress?: { bytes: number }; readonly wholeArray?: boolean }
): AsyncGenerator<JsonElement> {
  const decoder = new TextDecoder("utf-8")
  // Where we are: depth 0 outside everything; the document's own container is depth 1.
  let depth = 0
  let rootIsArray: boolean | undefined
  let inString = false, escaped = false
  let key = "" // the last string seen at depth 1 (a key of the root object)
  let keyText: Array<string> | undefined
  let list: string | null = null // the array being read, when inside one
  let listDepth = -1
  let element: Array<string> | undefined, elementSize = 0, tooLong = false
  let index = 0
  let stopped = false
  const fatal = (reason: string): JsonElement => {
    if (options.wholeArray === true) throw new NotWholeArray(`the answer is not a whole JSON array: ${reason}`)
    stopped = true
    return { _tag: "Bad", list, index: index++, reason, fatal: true }
  }

  const finishElement = function* (): Generator<JsonElement> {
    if (element === undefined) return
    const text = element.join("")
    element = undefined
    const i = index++
    if (tooLong) {
      tooLong = false
      yield { _tag: "Bad", list, index: i, reason: `element is over ${options.maxElementBytes} bytes` }
      return
    }
    const json = parseJson(text)
    yield json.malformed === undefined ? { _tag: "Element", list, index: i, value: json.value } : { _tag: "Bad", list, index: i, reason: json.malformed }
  }

  const consume = function* (text: string): Generator<JsonElement> {
    let start = element !== undefined ? 0 : -1 // where the current element's text starts in this chunk
    const keep = (end: number) => {
      if (element === undefined || start < 0) return
      const part = text.slice(start, end)
      elementSize += part.length
      if (elementSize > options.maxElementBytes) {
        tooLong = true
        element.length = 0
      } else if (!tooLong) element.push(part)
    }
    let backslashAt = -2 // not yet looked for in this chunk; -1: there is none
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!
      if (inString) {
        if (escaped) {
          escaped = false
          continue
        }
        if (c !== "\\" && c !== '"') {
          // Skip to the next quote or backslash natively: strings are most of the bytes.
          const q = text.indexOf('"', i)
          // The next backslash is remembered for the chunk (searching it per string would be quadratic).
          if (backslashAt !== -1 && backslashAt < i) backslashAt = text.indexOf("\\", i)
          const b = backslashAt
          const next = q < 0 ? b : b < 0 ? q : Math.min(q, b)
          if (next < 0) {
            i = text.length - 1
            continue
          }
          i = next - 1
          continue
        }
        if (c === "\\") escaped = true
        else if (c === '"') {
          inString = false
          if (keyText !== undefined) {
            const raw = keyText.join("") + text.slice(keyStart, i)
            keyText = undefined
            try {
              key = JSON.parse(`"${raw}"`) as string
            } catch (e) {
              yield fatal(`malformed key ${JSON.stringify(raw.slice(0, 40))} of the document: ${(e as Error).message}`)
              return
            }
          }
        }
        continue
      }
      // Outside the document only whitespace: anything else is not JSON of arrays (e.g. a zip read by mistake).
      if (depth === 0 && c !== "{" && c !== "[") {
        if (/\s/.test(c)) continue
        yield fatal(`not a JSON array or object: ${rootIsArray === undefined ? "it starts" : "the document goes on"} with ${JSON.stringify(c)}`)
        return
      }
      // A scalar in a list (a string, a number, true, …) is not a row: reported once, skipped to its end.
      if (listDepth > 0 && depth === listDepth && element === undefined && c !== "{" && c !== "[" && c !== "]") {
        if (c === ",") scalar = false
        else if (!scalar && !/\s/.test(c)) {
          scalar = true
          yield { _tag: "Bad", list, index: index++, reason: "element is not an object" }
        }
      }
      if (c === '"') {
        inString = true
        if (depth === 1 && rootIsArray === false && element === undefined) {
          keyText = []
          keyStart = i + 1
        }
        continue
      }
      if (c === "{" || c === "[") {
        if (depth === 0) {
          rootIsArray = c === "["
          if (!rootIsArray && options.wholeArray === true) throw new NotWholeArray("the answer is not a whole JSON array: it is an object")
        }
        depth++
        // An array directly under the root (or the root array itself) holds the elements.
        if (c === "[" && list === null && listDepth < 0 && ((depth === 1 && rootIsArray) || (depth === 2 && rootIsArray === false))) {
          listDepth = depth
          list = depth === 1 ? null : key
          continue
        }
        if (listDepth > 0 && depth === listDepth + 1 && element === undefined) {
          element = []
          elementSize = 0
          start = i
        }
        continue
      }
      if (c === "}" || c === "]") {
        if (listDepth > 0 && depth === listDepth + 1 && element !== undefined) {
          keep(i + 1)
          start = -1
          yield* finishElement()
          depth--
          continue
        }
        if (depth === listDepth) {
          listDepth = -1
          list = null
          scalar = false
        }
        depth--
        continue
      }
    }
    if (keyText !== undefined) {
      keyText.push(text.slice(keyStart))
      keyStart = 0
    }
    keep(text.length)
  }

  let keyStart = 0
  let scalar = false
  for await (const chunk of chunks) {
    if (options.progress) options.progress.bytes += chunk.byteLength
    yield* consume(decoder.decode(chunk, { stream: true }))
    if (stopped) return
  }
  yield* consume(decoder.decode())
  if (stopped) return
  if (options.wholeArray === true && (depth !== 0 || inString || rootIsArray !== true)) {
    throw new NotWholeArray(`the answer is not a whole JSON array: ${rootIsArray === undefined ? "it is empty" : "it ends before it is complete"}`)
  }
  if (depth !== 0 || inString) yield { _tag: "Bad", list, index, reason: "the document ends before it is complete" }
}
