/**
 * A small non-validating XML reader, enough for Datafordeler's documents
 * (legacy PULL `ArrayOfEnvelope` pages, XML event Messages, DLS deliveries).
 * No dependency, one linear scan with `indexOf` (no regex over the document).
 *
 * Read: elements, attributes, text, CDATA, the five predefined entities and
 * numeric character references. Skipped: the `<?xml …?>` declaration and other
 * processing instructions, comments, a DOCTYPE (its internal subset is not
 * interpreted, so entities it declares are refused as unknown). Namespaces are
 * not resolved: element names lose their prefix (`<ns:Envelope>` → `Envelope`),
 * `xmlns`/`xmlns:*` declarations are dropped, other attributes keep their
 * names as written (`xsi:nil`).
 */
import { setOwn } from "../core/Json.js"

export interface XmlElement {
  /** Local name: the namespace prefix is stripped. */
  readonly name: string
  /** Attributes as written, without `xmlns`/`xmlns:*`. */
  readonly attributes: Readonly<Record<string, string>>
  readonly children: ReadonlyArray<XmlElement>
  /** The element's own text and CDATA, decoded, in document order (whitespace between child elements included). */
  readonly text: string
}

/** Either the document's root element, or why the text is not well-formed XML and where. */
export type XmlParse =
  | { readonly _tag: "Parsed"; readonly root: XmlElement }
  | { readonly _tag: "Malformed"; readonly reason: string; readonly offset: number; readonly line: number; readonly column: number }

/** Deeper nesting than this is refused rather than risking the stack in `xmlToJson`; Datafordeler documents nest about 10 deep. */
export const MAX_XML_DEPTH = 1000

class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number
  ) {
    super(message)
  }
}

/** 1-based line and column of an offset: computed only when reporting an error. */
const lineAndColumn = (source: string, offset: number): { line: number; column: number } => {
  let line = 1, lineStart = 0
  for (let i = source.indexOf("\n"); i !== -1 && i < offset; i = source.indexOf("\n", i + 1)) {
    line++
    lineStart = i + 1
  }
  return { line, column: offset - lineStart + 1 }
}

const where = (source: string, offset: number): string => {
  const { line, column } = lineAndColumn(source, offset)
  return `line ${line}, column ${column}`
}

const PREDEFINED: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }

const isWhitespace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d

/** A name ends at whitespace, `/`, `>`, `=`, or a quote; `<` cannot occur in one. */
const isNameEnd = (c: number) => isWhitespace(c) || c === 0x2f || c === 0x3e || c === 0x3d || c === 0x22 || c === 0x27 || c === 0x3c

const localName = (qualified: string): string => {
  const colon = qualified.indexOf(":")
  return colon === -1 ? qualified : qualified.slice(colon + 1)
}

const isAllWhitespace = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (!isWhitespace(s.charCodeAt(i))) return false
  return true
}

// Most elements have no attributes and many no children: they share these instead of allocating their own.
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({})
const NO_CHILDREN: ReadonlyArray<XmlElement> = Object.freeze([])

interface OpenElement {
  readonly qualifiedName: string
  readonly openedAt: number
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  children: Array<XmlElement> | null
  text: string
}

export interface XmlParseOptions {
  /**
   * Hands each child of the root to the caller as soon as it is closed, instead of keeping it in the root's
   * `children`: a list document (a PULL page of 100,000 envelopes) is then never held as a whole tree.
   * The document is still checked to its end; a later syntax error still makes the result `Malformed`.
   */
  readonly onChildOfRoot?: (element: XmlElement) => void
}

/** Parses a whole document. Never throws on bad input: a syntax error comes back as `Malformed` with its line and column. */
export const parseXml = (source: string, options: XmlParseOptions = {}): XmlParse => {
  try {
    return { _tag: "Parsed", root: parseDocument(source, options.onChildOfRoot) }
  } catch (e) {
    if (!(e instanceof XmlSyntaxError)) throw e
    const { line, column } = lineAndColumn(source, e.offset)
    return { _tag: "Malformed", reason: `${e.message} at line ${line}, column ${column}`, offset: e.offset, line, column }
  }
}

