/**
 * Offset-based decoder for pgoutput messages, protocol versions 1 to 4
 * (PostgreSQL "Logical Replication Message Formats").
 *
 * One decoder per replication stream: it remembers whether it is inside a
 * streamed-transaction block (between Stream Start and Stream Stop), because
 * only there do Relation/Type/Insert/Update/Delete/Truncate/Message carry
 * the transaction's xid.
 *
 * Hot-path shape: the cursor is three module-level variables (buffer, offset,
 * end) read by small plain functions, so decoding allocates only the result
 * objects. Decoding is synchronous, so no two decodes can interleave. Names
 * come from `utf8Slice`; column values stay bytes in a copy of the message
 * (tuple.ts), and logical-message content is copied, because the caller's
 * buffer is pg's reused parser buffer.
 *
 * Malformed input never throws out of `decode`: an internal `Malformed`
 * value is thrown by the readers and turned into a `PgoutputDecodeError`
 * (with the WAL position, tag, offset and the bytes) at the single entry.
 */
import { Schema } from "effect"
import { formatLsn, MAX_EXACT_HI, TWO_POW_32 } from "../postgres/lsn.js"
import type {
  Begin,
  BeginPrepare,
  Commit,
  CommitPrepared,
  Delete,
  Insert,
  LogicalMessage,
  Origin,
  PgoutputMessage,
  Prepare,
  Relation,
  RelationColumn,
  ReplicaIdentity,
  RollbackPrepared,
  StreamAbort,
  StreamCommit,
  StreamPrepare,
  StreamStart,
  StreamStop,
  Truncate,
  Type,
  Update
} from "./messages.js"
import { Tuple } from "./tuple.js"

export class PgoutputDecodeError extends Schema.TaggedError<PgoutputDecodeError>()("PgoutputDecodeError", {
  /** WAL position of the message (the XLogData walStart), formatted like "16/B374D848". */
  lsn: Schema.String,
  /** The message tag character ("U", "R", ...) when it is a known tag. */
  tag: Schema.UndefinedOr(Schema.String),
  /** Byte offset inside the message where decoding failed. */
  offset: Schema.Number,
  reason: Schema.String,
  /** The message bytes in hex, capped at 256 bytes. */
  bytesHex: Schema.String
}) {
  override get message(): string {
    return `cannot decode pgoutput message${this.tag === undefined ? "" : ` '${this.tag}'`} at ${this.lsn}, byte ${this.offset}: ${this.reason} (bytes ${this.bytesHex})`
  }
}

export const isPgoutputDecodeError = (u: PgoutputMessage | PgoutputDecodeError): u is PgoutputDecodeError =>
  u instanceof PgoutputDecodeError

export type PgoutputProtocolVersion = 1 | 2 | 3 | 4

export interface PgoutputDecoder {
  readonly protocolVersion: PgoutputProtocolVersion
  /**
   * Decodes the pgoutput message `buf[start, end)` received at WAL position
   * `lsn` (the XLogData walStart; used in errors). Never throws.
   */
  decode(buf: Buffer, start: number, end: number, lsn: number): PgoutputMessage | PgoutputDecodeError
  /** True between a Stream Start and its Stream Stop. */
  readonly inStreamBlock: boolean
  /** Forget the stream-block state (e.g. after a reconnect). */
  reset(): void
}

// ---------------------------------------------------------------------------
// Cursor: module-level so the readers below are plain, allocation-free calls.

interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string
}

const EMPTY = Buffer.alloc(0) as FastBuffer
let buf: FastBuffer = EMPTY
let pos = 0
let end = 0
/** Where the current message starts, for error offsets. */
let origin = 0

/** Thrown by the readers; never escapes `decode`. Not an Error: no stack capture. */
class Malformed {
  constructor(readonly reason: string, readonly at: number) {}
}

const HEX_CAP = 256

const truncated = (need: number): Malformed =>
  new Malformed(`truncated: needs ${need} more byte(s), ${end - pos} left`, pos)

const readU8 = (): number => {
  if (pos >= end) throw truncated(1)
  return buf[pos++]!
}

const readU16 = (): number => {
  if (pos + 2 > end) throw truncated(2)
  const v = (buf[pos]! << 8) | buf[pos + 1]!
  pos += 2
  return v
}

