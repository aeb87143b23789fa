/**
 * Per-type converters from PostgreSQL's text output (with the session
 * settings the replication connection sets: DateStyle=ISO, TimeZone=UTC,
 * extra_float_digits=3, bytea_output=hex, IntervalStyle=postgres) to a JSON
 * text fragment. They run once per column per row: no parsing into JS values
 * where the text already is valid JSON, no regular expressions.
 */
import { jsonString } from "./jsonString.js"
import { valueTextError } from "./ValueTextError.js"

/** Returns the JSON text for one non-null column value given in text form. */
export type JsonWriter = (text: string) => string

/** The text already is a JSON number (int2, int4, int8 with all its digits, oid). */
export const writeVerbatim: JsonWriter = (text) => text

/** Any text as a JSON string: the default for every type without its own rule. */
export const writeString: JsonWriter = jsonString

/** float4/float8: a JSON number, except NaN, Infinity and -Infinity, which JSON has not. */
export const writeFloat: JsonWriter = (text) => {
  const c = text.charCodeAt(0)
  // 'N'aN, 'I'nfinity, '-I'nfinity; every finite output starts with a digit or '-' digit.
  if (c === 0x4e || c === 0x49 || (c === 0x2d && text.charCodeAt(1) === 0x49)) return "\"" + text + "\""
  return text
}

/** numeric: an exact string ("10.50"); NaN/Infinity are strings too. Its text never needs escaping. */
export const writeNumeric: JsonWriter = (text) => "\"" + text + "\""

/** bool: the output function writes `t` or `f`. */
export const writeBool: JsonWriter = (text) => {
  if (text === "t") return "true"
  if (text === "f") return "false"
  throw valueTextError("bool is neither t nor f", text)
}

/** json/jsonb: the server's text is valid JSON (jsonb's is canonical), embedded as is. */
export const writeJson: JsonWriter = (text) => text

/** bytea's text form as bytes: `\x` hex is what bytea_output=hex gives; the escape format is accepted too. */
export const byteaBytes = (text: string): Buffer => {
  if (text.charCodeAt(0) === 0x5c && text.charCodeAt(1) === 0x78) {
    const hex = text.substring(2)
    if ((hex.length & 1) !== 0) throw valueTextError("bytea hex text has an odd number of digits", text)
    const bytes = Buffer.from(hex, "hex")
    if (bytes.length * 2 !== hex.length) throw valueTextError("bytea hex text has a non-hex digit", text)
    return bytes
  }
  return decodeByteaEscape(text)
}

/** bytea: base64 of the bytes. */
export const writeBytea: JsonWriter = (text) => "\"" + byteaBytes(text).toString("base64") + "\""

const decodeByteaEscape = (text: string): Buffer => {
  const out = Buffer.allocUnsafe(text.length)
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x5c) {
      if (c > 0xff) throw valueTextError("bytea escape text has a non-byte character", text)
      out[n++] = c
    } else if (text.charCodeAt(i + 1) === 0x5c) {
      out[n++] = 0x5c
      i++
    } else {
      const octal = text.substring(i + 1, i + 4)
      if (!/^[0-3][0-7][0-7]$/.test(octal)) throw valueTextError("bytea escape text has a bad escape", text)
      out[n++] = parseInt(octal, 8)
      i += 3
    }
  }
  return out.subarray(0, n)
}

/**
 * date: as its text ("2026-11-23", "infinity", "-infinity", "0044-03-15 BC"),
 * which never needs escaping.
 */
export const writeDate: JsonWriter = (text) => "\"" + text + "\""

/**
 * timestamp: ISO DateStyle's "2026-11-23 20:00:00.123456" -> "2026-11-23T20:00:00.123456".
 * Only the first space (between date and time) becomes `T`; years past 9999
 * have more digits, BC keeps PostgreSQL's " BC" suffix ("0044-03-15T12:00:00 BC"),
 * infinity/-infinity stay as they are.
 */
export const writeTimestamp: JsonWriter = (text) => {
  const space = text.indexOf(" ")
  if (space < 0) return "\"" + text + "\""
  return "\"" + text.substring(0, space) + "T" + text.substring(space + 1) + "\""
}

/**
 * timestamptz: "2026-11-23 20:00:00.123456+00" -> "2026-11-23T20:00:00.123456Z".
 * The replication session runs with TimeZone=UTC, so the offset is `+00`;
 * any other offset ("+05:30", "-03:00:15") is converted to UTC exactly (the
 * fractional seconds are carried over as text), so the output is always `Z`.
 * BC keeps PostgreSQL's suffix: "0044-03-15T12:00:00Z BC".
 */
export const writeTimestamptz: JsonWriter = (text) => {
  const space = text.indexOf(" ")
  if (space < 0) return "\"" + text + "\"" // infinity, -infinity
  let end = text.length
  let bc = false
  if (text.endsWith(" BC")) {
    end -= 3
    bc = true
  }
  // The zone offset starts at the last '+' or '-' after the time.
  let sign = end - 1
  while (sign > space) {
    const c = text.charCodeAt(sign)
    if (c === 0x2b || c === 0x2d) break
    sign--
  }
  if (sign <= space) throw valueTextError("timestamptz has no zone offset", text)
  const offset = text.substring(sign, end)
  const local = text.substring(0, space) + "T" + text.substring(space + 1, sign)
  if (offset === "+00") return "\"" + local + (bc ? "Z BC\"" : "Z\"")
  return "\"" + shiftToUtc(text, local, offset, bc) + "\""
}

/** Converts "YYYY-MM-DDTHH:MM:SS[.ffffff]" at `offset` ("+05:30") to UTC, same format with `Z`. */
const shiftToUtc = (original: string, local: string, offset: string, bc: boolean): string => {
  const parts = /^(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?$/.exec(local)
  const zone = /^([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?$/.exec(offset)
  if (parts === null || zone === null) throw valueTextError("timestamptz is not in ISO DateStyle", original)
  const year = Number(parts[1])
  // Proleptic Gregorian with a year 0, as both PostgreSQL and Date use: 1 BC is year 0.
  const astronomicalYear = bc ? 1 - year : year
  const offsetSeconds = (zone[1] === "-" ? -1 : 1) *
    (Number(zone[2]) * 3600 + Number(zone[3] ?? 0) * 60 + Number(zone[4] ?? 0))
  const date = new Date(0)
  date.setUTCFullYear(astronomicalYear, Number(parts[2]) - 1, Number(parts[3]))
  date.setUTCHours(Number(parts[4]), Number(parts[5]), Number(parts[6]) - offsetSeconds, 0)
  const y = date.getUTCFullYear()
  const outBc = y <= 0
  const yearText = String(outBc ? 1 - y : y).padStart(4, "0")
  const pad2 = (n: number) => (n < 10 ? "0" + n : String(n))
  return yearText + "-" + pad2(date.getUTCMonth() + 1) + "-" + pad2(date.getUTCDate()) + "T" +
    pad2(date.getUTCHours()) + ":" + pad2(date.getUTCMinutes()) + ":" + pad2(date.getUTCSeconds()) +
    (parts[7] ?? "") + (outBc ? "Z BC" : "Z")
}
