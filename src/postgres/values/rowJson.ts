/**
 * A row as a JSON object text, built by concatenation from per-column
 * precomputed key prefixes and writers (computed once per Relation message),
 * so a row costs one writer call and three concatenations per column.
 */
import { type TupleValue, Unchanged } from "../pgoutput/messages.js"
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
