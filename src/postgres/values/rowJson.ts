/**
 * A row as a JSON object, from per-column precomputed key prefixes and
 * writers (computed once per Relation message): `writeRowJson` writes bytes
 * from a replication tuple (the streaming hot path), `buildRowJson` builds a
 * string from JS values (snapshot rows, format "debezium").
 */
import { type TupleValue, Unchanged } from "../pgoutput/messages.js"
import { Cell, type Tuple } from "../pgoutput/tuple.js"
import type { ByteWriter } from "./byteWriters.js"
import { asciiBytes, type JsonBytes, utf8Bytes } from "./JsonBytes.js"
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
  fallback?: ReadonlyArray<TupleValue>
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
      ? "null"
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
const writeBinaryCell = (out: JsonBytes, tuple: Tuple, i: number): void => {
  out.byte(0x22)
  out.utf8(tuple.bytes.toString("base64", tuple.start(i), tuple.end(i)))
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
  fallback?: Tuple
): void => {
  out.byte(0x7b) // '{'
  let first = true
  const n = tuple.length
  const cells = tuple.cells
  for (let i = 0, c = 0; i < n; i++, c += 3) {
    if (includeMask !== undefined && includeMask[i] === false) continue
    let source = tuple
    let kind = cells[c]
    if (kind === Cell.unchanged) {
      if (fallback === undefined || i >= fallback.length || fallback.kind(i) === Cell.unchanged) {
        if (unchangedOut !== undefined) unchangedOut.push(i)
        continue
      }
      source = fallback
      kind = fallback.kind(i)
    }
    if (!first) out.byte(COMMA)
    first = false
    out.bytes(prefixes[i]!)
    if (kind === Cell.text) writers[i]!(out, source.bytes, source.start(i), source.end(i))
    else if (kind === Cell.null) out.bytes(NULL)
    else writeBinaryCell(out, source, i)
  }
  out.byte(0x7d) // '}'
}
