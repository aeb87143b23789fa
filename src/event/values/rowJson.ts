/**
 * A row as a JSON object, from per-column precomputed key prefixes and
 * writers (computed once per Relation message): `writeRowJson` writes bytes
 * from a replication tuple (the streaming hot path), `buildRowJson` builds a
 * string from JS values (snapshot rows, format "debezium").
 */
import { type TupleValue, Unchanged } from "../../decode/messages.js"
import { Cell, cellLength, type Tuple } from "../../decode/tuple.js"
import type { ByteWriter } from "./byteWriters.js"
import { asciiBytes, type JsonBytes, utf8Bytes } from "../record/JsonBytes.js"
import { jsonString } from "./jsonString.js"
import type { JsonWriter } from "./writers.js"

/** `"name":` for each column, JSON-escaped. Compute once per relation. */
export const keyPrefixes = (names: ReadonlyArray<string>): Array<string> =>
  names.map((name) => jsonString(name) + ":")

/** A binary-format value (only sent when binary mode is on): its bytes as base64. */
const writeBinary = (bytes: Uint8Array): string =>
  "\"" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") + "\""

/**
 * The JSON object text of one tuple.
 *
 * - `includeMask[i] === false` leaves column i out (exclude_columns/include_columns).
 * - An unchanged TOAST value ('u') is taken from `fallback` (the old row, when
 *   the server sent one that has it); otherwise the column is left out and its
 *   index pushed to `unchangedOut`, so the caller can list it in `unchanged`.
 *
 * Writers may throw ValueTextError for text that is not what the type's
 * output function writes.
 */
export const buildRowJson = (
  prefixes: ReadonlyArray<string>,
  writers: ReadonlyArray<JsonWriter>,
  values: ReadonlyArray<TupleValue>,
  includeMask?: ReadonlyArray<boolean>,
  unchangedOut?: Array<number>,
  fallback?: ReadonlyArray<TupleValue>,
  /** Per column, the fragment for a null value ("null" when absent). */
  nulls?: ReadonlyArray<string>
): string => {
  let out = "{"
  let first = true
  const n = values.length
  for (let i = 0; i < n; i++) {
    if (includeMask !== undefined && includeMask[i] === false) continue
    let value = values[i]
    if (value === Unchanged) {
      const old = fallback === undefined ? Unchanged : fallback[i]
      if (old === Unchanged || old === undefined) {
        if (unchangedOut !== undefined) unchangedOut.push(i)
        continue
      }
      value = old
    }
    const fragment = typeof value === "string"
      ? writers[i](value)
      : value === null
      ? (nulls === undefined ? "null" : nulls[i]!)
      : writeBinary(value as Uint8Array)
    out += first ? prefixes[i] + fragment : "," + prefixes[i] + fragment
    first = false
  }
  return out + "}"
}

/** `"name":` for each column as UTF-8 bytes. Compute once per relation. */
export const keyPrefixBytes = (names: ReadonlyArray<string>): Array<Uint8Array> =>
  names.map((name) => utf8Bytes(jsonString(name) + ":"))

const COMMA = 0x2c
const NULL = asciiBytes("null")

/** A binary-format cell as a base64 JSON string. */
const writeBinaryCell = (out: JsonBytes, bytes: Buffer, start: number, end: number): void => {
  out.byte(0x22)
  out.utf8(bytes.toString("base64", start, end))
  out.byte(0x22)
}

/**
 * `buildRowJson` on bytes: writes the JSON object of one tuple into `out`,
 * with the same masks, TOAST fallback and `unchangedOut` rules, each value
 * read in place from the tuple's bytes by its ByteWriter.
 */
