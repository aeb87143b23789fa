/**
 * PostgreSQL array text form -> JSON array text, elements converted by the
 * element type's writer. Handles what array_out writes: `{1,2,NULL}`, nested
 * `{{1,2},{3,4}}`, quoted elements with backslash escapes (`"c\"d"`, a quoted
 * "NULL" is the string), a dimension decoration `[0:1]={1,2}` (lower bounds
 * are dropped: JSON arrays start at 0), empty `{}`, and whitespace that
 * array_in would accept around elements.
 */
import { type JsonWriter, writeVerbatim } from "./writers.js"
import { valueTextError } from "./ValueTextError.js"

const OPEN = 0x7b // {
const CLOSE = 0x7d // }
const QUOTE = 0x22 // "
const BACKSLASH = 0x5c // \

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d)

/** A writer for arrays whose elements use `element` and are separated by `delimiter` (`,`; `;` for box). */
export const arrayWriter = (element: JsonWriter, delimiter = ","): JsonWriter => {
  const delim = delimiter.charCodeAt(0)
  if (element === writeVerbatim && delim === 0x2c) return writeIntegerArray
  return (text) => writeArray(text, element, delim)
}

/**
 * Arrays of integers (int2/int4/int8/oid, and domains over them): the only
 * characters are digits, '-', ',', braces and NULL, so swapping braces for
 * brackets gives the JSON. Anything unexpected takes the full parser.
 */
const writeIntegerArray: JsonWriter = (text) => {
  const n = text.length
  let out = ""
  let from = 0
  let depth = 0
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === OPEN || c === CLOSE) {
      out += text.substring(from, i) + (c === OPEN ? "[" : "]")
      from = i + 1
      depth += c === OPEN ? 1 : -1
    } else if (c === 0x4e /* N */ && text.startsWith("NULL", i)) {
      out += text.substring(from, i) + "null"
      i += 3
      from = i + 1
    } else if (!((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2c)) {
      return writeArray(text, writeVerbatim, 0x2c)
    }
  }
  if (depth !== 0 || text.charCodeAt(0) !== OPEN || from !== n) return writeArray(text, writeVerbatim, 0x2c)
  return out
}

export const writeArray = (text: string, element: JsonWriter, delim: number): string => {
  const n = text.length
  let i = 0
  while (i < n && isSpace(text.charCodeAt(i))) i++
  if (text.charCodeAt(i) === 0x5b /* [ */) {
    i = text.indexOf("=") + 1
    if (i === 0) throw valueTextError("array dimension decoration without '='", text)
  }
  if (text.charCodeAt(i) !== OPEN) throw valueTextError("array text does not start with '{'", text)
  let out = ""
  let depth = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === OPEN) {
      out += "["
      depth++
      i++
    } else if (c === CLOSE) {
      out += "]"
      i++
      if (--depth === 0) break
    } else if (c === delim) {
      out += ","
      i++
    } else if (isSpace(c)) {
      i++
    } else if (c === QUOTE) {
      // Quoted element: up to the next unescaped quote.
      let close = text.indexOf("\"", i + 1)
      const slash = text.indexOf("\\", i + 1)
      let value: string
      if (close < 0) throw valueTextError("unterminated quoted array element", text)
      if (slash < 0 || slash > close) {
        value = text.substring(i + 1, close)
      } else {
        value = ""
        let j = i + 1
        for (;;) {
          if (j >= n) throw valueTextError("unterminated quoted array element", text)
          const d = text.charCodeAt(j)
          if (d === QUOTE) break
          if (d === BACKSLASH) {
            j++
            if (j >= n) throw valueTextError("unterminated quoted array element", text)
          }
          value += text[j]
          j++
        }
        close = j
      }
      out += element(value)
      i = close + 1
    } else {
      // Unquoted element: up to the delimiter or the closing brace; NULL is SQL NULL.
      let j = i
      let escaped = false
      while (j < n) {
        const d = text.charCodeAt(j)
        if (d === delim || d === CLOSE) break
        if (d === OPEN || d === QUOTE) throw valueTextError("misplaced character in array element", text)
        if (d === BACKSLASH) {
          escaped = true
          j++
        }
        j++
      }
      if (j >= n) throw valueTextError("unterminated array", text)
      let end = j
      while (end > i && isSpace(text.charCodeAt(end - 1))) end--
      if (!escaped && end - i === 4 && isNullWord(text, i)) {
        out += "null"
      } else {
        out += element(escaped ? unescapeUnquoted(text.substring(i, end)) : text.substring(i, end))
      }
      i = j
    }
  }
  if (depth !== 0) throw valueTextError("unbalanced braces in array", text)
  for (; i < n; i++) if (!isSpace(text.charCodeAt(i))) throw valueTextError("text after the array", text)
  return out
}

const isNullWord = (text: string, i: number): boolean =>
  (text.charCodeAt(i) | 0x20) === 0x6e && (text.charCodeAt(i + 1) | 0x20) === 0x75 &&
  (text.charCodeAt(i + 2) | 0x20) === 0x6c && (text.charCodeAt(i + 3) | 0x20) === 0x6c

const unescapeUnquoted = (raw: string): string => {
  let value = ""
  for (let j = 0; j < raw.length; j++) {
    if (raw.charCodeAt(j) === BACKSLASH) j++
    if (j < raw.length) value += raw[j]
  }
  return value
}