const readU32 = (): number => {
  if (pos + 4 > end) throw truncated(4)
  const v = buf[pos]! * 0x1000000 + ((buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!)
  pos += 4
  return v
}

const readI32 = (): number => {
  if (pos + 4 > end) throw truncated(4)
  const v = (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!
  pos += 4
  return v
}

/** Unsigned 64-bit WAL position; >= 2^53 is rejected rather than rounded. */
const readLsn = (): number => {
  if (pos + 8 > end) throw truncated(8)
  const hi = buf.readUInt32BE(pos)
  if (hi >= MAX_EXACT_HI) throw new Malformed("LSN at or above 2^53", pos)
  const v = hi * TWO_POW_32 + buf.readUInt32BE(pos + 4)
  pos += 8
  return v
}

/** Signed 64-bit microseconds since 2000-01-01; outside ±2^53 is rejected. */
const readTime = (): number => {
  if (pos + 8 > end) throw truncated(8)
  const hi = buf.readInt32BE(pos)
  if (hi >= MAX_EXACT_HI || hi < -MAX_EXACT_HI) throw new Malformed("timestamp outside ±2^53 microseconds", pos)
  const v = hi * TWO_POW_32 + buf.readUInt32BE(pos + 4)
  pos += 8
  return v
}

/** A NUL-terminated UTF-8 string. Names are short, so a byte loop beats indexOf. */
const readCString = (): string => {
  let i = pos
  while (i < end && buf[i] !== 0) i++
  if (i >= end) throw new Malformed("string not NUL-terminated", pos)
  const s = buf.utf8Slice(pos, i)
  pos = i + 1
  return s
}

const copyBytes = (length: number): Uint8Array => {
  const out = Buffer.allocUnsafe(length)
  buf.copy(out, 0, pos, pos + length)
  pos += length
  return out
}

/** Reads a non-negative Int32 length and checks that many bytes remain. */
const readLength = (what: string): number => {
  const at = pos
  const n = readI32()
  if (n < 0) throw new Malformed(`negative ${what} length ${n}`, at)
  if (pos + n > end) throw new Malformed(`${what} length ${n} exceeds the ${end - pos} byte(s) left`, at)
  return n
}

const TUPLE_NULL = 0x6e // 'n'
const TUPLE_UNCHANGED = 0x75 // 'u'
const TUPLE_TEXT = 0x74 // 't'
const TUPLE_BINARY = 0x62 // 'b'

/**
 * Tuple-bearing messages (Insert, Update, Delete) are copied into a slab
 * before their tuples are read: pg's parser reuses its buffer, and the
 * tuples' bytes are read later, when the message is routed. One 64 KB slab
 * holds hundreds of messages; it is freed once none of their tuples is
 * referenced. `shift` maps a position in the message to one in `copy`.
 */
const SLAB_BYTES = 64 * 1024
let slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES)
let slabUsed = 0
let copy: Buffer = EMPTY
let shift = 0

/** Copies `buf[pos, end)` (the rest of the message) so tuples can reference it. */
const copyRest = (): void => {
  const n = end - pos
  if (n > SLAB_BYTES >> 2) {
    copy = Buffer.allocUnsafeSlow(n)
    copy.set(new Uint8Array(buf.buffer, buf.byteOffset + pos, n), 0)
    shift = -pos
    return
  }
  if (slabUsed + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
    slabUsed = 0
  }
  if (n <= 64) {
    for (let k = 0; k < n; k++) slab[slabUsed + k] = buf[pos + k]!
  } else {
    // A plain Uint8Array view: Buffer#subarray constructs a FastBuffer, which costs more.
    slab.set(new Uint8Array(buf.buffer, buf.byteOffset + pos, n), slabUsed)
  }
  copy = slab
  shift = slabUsed - pos
  slabUsed += n
}

/** Checks a TupleData's cells (kinds and lengths) and returns it as a Tuple over the copy. */
const readTuple = (): Tuple => {
  const count = readU16()
  // Each column takes at least one byte: reject absurd counts before reading.
  if (count > end - pos) throw new Malformed(`tuple claims ${count} columns but only ${end - pos} byte(s) left`, pos - 2)
  const first = pos
  for (let i = 0; i < count; i++) {
    const at = pos
    const kind = readU8()
    if (kind === TUPLE_TEXT || kind === TUPLE_BINARY) {
      const n = readLength(kind === TUPLE_TEXT ? "text value" : "binary value") // moves pos past the length
      pos += n
    } else if (kind !== TUPLE_NULL && kind !== TUPLE_UNCHANGED) {
      throw new Malformed(`unknown tuple value kind 0x${kind.toString(16).padStart(2, "0")} in column ${i}`, at)
    }
  }
  return new Tuple(copy, first + shift, count)
}

const expectByte = (expected: number, what: string): void => {
  const at = pos
  const got = readU8()
  if (got !== expected) {
    throw new Malformed(`expected ${what} '${String.fromCharCode(expected)}', got 0x${got.toString(16).padStart(2, "0")}`, at)
  }
}

// ---------------------------------------------------------------------------
// Message bodies. `xid` is the streamed transaction's xid or undefined.

const readXid = (inStream: boolean): number | undefined => (inStream ? readU32() : undefined)

const decodeBegin = (): Begin => {
  const finalLsn = readLsn()
  const commitTime = readTime()
  return { tag: "Begin", finalLsn, commitTime, xid: readU32() }
}

const decodeCommit = (): Commit => {
  const flags = readU8()
  const commitLsn = readLsn()
  const endLsn = readLsn()
  return { tag: "Commit", flags, commitLsn, endLsn, commitTime: readTime() }
}

const decodeOrigin = (): Origin => {
  const originLsn = readLsn()
  return { tag: "Origin", originLsn, name: readCString() }
}

const replicaIdentityOf = (byte: number, at: number): ReplicaIdentity => {
  switch (byte) {
    case 0x64: return "default" // 'd'
    case 0x6e: return "nothing" // 'n'
    case 0x66: return "full" // 'f'
    case 0x69: return "index" // 'i'
    default: throw new Malformed(`unknown replica identity 0x${byte.toString(16).padStart(2, "0")}`, at)
  }
}

const decodeRelation = (inStream: boolean): Relation => {
  const xid = readXid(inStream)
  const relationId = readU32()
  const schema = readCString()
  const name = readCString()
  const identityAt = pos
  const replicaIdentity = replicaIdentityOf(readU8(), identityAt)
  const count = readU16()
  // Each column takes at least 10 bytes (flags, empty name NUL, type oid, typmod).
  if (count * 10 > end - pos) throw new Malformed(`relation claims ${count} columns but only ${end - pos} byte(s) left`, pos - 2)
  const columns = new Array<RelationColumn>(count)
  for (let i = 0; i < count; i++) {
    const flags = readU8()
    const columnName = readCString()
    const typeOid = readU32()
    columns[i] = { isKey: (flags & 1) === 1, name: columnName, typeOid, typeMod: readI32() }
  }
  return { tag: "Relation", xid, relationId, schema, name, replicaIdentity, columns }
}

const decodeType = (inStream: boolean): Type => {
  const xid = readXid(inStream)
  const typeOid = readU32()
  const schema = readCString()
  return { tag: "Type", xid, typeOid, schema, name: readCString() }
}

const decodeInsert = (inStream: boolean): Insert => {
  const xid = readXid(inStream)
  const relationId = readU32()
  copyRest()
  expectByte(0x4e, "new tuple marker") // 'N'
  return { tag: "Insert", xid, relationId, newTuple: readTuple() }
}

const decodeUpdate = (inStream: boolean): Update => {
  const xid = readXid(inStream)
  const relationId = readU32()
  copyRest()
  const at = pos
  const marker = readU8()
  let oldKind: "key" | "full" | undefined
  let oldTuple: Tuple | undefined
  if (marker === 0x4b /* 'K' */ || marker === 0x4f /* 'O' */) {
    oldKind = marker === 0x4b ? "key" : "full"
    oldTuple = readTuple()
    expectByte(0x4e, "new tuple marker")
  } else if (marker !== 0x4e /* 'N' */) {
    throw new Malformed(`expected 'K', 'O' or 'N' in Update, got 0x${marker.toString(16).padStart(2, "0")}`, at)
  }
  return { tag: "Update", xid, relationId, oldKind, oldTuple, newTuple: readTuple() }
}

const decodeDelete = (inStream: boolean): Delete => {
  const xid = readXid(inStream)
  const relationId = readU32()
  copyRest()
  const at = pos
  const marker = readU8()
  if (marker !== 0x4b && marker !== 0x4f) {
    throw new Malformed(`expected 'K' or 'O' in Delete, got 0x${marker.toString(16).padStart(2, "0")}`, at)
  }
  return { tag: "Delete", xid, relationId, oldKind: marker === 0x4b ? "key" : "full", oldTuple: readTuple() }
}

const decodeTruncate = (inStream: boolean): Truncate => {
  const xid = readXid(inStream)
  const countAt = pos
  const count = readI32()
  const options = readU8()
  if (count < 0 || count * 4 !== end - pos) {
    throw new Malformed(`truncate claims ${count} relation(s) but ${end - pos} byte(s) follow`, countAt)
  }
  const relationIds = new Array<number>(count)
  for (let i = 0; i < count; i++) relationIds[i] = readU32()
  return { tag: "Truncate", xid, cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0, relationIds }
}

const decodeMessage = (inStream: boolean): LogicalMessage => {
  const xid = readXid(inStream)
  const flags = readU8()
  const lsn = readLsn()
  const prefix = readCString()
  const content = copyBytes(readLength("message content"))
  return { tag: "Message", xid, transactional: (flags & 1) === 1, lsn, prefix, content }
}

const decodeStreamStart = (): StreamStart => {
  const xid = readU32()
  return { tag: "StreamStart", xid, firstSegment: readU8() === 1 }
}

const STREAM_STOP: StreamStop = Object.freeze({ tag: "StreamStop" })

const decodeStreamCommit = (): StreamCommit => {
  const xid = readU32()
  const flags = readU8()
  const commitLsn = readLsn()
  const endLsn = readLsn()
  return { tag: "StreamCommit", xid, flags, commitLsn, endLsn, commitTime: readTime() }
}

const decodeStreamAbort = (protocolVersion: number): StreamAbort => {
  const xid = readU32()
  const subXid = readU32()
  // Protocol 4 adds the abort LSN and time only when streaming = parallel,
  // which the message itself does not say: the remaining length does.
  if (protocolVersion >= 4 && end - pos === 16) {
    const abortLsn = readLsn()
    return { tag: "StreamAbort", xid, subXid, abortLsn, abortTime: readTime() }
  }
  return { tag: "StreamAbort", xid, subXid, abortLsn: undefined, abortTime: undefined }
}

const decodeBeginPrepare = (): BeginPrepare => {
  const prepareLsn = readLsn()
  const endLsn = readLsn()
  const prepareTime = readTime()
  const xid = readU32()
  return { tag: "BeginPrepare", prepareLsn, endLsn, prepareTime, xid, gid: readCString() }
}

const decodePrepare = (): Prepare => {
  const flags = readU8()
  const prepareLsn = readLsn()
  const endLsn = readLsn()
  const prepareTime = readTime()
  const xid = readU32()
  return { tag: "Prepare", flags, prepareLsn, endLsn, prepareTime, xid, gid: readCString() }
}

const decodeCommitPrepared = (): CommitPrepared => {
  const flags = readU8()
  const commitLsn = readLsn()
  const endLsn = readLsn()
  const commitTime = readTime()
  const xid = readU32()
  return { tag: "CommitPrepared", flags, commitLsn, endLsn, commitTime, xid, gid: readCString() }
}

const decodeRollbackPrepared = (): RollbackPrepared => {
  const flags = readU8()
  const prepareEndLsn = readLsn()
  const rollbackEndLsn = readLsn()
  const prepareTime = readTime()
  const rollbackTime = readTime()
  const xid = readU32()
  return { tag: "RollbackPrepared", flags, prepareEndLsn, rollbackEndLsn, prepareTime, rollbackTime, xid, gid: readCString() }
}

const decodeStreamPrepare = (): StreamPrepare => {
  const flags = readU8()
  const prepareLsn = readLsn()
  const endLsn = readLsn()
  const prepareTime = readTime()
  const xid = readU32()
  return { tag: "StreamPrepare", flags, prepareLsn, endLsn, prepareTime, xid, gid: readCString() }
}

// ---------------------------------------------------------------------------
// Tags and the protocol version that introduced them.

/** Indexed by tag byte: the protocol version that introduced it, 0 for unknown tags. */
const MIN_VERSION = new Uint8Array(256)
for (const [tags, version] of [["BCORYIUDTM", 1], ["SEcA", 2], ["bPKrp", 3]] as const) {
  for (const tag of tags) MIN_VERSION[tag.charCodeAt(0)] = version
}

const safeFormatLsn = (lsn: number): string => {
  try {
    return formatLsn(lsn)
  } catch {
    return String(lsn)
  }
}

/**
 * A decoder for one replication stream at the negotiated `proto_version`.
 * Throws RangeError for a version other than 1 to 4 (a configuration bug).
 */
export const createPgoutputDecoder = (version: number): PgoutputDecoder => {
  if (version !== 1 && version !== 2 && version !== 3 && version !== 4) {
    throw new RangeError(`pgoutput protocol version must be 1 to 4, got ${String(version)}`)
  }
  const protocolVersion: PgoutputProtocolVersion = version
  let inStreamBlock = false

  const body = (tag: number): PgoutputMessage => {
    switch (tag) {
      case 0x49: return decodeInsert(inStreamBlock) // 'I'
      case 0x55: return decodeUpdate(inStreamBlock) // 'U'
      case 0x44: return decodeDelete(inStreamBlock) // 'D'
      case 0x42: return decodeBegin() // 'B'
      case 0x43: return decodeCommit() // 'C'
      case 0x52: return decodeRelation(inStreamBlock) // 'R'
      case 0x59: return decodeType(inStreamBlock) // 'Y'
      case 0x54: return decodeTruncate(inStreamBlock) // 'T'
      case 0x4d: return decodeMessage(inStreamBlock) // 'M'
      case 0x4f: return decodeOrigin() // 'O'
      case 0x53: { // 'S'
        if (inStreamBlock) throw new Malformed("Stream Start inside a stream block", origin)
        return decodeStreamStart()
      }
      case 0x45: { // 'E'
        if (!inStreamBlock) throw new Malformed("Stream Stop outside a stream block", origin)
        return STREAM_STOP
      }
      case 0x63: return decodeStreamCommit() // 'c'
      case 0x41: return decodeStreamAbort(protocolVersion) // 'A'
      case 0x62: return decodeBeginPrepare() // 'b'
      case 0x50: return decodePrepare() // 'P'
      case 0x4b: return decodeCommitPrepared() // 'K'
      case 0x72: return decodeRollbackPrepared() // 'r'
      case 0x70: return decodeStreamPrepare() // 'p'
      default: throw new Malformed(`unknown message tag 0x${tag.toString(16).padStart(2, "0")}`, origin)
    }
  }

  const decode = (input: Buffer, start: number, stop: number, lsn: number): PgoutputMessage | PgoutputDecodeError => {
    if (!(start >= 0 && stop <= input.length && start <= stop)) {
      return new PgoutputDecodeError({
        lsn: safeFormatLsn(lsn), tag: undefined, offset: 0,
        reason: `range [${start}, ${stop}) outside a buffer of ${input.length} byte(s)`, bytesHex: ""
      })
    }
    buf = input as FastBuffer
    pos = start
    end = stop
    origin = start
    try {
      if (pos >= end) throw new Malformed("empty message", start)
      const tag = buf[pos++]!
      const since = MIN_VERSION[tag]!
      if (since > protocolVersion) {
        throw new Malformed(`message needs protocol version ${since}, decoder is at ${protocolVersion}`, start)
      }
      const message = body(tag)
      if (pos !== end) throw new Malformed(`${end - pos} trailing byte(s)`, pos)
      if (tag === 0x53) inStreamBlock = true
      else if (tag === 0x45) inStreamBlock = false
      return message
    } catch (thrown) {
      const known = stop > start && MIN_VERSION[input[start]!]! > 0
      return new PgoutputDecodeError({
        lsn: safeFormatLsn(lsn),
        tag: known ? String.fromCharCode(input[start]!) : undefined,
        offset: (thrown instanceof Malformed ? thrown.at : pos) - start,
        reason: thrown instanceof Malformed ? thrown.reason : `unexpected: ${String(thrown)}`,
        bytesHex: input.toString("hex", start, Math.min(stop, start + HEX_CAP))
      })
    } finally {
      // Do not keep pg's parser buffer (or a large message's copy) alive between messages.
      buf = EMPTY
      copy = EMPTY
    }
  }

  return {
    protocolVersion,
    decode,
    get inStreamBlock() {
      return inStreamBlock
    },
    reset() {
      inStreamBlock = false
    }
  }
}