export const writeRowJson = (
  out: JsonBytes,
  prefixes: ReadonlyArray<Uint8Array>,
  writers: ReadonlyArray<ByteWriter>,
  tuple: Tuple,
  includeMask?: ReadonlyArray<boolean>,
  unchangedOut?: Array<number>,
  fallback?: Tuple,
  /** Per column, the bytes of a null value ("null" when absent). */
  nulls?: ReadonlyArray<Uint8Array>,
  /** Per column, what stands for an unchanged TOAST value with no old value: written in place instead of listed in `unchangedOut`. */
  placeholders?: ReadonlyArray<Uint8Array>
): void => {
  out.byte(0x7b) // '{'
  let first = true
  const n = tuple.length
  const bytes = tuple.bytes
  let at = tuple.offset
  for (let i = 0; i < n; i++) {
    const kind = bytes[at]
    const next = kind === Cell.text || kind === Cell.binary ? at + 5 + cellLength(bytes, at) : at + 1
    if (includeMask !== undefined && includeMask[i] === false) {
      at = next
      continue
    }
    let src = bytes
    let cell = at
    if (kind === Cell.unchanged) {
      cell = fallbackCell(fallback, i)
      if (cell < 0) {
        // An unchanged TOAST value with no old value to take it from.
        if (placeholders !== undefined) {
          if (!first) out.byte(COMMA)
          first = false
          out.bytes(prefixes[i]!)
          out.bytes(placeholders[i]!)
        } else if (unchangedOut !== undefined) unchangedOut.push(i)
        at = next
        continue
      }
      src = fallback!.bytes
    }
    if (!first) out.byte(COMMA)
    first = false
    out.bytes(prefixes[i]!)
    const cellKind = src[cell]
    if (cellKind === Cell.text) writers[i]!(out, src, cell + 5, cell + 5 + cellLength(src, cell))
    else if (cellKind === Cell.null) out.bytes(nulls === undefined ? NULL : nulls[i]!)
    else writeBinaryCell(out, src, cell + 5, cell + 5 + cellLength(src, cell))
    at = next
  }
  out.byte(0x7d) // '}'
}

/**
 * The key columns' JSON object of a tuple (`keyIndexes` in key order, with
 * their `keyPrefixes`), written into `out` as `writeRowJson` writes values.
 */
export const writeKeyJson = (
  out: JsonBytes,
  keyPrefixes: ReadonlyArray<Uint8Array>,
  writers: ReadonlyArray<ByteWriter>,
  keyIndexes: ReadonlyArray<number>,
  tuple: Tuple
): void => {
  out.byte(0x7b) // '{'
  const bytes = tuple.bytes
  for (let k = 0; k < keyIndexes.length; k++) {
    const i = keyIndexes[k]!
    if (k > 0) out.byte(COMMA)
    out.bytes(keyPrefixes[k]!)
    const at = tuple.cellAt(i)
    const kind = bytes[at]
    if (kind === Cell.text) writers[i]!(out, bytes, at + 5, at + 5 + cellLength(bytes, at))
    else if (kind === Cell.binary) writeBinaryCell(out, bytes, at + 5, at + 5 + cellLength(bytes, at))
    else out.bytes(NULL)
  }
  out.byte(0x7d) // '}'
}

/** Where the old row's cell i is, when it has a value for an unchanged TOAST column; -1 when not. */
const fallbackCell = (fallback: Tuple | undefined, i: number): number => {
  if (fallback === undefined || i >= fallback.length) return -1
  const at = fallback.cellAt(i)
  return fallback.bytes[at] === Cell.unchanged ? -1 : at
}

/**
 * The Kafka key as text: the key columns' JSON object from a row's values
 * (a snapshot row's text, or a tuple's values); null without key columns.
 */
export const textKeyJson = (
  keyPrefixes: ReadonlyArray<string>,
  writers: ReadonlyArray<JsonWriter>,
  keyIndexes: ReadonlyArray<number>,
  values: ReadonlyArray<TupleValue | undefined>
): string | null => {
  if (keyIndexes.length === 0) return null
  let out = "{"
  for (let k = 0; k < keyIndexes.length; k++) {
    const i = keyIndexes[k]!
    const value = values[i]
    const fragment = typeof value === "string"
      ? writers[i]!(value)
      : value instanceof Uint8Array
      ? writeBinary(value)
      : "null"
    out += (k === 0 ? "" : ",") + keyPrefixes[k] + fragment
  }
  return out + "}"
}
