/**
 * Debezium's value writers on bytes (see values/byteWriters.ts): fast paths
 * that write a column's value from its text in the replication message
 * straight into the Router's slabs, for the types whose Debezium form is a
 * conversion rather than a copy. Each falls back to the text writer it
 * mirrors for anything outside its fast path, so the text writer stays the
 * one definition of the conversion (the unit tests hold them equal).
 */
import type { JsonBytes } from "../../record/JsonBytes.js"
import { type ByteWriter, viaText } from "../../values/byteWriters.js"
import type { JsonWriter } from "../../values/writers.js"

const BASE64 = Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "latin1")

/** Reused per value: the minimal two's-complement bytes of an unscaled decimal of at most 15 digits (7 bytes). */
const scratch = new Uint8Array(8)

/**
 * numeric(p, s) as org.apache.kafka.connect.data.Decimal: the base64 of the
 * unscaled value's minimal big-endian two's complement (Java's
 * BigInteger.toByteArray()). Text of the column's scale with at most 15
 * digits is read in place with double arithmetic (exact below 2^53); longer
 * or odd text takes `text`, the writer this mirrors.
 */
export const decimalByteWriter = (scale: number, text: JsonWriter): ByteWriter => {
  const slow = viaText(text)
  return (out, src, start, end) => {
    let i = start
    const negative = src[i] === 0x2d
    if (negative) i++
    let n = 0
    let digits = 0
    let fraction = -1
    for (; i < end; i++) {
      const c = src[i]!
      if (c >= 0x30 && c <= 0x39) {
        n = n * 10 + (c - 0x30)
        digits++
        if (fraction >= 0) fraction++
      } else if (c === 0x2e && fraction < 0) fraction = 0
      else return slow(out, src, start, end) // NaN, Infinity, anything unexpected
    }
    if (digits === 0 || digits > 15 || (fraction < 0 ? 0 : fraction) !== scale) return slow(out, src, start, end)
    if (negative) n = -n
    // Little end first into the scratch, until the sign bit of the top byte is the value's.
    let count = 0
    for (;;) {
      const low = ((n % 256) + 256) % 256
      scratch[count++] = low
      n = (n - low) / 256
      if ((n === 0 && (low & 0x80) === 0) || (n === -1 && (low & 0x80) !== 0)) break
    }
    writeBase64Reversed(out, scratch, count)
  }
}

/** `"` + base64 of `bytes[count - 1] .. bytes[0]` (big-endian of a little-endian scratch) + `"`. */
const writeBase64Reversed = (out: JsonBytes, bytes: Uint8Array, count: number): void => {
  out.ensure(4 * Math.ceil(count / 3) + 2)
  const buf = out.buf
  let p = out.pos
  buf[p++] = 0x22
  let k = count - 1
  while (k >= 2) {
    const triple = (bytes[k]! << 16) | (bytes[k - 1]! << 8) | bytes[k - 2]!
    buf[p++] = BASE64[triple >> 18]!
    buf[p++] = BASE64[(triple >> 12) & 63]!
    buf[p++] = BASE64[(triple >> 6) & 63]!
    buf[p++] = BASE64[triple & 63]!
    k -= 3
  }
  if (k === 1) {
    const pair = (bytes[1]! << 8) | bytes[0]!
    buf[p++] = BASE64[pair >> 10]!
    buf[p++] = BASE64[(pair >> 4) & 63]!
    buf[p++] = BASE64[(pair << 2) & 63]!
    buf[p++] = 0x3d // '='
  } else if (k === 0) {
    const single = bytes[0]!
    buf[p++] = BASE64[single >> 2]!
    buf[p++] = BASE64[(single << 4) & 63]!
    buf[p++] = 0x3d
    buf[p++] = 0x3d
  }
  buf[p++] = 0x22
  out.pos = p
}

/**
 * timestamptz as io.debezium.time.ZonedTimestamp: "2026-11-23 20:00:00.12+00"
 * -> "2026-11-23T20:00:00.120000Z", the fraction padded to the column's
 * precision. The replication session's zone is UTC, so the text nearly
 * always ends in "+00" with a four-digit year; anything else (other offsets,
 * BC, infinity, years past 9999) takes `text`, the writer this mirrors.
 */
export const zonedTimestampByteWriter = (precision: number, text: JsonWriter): ByteWriter => {
  const slow = viaText(text)
  return (out, src, start, end) => {
    const length = end - start
    // "YYYY-MM-DD HH:MM:SS" is 19 bytes, then an optional fraction, then "+00".
    if (length < 22 || src[start + 10] !== 0x20 || src[start + 4] !== 0x2d || src[end - 3] !== 0x2b || src[end - 2] !== 0x30 || src[end - 1] !== 0x30) {
      return slow(out, src, start, end)
    }
    const fractionDigits = length === 22 ? 0 : length - 23 // after "." at start + 19
    if (length === 23 || fractionDigits > precision || (fractionDigits > 0 && src[start + 19] !== 0x2e)) return slow(out, src, start, end)
    out.ensure(precision + 24)
    const buf = out.buf
    let p = out.pos
    buf[p++] = 0x22
    for (let i = start; i < start + 10; i++) buf[p++] = src[i]!
    buf[p++] = 0x54 // 'T'
    for (let i = start + 11; i < start + 19; i++) buf[p++] = src[i]!
    if (precision > 0) {
      buf[p++] = 0x2e
      for (let d = 0; d < precision; d++) buf[p++] = d < fractionDigits ? src[start + 20 + d]! : 0x30
    }
    buf[p++] = 0x5a // 'Z'
    buf[p++] = 0x22
    out.pos = p
  }
}