const parseDocument = (source: string, onChildOfRoot: ((element: XmlElement) => void) | undefined): XmlElement => {
  const length = source.length
  const stack: Array<OpenElement> = []
  let root: XmlElement | undefined
  // A byte-order mark is not content.
  let pos = source.charCodeAt(0) === 0xfeff ? 1 : 0

  /**
   * Decodes entity and character references in `raw` (found at `start`, for errors) and reads CRLF or a lone CR
   * as LF (XML §2.11). In an attribute, literal line ends and tabs become spaces first (§3.3.3), so `&#10;` stays
   * a line feed. Jumps from '&' to '&' with indexOf: escaped XML Messages are dense with entities.
   */
  const decode = (raw: string, start: number, attribute: boolean): string => {
    const text = attribute && /[\t\n\r]/.test(raw) ? raw.replace(/\r\n?|[\t\n]/g, " ") : raw
    let amp = text.indexOf("&")
    let cr = text.indexOf("\r")
    if (amp === -1 && cr === -1) return text
    let out = ""
    let from = 0
    while (amp !== -1 || cr !== -1) {
      if (cr === -1 || (amp !== -1 && amp < cr)) {
        const semicolon = text.indexOf(";", amp + 1)
        // Entity names are short; a far-away ';' means this '&' was never an entity.
        if (semicolon === -1 || semicolon - amp > 12) throw new XmlSyntaxError("bare '&' (write '&amp;') or an unterminated entity", start + amp)
        out += text.slice(from, amp) + entityText(text, amp, semicolon, start + amp)
        from = semicolon + 1
        amp = text.indexOf("&", from)
        if (cr !== -1 && cr < from) cr = text.indexOf("\r", from)
      } else {
        out += text.slice(from, cr) + "\n"
        from = text.charCodeAt(cr + 1) === 0x0a ? cr + 2 : cr + 1
        cr = text.indexOf("\r", from)
      }
    }
    return out + text.slice(from)
  }

  /** The predefined entities are checked in place (no substring per reference); anything else goes to `resolveEntity`. */
  const entityText = (text: string, amp: number, semicolon: number, at: number): string => {
    switch (semicolon - amp) {
      case 3:
        if (text.charCodeAt(amp + 2) === 0x74) {
          const first = text.charCodeAt(amp + 1)
          if (first === 0x6c) return "<"
          if (first === 0x67) return ">"
        }
        break
      case 4:
        if (text.startsWith("amp", amp + 1)) return "&"
        break
      case 5:
        if (text.startsWith("quot", amp + 1)) return '"'
        if (text.startsWith("apos", amp + 1)) return "'"
        break
    }
    return resolveEntity(text.slice(amp + 1, semicolon), at)
  }

  const resolveEntity = (name: string, at: number): string => {
    const predefined = PREDEFINED[name]
    if (predefined !== undefined) return predefined
    if (name.charCodeAt(0) === 0x23) {
      const hex = name.charCodeAt(1) === 0x78
      const digits = name.slice(hex ? 2 : 1)
      const valid = digits.length > 0 && (hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)
      const code = valid ? parseInt(digits, hex ? 16 : 10) : NaN
      const allowed = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff)
      if (!allowed) throw new XmlSyntaxError(`invalid character reference '&${name};'`, at)
      return String.fromCodePoint(code)
    }
    throw new XmlSyntaxError(`unknown entity '&${name};' (only &lt; &gt; &amp; &quot; &apos; and &#…; are known)`, at)
  }

  const appendText = (text: string, at: number) => {
    const top = stack[stack.length - 1]
    if (top !== undefined) top.text += text
    else if (!isAllWhitespace(text)) throw new XmlSyntaxError(root === undefined ? "text before the root element" : "text after the root element", at)
  }

  const readName = (start: number, what: string): number => {
    let i = start
    while (i < length && !isNameEnd(source.charCodeAt(i))) i++
    if (i === start) throw new XmlSyntaxError(i >= length ? `end of document where ${what} was expected` : `expected ${what}, found '${source[i]}'`, start)
    return i
  }

  /** Attaches a closed element to its parent (or hands it over), or makes it the root. */
  const closed = (element: XmlElement) => {
    const parent = stack[stack.length - 1]
    if (parent === undefined) root = element
    else if (stack.length === 1 && onChildOfRoot !== undefined) onChildOfRoot(element)
    else if (parent.children === null) parent.children = [element]
    else parent.children.push(element)
  }

  const skipWhitespace = (start: number): number => {
    let i = start
    while (i < length && isWhitespace(source.charCodeAt(i))) i++
    return i
  }

  while (pos < length) {
    const lt = source.indexOf("<", pos)
    if (lt === -1) {
      appendText(decode(source.slice(pos), pos, false), pos)
      break
    }
    if (lt > pos) appendText(decode(source.slice(pos, lt), pos, false), pos)
    const next = source.charCodeAt(lt + 1)

    if (next === 0x2f) {
      // </name>
      const nameEnd = readName(lt + 2, "an element name after '</'")
      const qualifiedName = source.slice(lt + 2, nameEnd)
      const gt = skipWhitespace(nameEnd)
      if (source.charCodeAt(gt) !== 0x3e) throw new XmlSyntaxError(`close tag </${qualifiedName}> is not closed with '>'`, lt)
      const open = stack.pop()
      if (open === undefined) throw new XmlSyntaxError(`close tag </${qualifiedName}> without an open element`, lt)
      if (open.qualifiedName !== qualifiedName)
        throw new XmlSyntaxError(`mismatched close tag </${qualifiedName}>: <${open.qualifiedName}> (opened at ${where(source, open.openedAt)}) is still open`, lt)
      closed({ name: open.name, attributes: open.attributes, children: open.children ?? NO_CHILDREN, text: open.text })
      pos = gt + 1
    } else if (next === 0x3f) {
      // <?xml …?> and other processing instructions carry nothing we read.
      const end = source.indexOf("?>", lt + 2)
      if (end === -1) throw new XmlSyntaxError("unterminated processing instruction '<?' (no '?>')", lt)
      pos = end + 2
    } else if (next === 0x21) {
      if (source.startsWith("<!--", lt)) {
        const end = source.indexOf("-->", lt + 4)
        if (end === -1) throw new XmlSyntaxError("unterminated comment '<!--' (no '-->')", lt)
        pos = end + 3
      } else if (source.startsWith("<![CDATA[", lt)) {
        const end = source.indexOf("]]>", lt + 9)
        if (end === -1) throw new XmlSyntaxError("unterminated CDATA section (no ']]>')", lt)
        if (stack.length === 0) throw new XmlSyntaxError("CDATA outside the root element", lt)
        stack[stack.length - 1]!.text += source.slice(lt + 9, end).replace(/\r\n?/g, "\n")
        pos = end + 3
      } else if (source.startsWith("<!DOCTYPE", lt)) {
        if (root !== undefined || stack.length > 0) throw new XmlSyntaxError("DOCTYPE after the root element started", lt)
        const gt = source.indexOf(">", lt)
        const bracket = source.indexOf("[", lt)
        // An internal subset may hold '>' of its own: skip to ']>' then.
        const end = bracket !== -1 && (gt === -1 || bracket < gt) ? source.indexOf("]", bracket) : gt
        const close = end === -1 ? -1 : source.indexOf(">", end)
        if (close === -1) throw new XmlSyntaxError("unterminated DOCTYPE", lt)
        pos = close + 1
      } else throw new XmlSyntaxError("unknown markup '<!' (expected a comment, CDATA or DOCTYPE)", lt)
    } else {
      // <name attr="value" …> or <name …/>
      if (root !== undefined) throw new XmlSyntaxError("a second root element", lt)
      if (stack.length >= MAX_XML_DEPTH) throw new XmlSyntaxError(`elements nested deeper than ${MAX_XML_DEPTH}`, lt)
      const nameEnd = readName(lt + 1, "an element name after '<'")
      const qualifiedName = source.slice(lt + 1, nameEnd)
      let attributes: Record<string, string> | null = null
      let i = nameEnd
      let selfClosing = false
      for (;;) {
        const afterSpace = skipWhitespace(i)
        const c = source.charCodeAt(afterSpace)
        if (afterSpace >= length) throw new XmlSyntaxError(`unclosed tag <${qualifiedName} (end of document before '>')`, lt)
        if (c === 0x3e) {
          i = afterSpace + 1
          break
        }
        if (c === 0x2f) {
          if (source.charCodeAt(afterSpace + 1) !== 0x3e) throw new XmlSyntaxError(`expected '/>' in tag <${qualifiedName}>`, afterSpace)
          i = afterSpace + 2
          selfClosing = true
          break
        }
        if (afterSpace === i) throw new XmlSyntaxError(`expected whitespace, '>' or '/>' in tag <${qualifiedName}>, found '${source[afterSpace]}'`, afterSpace)
        const attrEnd = readName(afterSpace, `an attribute name in tag <${qualifiedName}>`)
        const attrName = source.slice(afterSpace, attrEnd)
        const equals = skipWhitespace(attrEnd)
        if (source.charCodeAt(equals) !== 0x3d) throw new XmlSyntaxError(`attribute '${attrName}' in tag <${qualifiedName}> has no '=value'`, attrEnd)
        const quoteAt = skipWhitespace(equals + 1)
        const quote = source.charCodeAt(quoteAt)
        if (quote !== 0x22 && quote !== 0x27) throw new XmlSyntaxError(`the value of attribute '${attrName}' in tag <${qualifiedName}> is not quoted`, quoteAt)
        const valueEnd = source.indexOf(quote === 0x22 ? '"' : "'", quoteAt + 1)
        if (valueEnd === -1) throw new XmlSyntaxError(`unterminated value of attribute '${attrName}' in tag <${qualifiedName}>`, quoteAt)
        const rawValue = source.slice(quoteAt + 1, valueEnd)
        const lessThan = rawValue.indexOf("<")
        if (lessThan !== -1) throw new XmlSyntaxError(`'<' in the value of attribute '${attrName}' in tag <${qualifiedName}>`, quoteAt + 1 + lessThan)
        const value = decode(rawValue, quoteAt + 1, true)
        if (attrName !== "xmlns" && !attrName.startsWith("xmlns:")) {
          attributes ??= {}
          if (Object.prototype.hasOwnProperty.call(attributes, attrName)) throw new XmlSyntaxError(`duplicate attribute '${attrName}' in tag <${qualifiedName}>`, afterSpace)
          Object.defineProperty(attributes, attrName, { value, enumerable: true, writable: true, configurable: true })
        }
        i = valueEnd + 1
      }
      const name = localName(qualifiedName)
      if (selfClosing) closed({ name, attributes: attributes ?? NO_ATTRIBUTES, children: NO_CHILDREN, text: "" })
      else stack.push({ qualifiedName, openedAt: lt, name, attributes: attributes ?? NO_ATTRIBUTES, children: null, text: "" })
      pos = i
    }
  }
  const unclosed = stack[stack.length - 1]
  if (unclosed !== undefined) throw new XmlSyntaxError(`unclosed tag <${unclosed.qualifiedName}> (end of document before </${unclosed.qualifiedName}>)`, unclosed.openedAt)
  if (root === undefined) throw new XmlSyntaxError("no root element", length)
  return root
}

