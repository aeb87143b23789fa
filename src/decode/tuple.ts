/**
 * One TupleData as the server sent it. The column values are not turned into
 * strings when the message is decoded: they stay bytes, in a copy of the
 * message (pg's parser reuses its buffer, and routing happens later), and
 * the JSON writers read them in place. A string is made only where a caller
 * asks for one (`value`), e.g. for format "debezium" or a snapshot window.
 */
import { type TupleValue, Unchanged } from "./messages.js"

/** What the server sent for a column: TupleData's kind byte, used as is. */
export const Cell = {
  /** 't': text form, `bytes[start, end)` is UTF-8. */
  text: 0x74,
  /** 'n': SQL NULL. */
  null: 0x6e,
  /** 'u': an unchanged TOASTed value the server did not send. */
  unchanged: 0x75,
  /** 'b': binary form (only with the `binary` option, which we do not set). */
  binary: 0x62
} as const

interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string
}

/** The Int32 length after a 't' or 'b' kind byte at `at`. */
export const cellLength = (bytes: Uint8Array, at: number): number =>
  (bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!

/** Where the cell after the one at `at` starts. */
export const nextCell = (bytes: Uint8Array, at: number): number => {
  const kind = bytes[at]
  return kind === Cell.text || kind === Cell.binary ? at + 5 + cellLength(bytes, at) : at + 1
}

/**
 * `bytes[offset, ...)` holds the tuple's `length` cells in TupleData form
 * (kind byte, then Int32 length and value for 't' and 'b'), already checked
 * by the decoder. Nothing per column is allocated: writers walk the cells in
 * order, and the few columns read by index (key columns, a TOAST fallback)
 * are found by walking from the first.
 */
export class Tuple {
  constructor(readonly bytes: Buffer, readonly offset: number, readonly length: number) {}

  /** Where column i's kind byte is. */
  cellAt(i: number): number {
    let at = this.offset
    for (let k = 0; k < i; k++) at = nextCell(this.bytes, at)
    return at
  }

  kind(i: number): number {
    return this.bytes[this.cellAt(i)]!
  }

  /** Where column i's value starts (text and binary cells). */
  start(i: number): number {
    return this.cellAt(i) + 5
  }

  /** Where column i's value ends (text and binary cells). */
  end(i: number): number {
    const at = this.cellAt(i)
    return at + 5 + cellLength(this.bytes, at)
  }

  /** Column i as a JS value: its text, null, Unchanged, or a copy of its binary bytes. */
  value(i: number): TupleValue {
    const at = this.cellAt(i)
    const kind = this.bytes[at]
    if (kind === Cell.null) return null
    if (kind === Cell.unchanged) return Unchanged
    const end = at + 5 + cellLength(this.bytes, at)
    if (kind === Cell.text) return (this.bytes as FastBuffer).utf8Slice(at + 5, end)
    return Buffer.from(this.bytes.subarray(at + 5, end))
  }

  /** Every column as `value` gives it. */
  values(): Array<TupleValue> {
    const out = new Array<TupleValue>(this.length)
    for (let i = 0; i < out.length; i++) out[i] = this.value(i)
    return out
  }

  /** True when column i of both tuples was sent with the same kind and the same bytes. */
  static sameCell(a: Tuple, b: Tuple, i: number): boolean {
    const x = a.bytes
    const y = b.bytes
    const atA = a.cellAt(i)
    const atB = b.cellAt(i)
    const kind = x[atA]
    if (kind !== y[atB]) return false
    if (kind !== Cell.text && kind !== Cell.binary) return true
    const n = cellLength(x, atA)
    if (n !== cellLength(y, atB)) return false
    for (let k = 5; k < n + 5; k++) if (x[atA + k] !== y[atB + k]) return false
    return true
  }

  /** A tuple from JS values (tests, and callers that have values rather than a message). */
  static fromValues(values: ReadonlyArray<TupleValue>): Tuple {
    const parts: Array<Uint8Array> = []
    for (const value of values) {
      if (value === null) parts.push(Uint8Array.of(Cell.null))
      else if (value === Unchanged) parts.push(Uint8Array.of(Cell.unchanged))
      else {
        const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value
        const header = Buffer.alloc(5)
        header[0] = typeof value === "string" ? Cell.text : Cell.binary
        header.writeInt32BE(bytes.length, 1)
        parts.push(header, bytes)
      }
    }
    return new Tuple(Buffer.concat(parts), 0, values.length)
  }
}
