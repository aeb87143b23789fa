/**
 * Writes JSON texts as UTF-8 bytes straight into a slab, one record part
 * (a Kafka key or value) after another, each handed out as a Buffer view.
 *
 * This is the hot path's alternative to building a string by concatenation
 * and encoding it with Buffer.from: that left a tree of string pieces per
 * event for V8 to flatten and encode again (in a 1,000,000-change drain's
 * profile: 12% in utf8Write, 7% in utf8Slice, 10% in GC). Column values
 * are copied byte for byte from the replication message (see byteWriters.ts).
 *
 * A slab is never written again where a part was handed out; when one is
 * full, the part being written moves to a fresh slab. The old slab lives as
 * long as one of its parts is referenced (until Kafka acknowledges them),
 * and is then reused: see SlabPool.ts for who holds a slab and when it is
 * handed back.
 */
import { TWO_POW_32 } from "../../postgres/lsn.js"
import { type FastBuffer, type Slab, SlabPool } from "./SlabPool.js"

const SLAB_BYTES = 64 * 1024
/** Free slabs a writer keeps for reuse: 4 MB, about what a drain has in flight (6 outboxes of up to 1,024 records). */
const MAX_FREE_SLABS = 64

/** ASCII text as bytes, for the constant pieces of an event (computed once). */
export const asciiBytes = (text: string): Uint8Array => Buffer.from(text, "latin1")

/** Any text as UTF-8 bytes (names, per-table prefixes; computed once). */
export const utf8Bytes = (text: string): Uint8Array => Buffer.from(text, "utf8")

const HEX = asciiBytes("0123456789ABCDEF")
/** JSON's \u escapes, as JSON.stringify writes them. */
const HEX_LOWER = asciiBytes("0123456789abcdef")

export class JsonBytes {
  private slab: Slab
  buf: FastBuffer
  pos = 0
  private mark = 0
  /**
   * Slabs a part was handed out from since the last `takeSlabs`, each held
   * once for whoever takes them (see SlabPool.ts).
   */
  private readonly handedOut: Array<Slab | undefined> = []
  /**
   * How many entries of `handedOut` are in use. A count rather than
   * `length = 0`, which makes V8 drop the array's storage: two allocations
   * per record when the next part is finished.
   */
  private handedOutCount = 0

  constructor(private readonly pool: SlabPool = new SlabPool(SLAB_BYTES, MAX_FREE_SLABS)) {
    this.slab = pool.acquire()
    this.buf = this.slab.buf
    this.partBuf = this.buf
  }

  /** Room for `n` more bytes of the current part. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.moveToNewSlab(n)
  }

  private moveToNewSlab(n: number): void {
    const partial = this.pos - this.mark
    const old = this.slab
    // A pooled slab when the part fits one; a part larger than that gets a slab
    // of its own, with an eighth more room for what follows (the rest of the
    // event), not twice its size: a 50 MB value takes a 56 MB slab, not 100 MB.
    const need = partial + n
    const next = this.pool.acquire(need <= this.pool.slabBytes ? 2 * need : need + Math.max(this.pool.slabBytes, need >>> 3))
    if (partial > 0) next.buf.set(this.buf.subarray(this.mark, this.pos), 0)
    this.slab = next
    this.buf = next.buf
    this.mark = 0
    this.pos = partial
    // The writer's own hold; parts handed out from the old slab keep theirs.
    old.release()
  }

  /** Where the part the last `finishPart` ended lives: `partBuf[partStart, partStart + partLength)`. */
  partBuf: FastBuffer
  partStart = 0
  partLength = 0

  /**
   * Ends the current part (see `partBuf`); the next write starts a new one.
   * The part's slab is held until it is passed on with `takeSlabs`.
   */
  finishPart(): void {
    this.partBuf = this.buf
    this.partStart = this.mark
    this.partLength = this.pos - this.mark
    this.mark = this.pos
    const count = this.handedOutCount
    if (count === 0 || this.handedOut[count - 1] !== this.slab) {
      this.slab.retain()
      this.handedOut[count] = this.slab
      this.handedOutCount = count + 1
    }
    // A slab made for one huge part is not written on: it goes with its part
    // (freed once delivered) instead of staying the writer's for small ones.
    if (this.buf.length > this.pool.slabBytes) this.leaveSlab()
  }

  private leaveSlab(): void {
    const old = this.slab
    this.slab = this.pool.acquire()
    this.buf = this.slab.buf
    this.mark = 0
    this.pos = 0
    old.release()
  }

  /** Ends the current part and returns it as a Buffer view (held like `finishPart`'s). */
  finish(): Buffer {
    this.finishPart()
    return this.partBuf.subarray(this.partStart, this.partStart + this.partLength)
  }

  /**
   * Passes the holds on the slabs of the parts finished since the last call
   * to `into` (an outbox's slabs, released once its records are delivered).
   * A slab `into` already ends with is not held twice.
   */
  takeSlabs(into: Array<Slab>): void {
    const handedOut = this.handedOut
    for (let i = 0; i < this.handedOutCount; i++) {
      const slab = handedOut[i]!
      if (into.length > 0 && into[into.length - 1] === slab) slab.release()
      else into.push(slab)
      handedOut[i] = undefined // no reference kept to a slab passed on
    }
    this.handedOutCount = 0
  }

