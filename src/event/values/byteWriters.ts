/**
 * The JSON writers of writers.ts, on bytes: each reads a column's text form
 * in place (`src[start, end)`, UTF-8 from the replication message) and writes
 * its JSON into a JsonBytes. The output is byte for byte what the string
 * writer's result encodes to; the fast paths below cover the types whose text
 * is ASCII and needs no parsing, and anything else (non-ASCII or escaped
 * text, offsets other than +00, arrays, user types, Debezium's writers) goes
 * through the string writer, so there is one definition of each conversion.
 */
import type { JsonBytes } from "../record/JsonBytes.js"
import { jsonString } from "./jsonString.js"
import {
  type JsonWriter,
  writeBool,
  writeDate,
  writeFloat,
  writeJson,
  writeNumeric,
  writeString,
  writeTimestamp,
  writeTimestamptz,
  writeVerbatim
} from "./writers.js"

/** Writes the JSON for one non-null column value whose text is `src[start, end)`. */
export type ByteWriter = (out: JsonBytes, src: Buffer, start: number, end: number) => void

interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string
}

const QUOTE = 0x22

/** The text writer's result, encoded: the exact fallback for every type. */
export const viaText = (writer: JsonWriter): ByteWriter => (out, src, start, end) =>
  out.utf8(writer((src as FastBuffer).utf8Slice(start, end)))

const quoted = (out: JsonBytes, src: Buffer, start: number, end: number): void => {
  out.byte(QUOTE)
  out.range(src, start, end)
  out.byte(QUOTE)
}

/**
 * Text as a JSON string, escaped in place when ASCII. Non-ASCII goes the text way: decoding replaces
 * invalid UTF-8 (possible from a SQL_ASCII database) as it always did, rather
 * than passing it through to Kafka.
 */
const stringBytes: ByteWriter = (out, src, start, end) => {
  if (!out.quotedAscii(src, start, end)) out.utf8(jsonString((src as FastBuffer).utf8Slice(start, end)))
}

const verbatimBytes: ByteWriter = (out, src, start, end) => out.range(src, start, end)

/** json/jsonb: the server's text as is; non-ASCII through the text path, as for text. */
const jsonBytes: ByteWriter = (out, src, start, end) => {
  if (!out.asciiRange(src, start, end)) out.utf8((src as FastBuffer).utf8Slice(start, end))
}

const floatText = viaText(writeFloat)
const floatBytes: ByteWriter = (out, src, start, end) => {
  const c = src[start]
  // Finite floats start with a digit or '-' and a digit; NaN/Infinity become strings.
  if (end > start && c !== 0x4e && c !== 0x49 && !(c === 0x2d && src[start + 1] === 0x49)) out.range(src, start, end)
  else floatText(out, src, start, end)
}

const boolText = viaText(writeBool)
const TRUE = [0x74, 0x72, 0x75, 0x65]
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65]
const boolBytes: ByteWriter = (out, src, start, end) => {
  const c = src[start]
  if (end - start === 1 && c === 0x74) for (const b of TRUE) out.byte(b)
  else if (end - start === 1 && c === 0x66) for (const b of FALSE) out.byte(b)
  else boolText(out, src, start, end) // throws ValueTextError naming the text
}

const spaceAt = (src: Buffer, start: number, end: number): number => {
  for (let i = start; i < end; i++) if (src[i] === 0x20) return i
  return -1
}

const timestampBytes: ByteWriter = (out, src, start, end) => {
  const space = spaceAt(src, start, end)
  if (space < 0) return quoted(out, src, start, end)
  out.byte(QUOTE)
  out.range(src, start, space)
  out.byte(0x54) // 'T'
  out.range(src, space + 1, end)
  out.byte(QUOTE)
}

const timestamptzText = viaText(writeTimestamptz)
/** The replication session's zone is UTC, so the text nearly always ends in "+00"; anything else takes the exact path. */
const timestamptzBytes: ByteWriter = (out, src, start, end) => {
  const space = spaceAt(src, start, end)
  if (space < 0 || end - space < 4 || src[end - 3] !== 0x2b || src[end - 2] !== 0x30 || src[end - 1] !== 0x30) {
    return timestamptzText(out, src, start, end)
  }
  out.byte(QUOTE)
  out.range(src, start, space)
  out.byte(0x54) // 'T'
  out.range(src, space + 1, end - 3)
  out.byte(0x5a) // 'Z'
  out.byte(QUOTE)
}

/** Text forms that are ASCII by their output function (digits, signs, '.', 'BC', "infinity"). */
const asciiQuoted: ByteWriter = quoted

const fastPaths = new Map<JsonWriter, ByteWriter>([
  [writeVerbatim, verbatimBytes],
  [writeString, stringBytes],
  [writeFloat, floatBytes],
  [writeNumeric, asciiQuoted],
  [writeBool, boolBytes],
  [writeJson, jsonBytes],
  [writeDate, asciiQuoted],
  [writeTimestamp, timestampBytes],
  [writeTimestamptz, timestamptzBytes]
])

/** The byte writer for a text writer: its fast path, or the text writer itself. */
export const byteWriterFor = (writer: JsonWriter): ByteWriter => fastPaths.get(writer) ?? viaText(writer)
