/**
 * Snapshot rows as bytes: `COPY (SELECT ...) TO STDOUT` in text format, each
 * row turned into the same TupleData layout the replication stream's rows
 * have (decode/tuple.ts), so a format writes a snapshot row exactly as it
 * writes a streamed insert: values copied byte for byte into its slabs, no
 * string per column.
 *
 * Why COPY and not a SELECT: `pg` parses every DataRow into one JS string per
 * column (UTF-8 decoding, then the format encodes it again); a CopyData
 * message reaches us as a view of the socket's bytes. COPY's text form is each
 * column's output function text, as pgoutput sends it, with four escapes to
 * undo: `\N` is NULL, a backslash, tab, newline and carriage return (and
 * \b \f \v) are written as backslash sequences; a raw tab always separates
 * columns and a raw newline ends the row.
 */
import type pg from "pg"
import { Cell, Tuple } from "../decode/tuple.js"
import { routeCopyData } from "../postgres/copyData.js"

const TAB = 0x09
const NEWLINE = 0x0a
const BACKSLASH = 0x5c
const N_UPPER = 0x4e

/** What follows a backslash in COPY's text output, and the byte it stands for. */
const unescaped = (byte: number): number => {
  switch (byte) {
    case 0x62: return 0x08 // \b
    case 0x66: return 0x0c // \f
    case 0x6e: return 0x0a // \n
    case 0x72: return 0x0d // \r
    case 0x74: return 0x09 // \t
    case 0x76: return 0x0b // \v
    default: return byte // \\ and a backslash before any other byte: the byte itself
  }
}

/** A CopyData row that is not `columns` text fields ending in a newline. */
export class CopyRowError extends Error {}

/**
 * Turns COPY text rows into TupleData, one row at a time, into a buffer it
 * reuses: `decode` returns the row's Tuple, valid until the next call.
 */
export class CopyRowDecoder {
  private bytes: Buffer = Buffer.allocUnsafeSlow(16 * 1024)

  constructor(readonly columns: number) {}

  /** The row `row[start, stop)` (the whole array by default). */
  decode(row: Uint8Array, start = 0, stop = row.length): Tuple {
    const columns = this.columns
    const end = stop - 1
    if (end < start || row[end] !== NEWLINE) throw new CopyRowError("a COPY row does not end with a newline")
    // Each column adds at most its 5-byte header; escapes only shrink a value.
    const need = stop - start + 5 * columns
    if (need > this.bytes.length) this.bytes = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.bytes.length))
    const out = this.bytes
    let at = 0
    let i = start
    for (let c = 0; c < columns; c++) {
      if (i > end) throw new CopyRowError(`a COPY row has ${c} columns, expected ${columns}`)
      // NULL: the two bytes \N alone in the field.
      if (row[i] === BACKSLASH && row[i + 1] === N_UPPER && (i + 2 === end || row[i + 2] === TAB)) {
        out[at++] = Cell.null
        i += 3
        continue
      }
      out[at] = Cell.text
      const valueStart = at + 5
      let o = valueStart
      // Copied byte by byte: a field is short, and one pass finds the tab and the escapes.
      while (i < end) {
        const byte = row[i]!
        if (byte === TAB) break
        if (byte === BACKSLASH) {
          i++
          if (i >= end) throw new CopyRowError("a COPY row ends inside an escape")
          out[o++] = unescaped(row[i]!)
        } else {
          out[o++] = byte
        }
        i++
      }
      const length = o - valueStart
      out[at + 1] = length >>> 24
      out[at + 2] = (length >>> 16) & 0xff
      out[at + 3] = (length >>> 8) & 0xff
      out[at + 4] = length & 0xff
      at = o
      i++ // the tab (or, after the last column, the newline)
    }
    if (i <= end) throw new CopyRowError(`a COPY row has more than ${columns} columns`)
    return new Tuple(out, 0, columns)
  }
}

/**
 * Rows kept past their decoding (an incremental snapshot's chunk waits for
 * its window to close): each row's cells copied into one growing buffer.
 */
export class RowStore {
  private bytes: Buffer = Buffer.allocUnsafe(64 * 1024)
  private used = 0
  private readonly starts: Array<number> = []

  add(row: Tuple): void {
    const length = rowLength(row)
    if (this.used + length > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, this.used + length))
      this.bytes.copy(grown, 0, 0, this.used)
      this.bytes = grown
    }
    row.bytes.copy(this.bytes, this.used, row.offset, row.offset + length)
    this.starts.push(this.used)
    this.used += length
  }

  /** The rows added, each a Tuple over the store's final buffer. */
  tuples(columns: number): Array<Tuple> {
    return this.starts.map((start) => new Tuple(this.bytes, start, columns))
  }
}

/** Bytes of a tuple's cells. */
const rowLength = (row: Tuple): number => row.cellAt(row.length) - row.offset

export interface CopiedRows {
  readonly rows: number
  /** The last row (its cells stay readable until the next COPY), undefined when there was none. */
  readonly last: Tuple | undefined
}

/**
 * Runs `COPY (<select>) TO STDOUT` on `client` and hands each row, decoded,
 * to `onRow` as it arrives (the Tuple is only valid during the call).
 * Resolves with the row count once the server completed the command; an
 * exception from `onRow` or a malformed row stops reading and rejects.
 */
export const copyRows = (
  client: pg.Client,
  select: string,
  columns: number,
  onRow: (row: Tuple) => void
): Promise<CopiedRows> => {
  const decoder = new CopyRowDecoder(columns)
  let rows = 0
  let last: Tuple | undefined
  let failure: unknown
  const onRowBytes = (bytes: Buffer, start: number, end: number) => {
    if (failure !== undefined) return
    try {
      last = decoder.decode(bytes, start, end)
      onRow(last)
      rows++
    } catch (error) {
      // The rest of the COPY still arrives; it is read and dropped, then the query settles.
      failure = error
    }
  }
  // The rows straight off the socket (postgres/copyData.ts).
  const stop = routeCopyData(client, onRowBytes)
  return (client.query(`COPY (${select}) TO STDOUT`) as Promise<unknown>).then(
    () => {
      stop()
      if (failure !== undefined) throw failure
      return { rows, last }
    },
    (error: unknown) => {
      stop()
      throw error
    }
  )
}
