/**
 * WAL positions (LSNs) and PostgreSQL timestamps as plain JS numbers.
 *
 * An LSN is an unsigned 64-bit integer; PostgreSQL prints it as two
 * uppercase hex halves without leading zeros ("16/B374D848"). We keep it as
 * `hi * 2^32 + lo`, exact below 2^53 (8 PiB of WAL), because numbers are far
 * cheaper than BigInt on the per-message path. A position at or above 2^53
 * is reported as an `LsnError`, never silently rounded.
 *
 * PostgreSQL timestamps (TimestampTz) are signed 64-bit microseconds since
 * 2000-01-01 00:00:00 UTC.
 */
import { Schema } from "effect"

export class LsnError extends Schema.TaggedError<LsnError>()("LsnError", {
  input: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid LSN ${JSON.stringify(this.input)}: ${this.reason}`
  }
}

/** 2^32: an LSN is `hi * TWO_POW_32 + lo`. */
export const TWO_POW_32 = 4294967296
/** The high 32-bit half at which `hi * 2^32 + lo` stops being exact. */
export const MAX_EXACT_HI = 0x200000

/** The highest LSN this module represents exactly (2^53 - 1). */
export const MAX_LSN = Number.MAX_SAFE_INTEGER

export const InvalidLsn = 0

/** PostgreSQL's text form of an LSN, for schemas that check it (the state journal). */
export const lsnPattern = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/
const LSN_TEXT = lsnPattern

/** `"16/B374D848"` -> number. Throws `LsnError` on bad text or a value >= 2^53. */
export const parseLsn = (text: string): number => {
  const match = LSN_TEXT.exec(text)
  if (match === null) throw new LsnError({ input: text, reason: "expected two hex numbers like 16/B374D848" })
  const hi = parseInt(match[1]!, 16)
  if (hi >= MAX_EXACT_HI) throw new LsnError({ input: text, reason: "at or above 2^53, not exactly representable" })
  return hi * TWO_POW_32 + parseInt(match[2]!, 16)
}

/** `parseLsn` without the throw: undefined for bad text or a value >= 2^53. */
export const parseLsnOrUndefined = (text: string): number | undefined => {
  const match = LSN_TEXT.exec(text)
  if (match === null) return undefined
  const hi = parseInt(match[1]!, 16)
  return hi >= MAX_EXACT_HI ? undefined : hi * TWO_POW_32 + parseInt(match[2]!, 16)
}

/** number -> `"16/B374D848"` (uppercase, no leading zeros, like PostgreSQL's pg_lsn output). */
export const formatLsn = (lsn: number): string => {
  if (!Number.isSafeInteger(lsn) || lsn < 0) {
    throw new LsnError({ input: String(lsn), reason: "not a non-negative integer below 2^53" })
  }
  const hi = Math.floor(lsn / TWO_POW_32)
  const lo = lsn - hi * TWO_POW_32
  // Called once per emitted change: the high half changes every 4 GiB of WAL, so keep its text.
  if (hi !== lastHi) {
    lastHi = hi
    lastHiText = hi.toString(16).toUpperCase() + "/"
  }
  return lastHiText + hex32(lo)
}
let lastHi = -1
let lastHiText = ""

const HEX_DIGITS = "0123456789ABCDEF"
/** Two uppercase hex digits per byte value ... */
const BYTE_HEX = Array.from({ length: 256 }, (_, b) => HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!)
/** ... and without the leading zero, for the first byte written. */
const LEADING_BYTE_HEX = BYTE_HEX.map((text, b) => (b < 16 ? text.slice(1) : text))

/**
 * An unsigned 32-bit number as uppercase hex without leading zeros, from a
 * byte table: about 4x faster than `toString(16).toUpperCase()`, which was
 * 3-4% of a drain's CPU (one call per emitted change).
 */
const hex32 = (n: number): string => {
  const b3 = n >>> 24
  const b2 = (n >>> 16) & 255
  const b1 = (n >>> 8) & 255
  const b0 = n & 255
  if (b3 !== 0) return LEADING_BYTE_HEX[b3]! + BYTE_HEX[b2]! + BYTE_HEX[b1]! + BYTE_HEX[b0]!
  if (b2 !== 0) return LEADING_BYTE_HEX[b2]! + BYTE_HEX[b1]! + BYTE_HEX[b0]!
  if (b1 !== 0) return LEADING_BYTE_HEX[b1]! + BYTE_HEX[b0]!
  return LEADING_BYTE_HEX[b0]!
}

/**
 * Reads a big-endian unsigned 64-bit LSN at `offset`. The caller has checked
 * that 8 bytes are available. Throws `LsnError` when the value is >= 2^53.
 */
export const readLsn = (buf: Buffer, offset: number): number => {
  const hi = buf.readUInt32BE(offset)
  if (hi >= MAX_EXACT_HI) {
    throw new LsnError({ input: buf.toString("hex", offset, offset + 8), reason: "at or above 2^53, not exactly representable" })
  }
  return hi * TWO_POW_32 + buf.readUInt32BE(offset + 4)
}

/** Writes `lsn` as a big-endian unsigned 64-bit integer at `offset`. */
export const writeLsn = (buf: Buffer, offset: number, lsn: number): void => {
  if (!Number.isSafeInteger(lsn) || lsn < 0) {
    throw new LsnError({ input: String(lsn), reason: "not a non-negative integer below 2^53" })
  }
  const hi = Math.floor(lsn / TWO_POW_32)
  buf.writeUInt32BE(hi, offset)
  buf.writeUInt32BE(lsn - hi * TWO_POW_32, offset + 4)
}

// ---------------------------------------------------------------------------
// Timestamps

/** 2000-01-01T00:00:00Z in Unix milliseconds. */
export const PG_EPOCH_UNIX_MS = 946_684_800_000
/** The same in microseconds (exact: far below 2^53). */
export const PG_EPOCH_UNIX_US = PG_EPOCH_UNIX_MS * 1000

/** Microseconds since the PostgreSQL epoch -> Unix milliseconds (floored, for `ts_ms`). */
export const pgEpochMicrosToUnixMs = (micros: number): number => Math.floor(micros / 1000) + PG_EPOCH_UNIX_MS

/** Microseconds since the PostgreSQL epoch -> Date (a Date holds milliseconds, the rest is dropped). */
export const pgEpochMicrosToDate = (micros: number): Date => new Date(pgEpochMicrosToUnixMs(micros))

/** Microseconds since the PostgreSQL epoch -> `"2026-11-23T20:00:00.123456Z"`, microseconds kept. */
export const pgEpochMicrosToIso = (micros: number): string => {
  const ms = Math.floor(micros / 1000)
  const subMillisMicros = micros - ms * 1000
  const iso = new Date(ms + PG_EPOCH_UNIX_MS).toISOString()
  // toISOString always ends in ".mmmZ"; append the three microsecond digits.
  return `${iso.slice(0, -1)}${subMillisMicros < 10 ? "00" : subMillisMicros < 100 ? "0" : ""}${subMillisMicros}Z`
}

/** Unix milliseconds -> microseconds since the PostgreSQL epoch. */
export const unixMsToPgEpochMicros = (unixMs: number): number => (unixMs - PG_EPOCH_UNIX_MS) * 1000

/** Date -> microseconds since the PostgreSQL epoch. */
export const dateToPgEpochMicros = (date: Date): number => unixMsToPgEpochMicros(date.getTime())

/** The current time as microseconds since the PostgreSQL epoch (millisecond resolution). */
export const nowPgEpochMicros = (): number => unixMsToPgEpochMicros(Date.now())

/**
 * Reads a big-endian signed 64-bit TimestampTz at `offset` as a number.
 * Values outside ±2^53 (about ±285 years from 2000) are not real timestamps
 * here; callers that must reject them check with `isExactInt64High`.
 */
export const readInt64 = (buf: Buffer, offset: number): number =>
  buf.readInt32BE(offset) * TWO_POW_32 + buf.readUInt32BE(offset + 4)

/** Writes a signed integer (|n| < 2^53) as a big-endian 64-bit value at `offset`. */
export const writeInt64 = (buf: Buffer, offset: number, n: number): void => {
  const hi = Math.floor(n / TWO_POW_32)
  buf.writeInt32BE(hi, offset)
  buf.writeUInt32BE(n - hi * TWO_POW_32, offset + 4)
}

/** True when a signed 64-bit value with this high half is exact as a number. */
export const isExactInt64High = (hi: number): boolean => hi < MAX_EXACT_HI && hi >= -MAX_EXACT_HI
