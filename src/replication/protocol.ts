/**
 * Streaming replication protocol frames carried in CopyData during
 * START_REPLICATION (PostgreSQL "Streaming Replication Protocol"):
 *
 *   XLogData           'w'  Int64 walStart, Int64 walEnd, Int64 sendTime, Byte n (pgoutput message)
 *   Primary keepalive  'k'  Int64 walEnd, Int64 sendTime, Byte1 replyRequested
 *   Standby status     'r'  Int64 written, Int64 flushed, Int64 applied, Int64 clientTime, Byte1 replyRequested
 *
 * Times are microseconds since 2000-01-01 UTC. Parsing never copies: the
 * XLogData payload is returned as (buffer, start, end) over pg's reused
 * chunk, so whoever keeps bytes beyond the callback must copy them.
 */
import { Schema } from "effect"
import { formatLsn, isExactInt64High, MAX_EXACT_HI, readInt64, TWO_POW_32, writeInt64, writeLsn } from "../postgres/lsn.js"

export class ReplicationProtocolError extends Schema.TaggedError<ReplicationProtocolError>()("ReplicationProtocolError", {
  /** The frame's leading byte as a character, or "" for an empty frame. */
  kind: Schema.String,
  reason: Schema.String,
  /** The frame bytes in hex, capped at 256 bytes. */
  bytesHex: Schema.String
}) {
  override get message(): string {
    return `bad replication frame ${JSON.stringify(this.kind)}: ${this.reason} (bytes ${this.bytesHex})`
  }
}

export const isReplicationProtocolError = (
  u: ReplicationFrame | ReplicationProtocolError
): u is ReplicationProtocolError => u instanceof ReplicationProtocolError

export interface XLogData {
  readonly tag: "XLogData"
  /** WAL position of the start of this message's data. */
  readonly walStart: number
  /** Current end of WAL on the server (may be 0 inside a transaction). */
  readonly walEnd: number
  readonly sendTime: number
  /** The pgoutput message is `buffer[dataStart, dataEnd)`, a view, not a copy. */
  readonly buffer: Buffer
  readonly dataStart: number
  readonly dataEnd: number
}

export interface PrimaryKeepalive {
  readonly tag: "PrimaryKeepalive"
  readonly walEnd: number
  readonly sendTime: number
  /** The server wants a standby status update now, or it may drop us after wal_sender_timeout. */
  readonly replyRequested: boolean
}

export type ReplicationFrame = XLogData | PrimaryKeepalive

export interface StandbyStatus {
  /** Last WAL position received and written. */
  readonly written: number
  /** Last WAL position durably handled: PostgreSQL may recycle WAL before it. */
  readonly flushed: number
  /** Last WAL position applied. */
  readonly applied: number
  /** Client clock, microseconds since 2000-01-01 UTC. */
  readonly clientTime: number
  readonly replyRequested: boolean
}

const XLOG_DATA_HEADER = 25
const KEEPALIVE_LENGTH = 18
export const STANDBY_STATUS_LENGTH = 34
const HEX_CAP = 256

const frameError = (buf: Buffer, start: number, end: number, reason: string): ReplicationProtocolError =>
  new ReplicationProtocolError({
    kind: end > start ? String.fromCharCode(buf[start]!) : "",
    reason,
    bytesHex: buf.toString("hex", start, Math.min(end, start + HEX_CAP))
  })

/** Unsigned 64-bit position, or -1 when it is not exact as a number. */
const lsnAt = (buf: Buffer, offset: number): number => {
  const hi = buf.readUInt32BE(offset)
  return hi >= MAX_EXACT_HI ? -1 : hi * TWO_POW_32 + buf.readUInt32BE(offset + 4)
}

/** Signed 64-bit time, or NaN when it is not exact as a number. */
const timeAt = (buf: Buffer, offset: number): number =>
  isExactInt64High(buf.readInt32BE(offset)) ? readInt64(buf, offset) : Number.NaN

/**
 * Parses one CopyData payload from the walsender, `buf[start, end)`.
 * Returns the error as a value; never throws.
 */
export const parseReplicationFrame = (
  buf: Buffer,
  start = 0,
  end = buf.length
): ReplicationFrame | ReplicationProtocolError => {
  if (start < 0 || end > buf.length || start > end) return frameError(buf, 0, 0, "frame range outside the buffer")
  if (end === start) return frameError(buf, start, end, "empty frame")
  const kind = buf[start]
  if (kind === 0x77 /* 'w' */) {
    if (end - start < XLOG_DATA_HEADER) return frameError(buf, start, end, `XLogData shorter than its ${XLOG_DATA_HEADER}-byte header`)
    const walStart = lsnAt(buf, start + 1)
    const walEnd = lsnAt(buf, start + 9)
    const sendTime = timeAt(buf, start + 17)
    if (walStart < 0 || walEnd < 0) return frameError(buf, start, end, "WAL position at or above 2^53")
    if (Number.isNaN(sendTime)) return frameError(buf, start, end, "send time out of range")
    return { tag: "XLogData", walStart, walEnd, sendTime, buffer: buf, dataStart: start + XLOG_DATA_HEADER, dataEnd: end }
  }
  if (kind === 0x6b /* 'k' */) {
    if (end - start !== KEEPALIVE_LENGTH) {
      return frameError(buf, start, end, `keepalive must be ${KEEPALIVE_LENGTH} bytes, got ${end - start}`)
    }
    const walEnd = lsnAt(buf, start + 1)
    const sendTime = timeAt(buf, start + 9)
    if (walEnd < 0) return frameError(buf, start, end, "WAL position at or above 2^53")
    if (Number.isNaN(sendTime)) return frameError(buf, start, end, "send time out of range")
    const reply = buf[start + 17]
    if (reply !== 0 && reply !== 1) return frameError(buf, start, end, `reply-requested byte must be 0 or 1, got ${reply}`)
    return { tag: "PrimaryKeepalive", walEnd, sendTime, replyRequested: reply === 1 }
  }
  return frameError(buf, start, end, `unknown frame type byte 0x${kind!.toString(16).padStart(2, "0")}`)
}

/**
 * Encodes a Standby status update ('r') into a fresh 34-byte Buffer, ready
 * to send as CopyData. Throws `LsnError` for a position that is not a
 * non-negative integer below 2^53 (a programming error, never wire input).
 */
export const encodeStandbyStatus = (status: StandbyStatus): Buffer => {
  const out = Buffer.allocUnsafe(STANDBY_STATUS_LENGTH)
  out[0] = 0x72 // 'r'
  writeLsn(out, 1, status.written)
  writeLsn(out, 9, status.flushed)
  writeLsn(out, 17, status.applied)
  writeInt64(out, 25, Math.trunc(status.clientTime))
  out[33] = status.replyRequested ? 1 : 0
  return out
}

/** A one-line summary of a frame for logs, e.g. `XLogData 16/B374D848..16/B374D900 (120 bytes)`. */
export const describeFrame = (frame: ReplicationFrame): string =>
  frame.tag === "XLogData"
    ? `XLogData ${formatLsn(frame.walStart)}..${formatLsn(frame.walEnd)} (${frame.dataEnd - frame.dataStart} bytes)`
    : `PrimaryKeepalive ${formatLsn(frame.walEnd)}${frame.replyRequested ? " reply requested" : ""}`