/** `xsi:nil="true"` (any prefix, as .NET writes `i:nil`): the element stands for null. */
export const isNil = (element: XmlElement): boolean => {
  if (element.attributes === NO_ATTRIBUTES) return false
  for (const name in element.attributes) if (isNilName(name) && (element.attributes[name] === "true" || element.attributes[name] === "1")) return true
  return false
}

const isNilName = (name: string) => name === "nil" || name.endsWith(":nil")

export interface XmlToJsonOptions {
  /** Also keep attributes, as `@localName` properties (an element with attributes then keeps its text as `#text`). Off by default: Datafordeler messages carry their data in elements. */
  readonly attributes?: boolean
}

/**
 * The JSON shape of an element, as Datafordeler's JSON format would give it:
 * child elements become properties (a repeated child becomes an array, a
 * single one stays a value: readers must take either, as the PULL decoder's `list` does),
 * a text-only element becomes its text, `xsi:nil="true"` becomes null and an
 * empty element "". Whitespace between child elements is indentation and is
 * dropped; other text beside child elements (mixed content) is kept as `#text`.
 */
export const xmlToJson = (element: XmlElement, options: XmlToJsonOptions = {}): unknown => {
  if (isNil(element)) return null
  const attributes = options.attributes === true && element.attributes !== NO_ATTRIBUTES ? Object.entries(element.attributes).filter(([name]) => !isNilName(name)) : []
  if (element.children.length === 0 && attributes.length === 0) return element.text
  const obj: Record<string, unknown> = {}
  for (const [name, value] of attributes) setOwn(obj, `@${localName(name)}`, value)
  for (const child of element.children) {
    const value = xmlToJson(child, options)
    if (!Object.prototype.hasOwnProperty.call(obj, child.name)) setOwn(obj, child.name, value)
    else {
      // xmlToJson never returns an array itself, so an array here is one we built from repeats.
      const existing = obj[child.name]
      if (Array.isArray(existing)) existing.push(value)
      else setOwn(obj, child.name, [existing, value])
    }
  }
  if (element.children.length === 0 ? element.text !== "" : !isAllWhitespace(element.text)) obj["#text"] = element.text
  return obj
}
