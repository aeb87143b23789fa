/**
 * One TupleData as the server sent it. The column values are not turned into
 * strings when the message is decoded: they stay bytes, in a copy of the
 * message (pg's parser reuses its buffer, and routing happens later), and
 * the JSON writers read them in place. A string is made only where a caller
 * asks for one (`value`), e.g. for format "debezium" or a snapshot window.
 */
import { type TupleValue, Unchanged } from "./messages.js"

/** What the server sent for a column (TupleData's kind byte). */
export const Cell = {
  /** 't': text form, `bytes[start, end)` is UTF-8. */
  text: 0,
  /** 'n': SQL NULL. */
  null: 1,
  /** 'u': an unchanged TOASTed value the server did not send. */
  unchanged: 2,
  /** 'b': binary form (only with the `binary` option, which we do not set). */
  binary: 3
} as const

interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string
}

export class Tuple {
  /**
   * `cells` holds three numbers per column: its Cell kind and the start and
   * end of its bytes in `bytes` (both 0 for null and unchanged). One flat
   * array of small integers is one allocation per tuple.
   */
  constructor(readonly bytes: Buffer, readonly cells: ReadonlyArray<number>) {}

  get length(): number {
    return this.cells.length / 3
  }

  kind(i: number): number {
    return this.cells[i * 3]!
  }

  start(i: number): number {
    return this.cells[i * 3 + 1]!
  }

  end(i: number): number {
    return this.cells[i * 3 + 2]!
  }

  /** Column i as a JS value: its text, null, Unchanged, or a copy of its binary bytes. */
  value(i: number): TupleValue {
    const c = i * 3
    switch (this.cells[c]) {
      case Cell.text:
        return (this.bytes as FastBuffer).utf8Slice(this.cells[c + 1]!, this.cells[c + 2]!)
      case Cell.null:
        return null
      case Cell.unchanged:
        return Unchanged
      default:
        return Buffer.from(this.bytes.subarray(this.cells[c + 1]!, this.cells[c + 2]!))
    }
  }

  /** Every column as `value` gives it. */
  values(): Array<TupleValue> {
    const out = new Array<TupleValue>(this.length)
    for (let i = 0; i < out.length; i++) out[i] = this.value(i)
    return out
  }

  /** True when column i of both tuples was sent with the same kind and the same bytes. */
  static sameCell(a: Tuple, b: Tuple, i: number): boolean {
    const c = i * 3
    const kind = a.cells[c]
    if (kind !== b.cells[c]) return false
    if (kind === Cell.null || kind === Cell.unchanged) return true
    const aStart = a.cells[c + 1]!
    const bStart = b.cells[c + 1]!
    const n = a.cells[c + 2]! - aStart
    if (n !== b.cells[c + 2]! - bStart) return false
    const x = a.bytes
    const y = b.bytes
    for (let k = 0; k < n; k++) if (x[aStart + k] !== y[bStart + k]) return false
    return true
  }

  /** A tuple from JS values (tests, and callers that have values rather than a message). */
  static fromValues(values: ReadonlyArray<TupleValue>): Tuple {
    const parts: Array<Uint8Array> = []
    const cells: Array<number> = []
    let at = 0
    for (const value of values) {
      if (value === null) cells.push(Cell.null, 0, 0)
      else if (value === Unchanged) cells.push(Cell.unchanged, 0, 0)
      else {
        const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value
        cells.push(typeof value === "string" ? Cell.text : Cell.binary, at, at + bytes.length)
        parts.push(bytes)
        at += bytes.length
      }
    }
    return new Tuple(Buffer.concat(parts), cells)
  }
}