  /** Whether parts were finished since the last `takeSlabs`. */
  get holdsParts(): boolean {
    return this.handedOutCount > 0
  }

  /** Starts a part, dropping whatever a write interrupted by an error left behind. */
  begin(): void {
    this.pos = this.mark
  }

  byte(c: number): void {
    if (this.pos >= this.buf.length) this.moveToNewSlab(1)
    this.buf[this.pos++] = c
  }

  /** Copies `src[start, end)`. Short ranges (most column values) by loop: no view object. */
  range(src: Uint8Array, start: number, end: number): void {
    const n = end - start
    if (this.pos + n > this.buf.length) this.moveToNewSlab(n)
    const buf = this.buf
    let p = this.pos
    if (n <= 48) {
      for (let i = start; i < end; i++) buf[p++] = src[i]!
    } else {
      buf.set(new Uint8Array(src.buffer, src.byteOffset + start, n), p)
      p += n
    }
    this.pos = p
  }

  /** Copies all of `src` (constant pieces): long ones by TypedArray#set, which needs no view. */
  bytes(src: Uint8Array): void {
    const n = src.length
    if (n <= 16) return this.range(src, 0, n)
    if (this.pos + n > this.buf.length) this.moveToNewSlab(n)
    this.buf.set(src, this.pos)
    this.pos += n
  }

  /**
   * Copies `src[start, end)` when it is all ASCII and returns true; otherwise
   * writes nothing and returns false. One pass for json/jsonb text.
   */
  asciiRange(src: Uint8Array, start: number, end: number): boolean {
    const n = end - start
    if (this.pos + n > this.buf.length) this.moveToNewSlab(n)
    const buf = this.buf
    let p = this.pos
    for (let i = start; i < end; i++) {
      const c = src[i]!
      if (c >= 0x80) return false
      buf[p++] = c
    }
    this.pos = p
    return true
  }

  /**
   * Writes `src[start, end)` as a JSON string (in quotes), escaping what JSON
   * must (`"`, `\\`, control characters), when it is ASCII, and returns true;
   * otherwise writes nothing and returns false (non-ASCII takes the text path,
   * which replaces invalid UTF-8). One pass; json/jsonb text as a string.
   */
  quotedAscii(src: Uint8Array, start: number, end: number): boolean {
    if (this.pos + end - start + 2 > this.buf.length) this.moveToNewSlab(end - start + 2)
    // Where this value starts in the part: the part may move to a fresh slab on the way.
    const offset = this.pos - this.mark
    let buf = this.buf
    let p = this.pos
    buf[p++] = 0x22
    for (let i = start; i < end; i++) {
      const c = src[i]!
      if (c >= 0x80) {
        this.pos = this.mark + offset
        return false
      }
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
        buf[p++] = c
        continue
      }
      // An escape: room for its 6 bytes and the rest (the part may move to a fresh slab).
      if (p + 6 + (end - i) > buf.length) {
        this.pos = p
        this.moveToNewSlab(6 + (end - i))
        buf = this.buf
        p = this.pos
      }
      buf[p++] = 0x5c
      const short = c === 0x22 ? 0x22 : c === 0x5c ? 0x5c : c === 0x0a ? 0x6e : c === 0x0d ? 0x72 : c === 0x09 ? 0x74 : c === 0x08 ? 0x62 : c === 0x0c ? 0x66 : 0
      if (short !== 0) buf[p++] = short
      else {
        buf[p++] = 0x75 // \u00XX
        buf[p++] = 0x30
        buf[p++] = 0x30
        buf[p++] = HEX_LOWER[c >> 4]!
        buf[p++] = HEX_LOWER[c & 15]!
      }
    }
    buf[p++] = 0x22
    this.pos = p
    return true
  }

  /** A non-negative integer below 2^53 in decimal (positions, timestamps). */
  digits(n: number): void {
    this.ensure(16)
    let count = 1
    for (let m = n; m >= 10; m = Math.floor(m / 10)) count++
    const buf = this.buf
    const end = this.pos + count
    let p = end
    let m = n
    do {
      buf[--p] = 0x30 + (m % 10)
      m = Math.floor(m / 10)
    } while (m > 0)
    this.pos = end
  }

  /** A string of any content, encoded as UTF-8. */
  utf8(text: string): void {
    // A long text is measured: reserving 3 bytes per UTF-16 unit would make
    // a 10 MB value take a 60 MB slab.
    this.ensure(text.length <= 4096 ? text.length * 3 : Buffer.byteLength(text, "utf8"))
    this.pos += this.buf.utf8Write(text, this.pos)
  }

  /** A WAL position as PostgreSQL prints it ("16/B374D848": upper hex, no leading zeros). */
  lsn(lsn: number): void {
    this.ensure(17)
    this.hex(Math.floor(lsn / TWO_POW_32))
    this.buf[this.pos++] = 0x2f // '/'
    this.hex(lsn % TWO_POW_32)
  }

  /** `n` below 2^32: shifts, not float division (every event writes two of these). */
  private hex(n: number): void {
    let digits = 1
    for (let m = n >>> 4; m !== 0; m >>>= 4) digits++
    const buf = this.buf
    const end = this.pos + digits
    let p = end
    let m = n >>> 0
    do {
      buf[--p] = HEX[m & 15]!
      m >>>= 4
    } while (m !== 0)
    this.pos = end
  }
}
