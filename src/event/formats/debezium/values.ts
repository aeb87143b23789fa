/**
 * Column values the way Debezium's PostgreSQL connector writes them through
 * Kafka Connect's JsonConverter, from PostgreSQL's text form (same session
 * settings as the outboxx writers: DateStyle=ISO, TimeZone=UTC,
 * extra_float_digits=3, bytea_output=hex). Each writer returns a JSON text
 * fragment, like the outboxx ones, so rows are built by the same
 * concatenation (src/event/values/rowJson.ts).
 *
 * Temporal types use Debezium's microsecond semantic types
 * (time.precision.mode=adaptive_time_microseconds): date -> io.debezium.time.Date
 * (days since the epoch), time -> MicroTime, timestamp -> MicroTimestamp
 * (microseconds since the epoch, UTC wall clock), timestamptz -> ZonedTimestamp
 * (ISO 8601 string in UTC).
 */
import { jsonString } from "../../values/jsonString.js"
import { valueTextError } from "../../values/ValueTextError.js"
import type { JsonWriter } from "../../values/writers.js"

const digit = (text: string, i: number): number => {
  const d = text.charCodeAt(i) - 0x30
  if (d < 0 || d > 9) throw valueTextError("expected a digit", text)
  return d
}

/** Reads the unsigned integer at `from` up to the first non-digit; returns [value, end]. */
const readInt = (text: string, from: number): [number, number] => {
  let value = 0
  let i = from
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i) - 0x30
    if (d < 0 || d > 9) break
    value = value * 10 + d
  }
  if (i === from) throw valueTextError("expected a number", text)
  return [value, i]
}

/** Days from 1970-01-01 to a proleptic Gregorian date (astronomical year: 1 BC is 0). Exact for any year. */
export const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** "YYYY-MM-DD[ BC]" at the start of `text` -> [days since epoch, index after the date]. */
const parseDate = (text: string): [number, number] => {
  const [year, afterYear] = readInt(text, 0)
  if (text.charCodeAt(afterYear) !== 0x2d || text.charCodeAt(afterYear + 3) !== 0x2d) {
    throw valueTextError("date is not in ISO DateStyle", text)
  }
  const month = digit(text, afterYear + 1) * 10 + digit(text, afterYear + 2)
  const day = digit(text, afterYear + 4) * 10 + digit(text, afterYear + 5)
  const bc = text.endsWith(" BC")
  return [daysFromCivil(bc ? 1 - year : year, month, day), afterYear + 6]
}

/** "HH:MM:SS[.ffffff]" at `from` -> [seconds of day, microseconds, index after it]. */
const parseTime = (text: string, from: number): [number, number, number] => {
  const h = digit(text, from) * 10 + digit(text, from + 1)
  const m = digit(text, from + 3) * 10 + digit(text, from + 4)
  const s = digit(text, from + 6) * 10 + digit(text, from + 7)
  let i = from + 8
  let micros = 0
  if (text.charCodeAt(i) === 0x2e) {
    i++
    let scale = 100000
    while (i < text.length) {
      const d = text.charCodeAt(i) - 0x30
      if (d < 0 || d > 9) break
      micros += d * scale
      scale /= 10
      i++
    }
  }
  return [h * 3600 + m * 60 + s, micros, i]
}

/** seconds * 10^6 + micros as JSON integer text, exact even beyond 2^53. */
const microsText = (seconds: number, micros: number): string => {
  if (Math.abs(seconds) < 9_000_000_000) return String(seconds * 1_000_000 + micros)
  return String(BigInt(seconds) * 1_000_000n + BigInt(micros))
}

/** ±infinity: the output functions print "infinity" / "-infinity". */
const isInfinity = (text: string): boolean => text.charCodeAt(text.length - 1) === 0x79 /* 'y' */

/**
 * The numbers Debezium's connector writes for ±infinity (measured against
 * Debezium 3.7): dates get the day numbers its PostgreSQL driver maps
 * infinity to, timestamps Long.MAX_VALUE / Long.MIN_VALUE.
 */
const INFINITY_DAYS = "2146033979"
const MINUS_INFINITY_DAYS = "-2147472691"
const INFINITY_LONG = "9223372036854775807"
const MINUS_INFINITY_LONG = "-9223372036854775808"
const infinityLong = (text: string): string => (text.charCodeAt(0) === 0x2d ? MINUS_INFINITY_LONG : INFINITY_LONG)

/** date -> int32 io.debezium.time.Date: days since 1970-01-01. */
export const writeDebeziumDate: JsonWriter = (text) =>
  isInfinity(text) ? (text.charCodeAt(0) === 0x2d ? MINUS_INFINITY_DAYS : INFINITY_DAYS) : String(parseDate(text)[0])

/** timestamp -> int64 io.debezium.time.MicroTimestamp: microseconds since the epoch. */
export const writeDebeziumMicroTimestamp: JsonWriter = (text) => {
  if (isInfinity(text)) return infinityLong(text)
  const [days, afterDate] = parseDate(text)
  const [seconds, micros] = parseTime(text, afterDate + 1)
  return microsText(days * 86400 + seconds, micros)
}

/** time -> int64 io.debezium.time.MicroTime: microseconds since midnight. */
export const writeDebeziumMicroTime: JsonWriter = (text) => {
  const [seconds, micros] = parseTime(text, 0)
  return String(seconds * 1_000_000 + micros)
}

/**
 * timetz "20:00:00.5+02" -> string io.debezium.time.ZonedTime "18:00:00.5Z":
 * converted to UTC, like Debezium does (the fraction is kept as text).
 */
export const writeDebeziumZonedTime: JsonWriter = (text) => {
  const [seconds, , end] = parseTime(text, 0)
  const sign = text.charCodeAt(end)
  if (sign !== 0x2b && sign !== 0x2d) throw valueTextError("timetz has no zone offset", text)
  const zone = text.substring(end + 1).split(":")
  const offset = (sign === 0x2d ? -1 : 1) * (Number(zone[0]) * 3600 + Number(zone[1] ?? 0) * 60 + Number(zone[2] ?? 0))
  const fraction = text.substring(8, end)
  let utc = (seconds - offset) % 86400
  if (utc < 0) utc += 86400
  const pad2 = (n: number) => (n < 10 ? "0" + n : String(n))
  return "\"" + pad2(Math.floor(utc / 3600)) + ":" + pad2(Math.floor(utc / 60) % 60) + ":" + pad2(utc % 60) + fraction + "Z\""
}

/** json/jsonb -> string io.debezium.data.Json: the document as a JSON string, not embedded. */
export const writeDebeziumJson: JsonWriter = jsonString

/** Minimal two's-complement big-endian bytes of `n`, as Java's BigInteger.toByteArray(), in base64. */
export const twosComplementBase64 = (n: bigint): string => {
  let hex: string
  if (n >= 0n) {
    hex = n.toString(16)
    if ((hex.length & 1) === 1) hex = "0" + hex
    // A leading byte >= 0x80 would read as negative: add a zero byte.
    if (hex.charCodeAt(0) >= 0x38) hex = "00" + hex
  } else {
    let bytes = Math.ceil((-n).toString(2).length / 8)
    if (-n > 1n << BigInt(bytes * 8 - 1)) bytes++
    hex = ((1n << BigInt(bytes * 8)) + n).toString(16).padStart(bytes * 2, "0")
  }
  return Buffer.from(hex, "hex").toString("base64")
}

/** numeric text -> [unscaled digits with sign, scale], or undefined for NaN/±Infinity. */
const splitNumeric = (text: string): [bigint, number] | undefined => {
  const c = text.charCodeAt(text.charCodeAt(0) === 0x2d ? 1 : 0)
  if (c < 0x30 || c > 0x39) return undefined
  const dot = text.indexOf(".")
  if (dot < 0) return [BigInt(text), 0]
  return [BigInt(text.substring(0, dot) + text.substring(dot + 1)), text.length - dot - 1]
}

/**
 * numeric(p, s) -> bytes org.apache.kafka.connect.data.Decimal (decimal.handling.mode=precise):
 * the unscaled value at the column's scale. NaN and ±Infinity have no Decimal: null.
 */
export const decimalWriter = (scale: number): JsonWriter => (text) => {
  const parts = splitNumeric(text)
  if (parts === undefined) return "null"
  let [unscaled, textScale] = parts
  // The output function always writes exactly the column's scale; adjust defensively.
  if (textScale < scale) unscaled *= 10n ** BigInt(scale - textScale)
  else if (textScale > scale) unscaled /= 10n ** BigInt(textScale - scale)
  return "\"" + twosComplementBase64(unscaled) + "\""
}

/**
 * The same Decimal as bytes (what the base64 of `decimalWriter` holds), for
 * formats that write bytes (avro); null for NaN and ±Infinity. Values of up
 * to 15 digits take double arithmetic, longer ones BigInt.
 */
export const decimalBytes = (scale: number): ((text: string) => Buffer | null) => (text) => {
  const negative = text.charCodeAt(0) === 0x2d
  const c = text.charCodeAt(negative ? 1 : 0)
  if (c < 0x30 || c > 0x39) return null
  const dot = text.indexOf(".")
  const textScale = dot < 0 ? 0 : text.length - dot - 1
  const digits = dot < 0 ? text : text.substring(0, dot) + text.substring(dot + 1)
  if (textScale === scale && digits.length - (negative ? 1 : 0) <= 15) {
    let n = Number(digits)
    // Minimal big-endian two's complement, as Java's BigInteger.toByteArray().
    const bytes: Array<number> = []
    do {
      const low = ((n % 256) + 256) % 256
      bytes.push(low)
      n = (n - low) / 256
    } while (!(n === 0 && (bytes[bytes.length - 1]! & 0x80) === 0) && !(n === -1 && (bytes[bytes.length - 1]! & 0x80) !== 0))
    return Buffer.from(bytes.reverse())
  }
  return Buffer.from(decimalWriter(scale)(text).slice(1, -1), "base64")
}

/**
 * Unconstrained numeric -> struct io.debezium.data.VariableScaleDecimal
 * `{"scale": s, "value": unscaled bytes}`: each value keeps its own scale.
 */
export const writeVariableScaleDecimal: JsonWriter = (text) => {
  const parts = splitNumeric(text)
  if (parts === undefined) return "null"
  return "{\"scale\":" + parts[1] + ",\"value\":\"" + twosComplementBase64(parts[0]) + "\"}"
}

/** Placeholder Debezium writes for an unchanged TOASTed value it was not sent. */
export const UNAVAILABLE_VALUE = "__debezium_unavailable_value"

/** timestamp(p <= 3) -> int64 io.debezium.time.Timestamp: milliseconds since the epoch (time.precision.mode=adaptive). */
export const writeDebeziumTimestamp: JsonWriter = (text) => {
  if (isInfinity(text)) return infinityLong(text)
  const [days, afterDate] = parseDate(text)
  const [seconds, micros] = parseTime(text, afterDate + 1)
  const ms = Math.floor(micros / 1000)
  const s = days * 86400 + seconds
  if (Math.abs(s) < 9_000_000_000_000) return String(s * 1000 + ms)
  return String(BigInt(s) * 1000n + BigInt(ms))
}

/**
 * timestamp -> int64 org.apache.kafka.connect.data.Timestamp (time.precision.mode=connect):
 * milliseconds since the epoch; ±infinity are the numbers Debezium writes in
 * this mode (measured side by side), not Long.MAX / Long.MIN.
 */
export const writeConnectTimestamp: JsonWriter = (text) =>
  isInfinity(text) ? (text.charCodeAt(0) === 0x2d ? "-9223372036832400000" : "9223372036825200000") : writeDebeziumTimestamp(text)

/** time(p <= 3) -> int32 io.debezium.time.Time: milliseconds since midnight (time.precision.mode=adaptive). */
export const writeDebeziumTime: JsonWriter = (text) => {
  const [seconds, micros] = parseTime(text, 0)
  return String(seconds * 1000 + Math.floor(micros / 1000))
}

/**
 * timestamptz -> string io.debezium.time.ZonedTimestamp with the fraction
 * padded to the column's precision (6 without a typmod), as Debezium prints
 * it: "2026-11-23T18:00:00.500000Z". `zoned` is the ISO text the shared
 * writer made ("...:00.5Z"); infinity stays as it is.
 */
export const zonedTimestampWriter = (precision: number, zoned: JsonWriter): JsonWriter => (text) => {
  const iso = zoned(text)
  const z = iso.length - 2 // the closing quote follows the Z
  if (iso.charCodeAt(z) !== 0x5a /* Z */) return iso
  const dot = iso.lastIndexOf(".", z)
  const colon = iso.lastIndexOf(":", z)
  const digits = dot > colon ? z - dot - 1 : 0
  if (digits === precision) return iso
  const whole = dot > colon ? iso.substring(0, dot) : iso.substring(0, z)
  const fraction = dot > colon ? iso.substring(dot + 1, z) : ""
  if (precision === 0) return whole + "Z\""
  return whole + "." + (fraction + "000000").substring(0, precision) + "Z\""
}

/** Debezium's average month: 365.25 / 12 days, in seconds (an exact integer: 2,629,800). */
const SECONDS_PER_MONTH = 2_629_800

/**
 * An interval in PostgreSQL's default IntervalStyle ("1 year 2 mons -3 days
 * 04:05:06.789") as months, days and microseconds, as the server keeps it.
 */
const parseInterval = (text: string): { months: number; days: number; micros: bigint } => {
  let months = 0
  let days = 0
  let micros = 0n
  const parts = text.split(" ")
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    if (part.includes(":")) {
      const negative = part.charCodeAt(0) === 0x2d
      const body = negative || part.charCodeAt(0) === 0x2b ? part.substring(1) : part
      const [h, m, sec] = body.split(":")
      const [whole, frac] = (sec ?? "0").split(".")
      const total = BigInt(Number(h) * 3600 + Number(m) * 60 + Number(whole)) * 1_000_000n +
        BigInt(frac === undefined ? 0 : Number((frac + "000000").substring(0, 6)))
      micros += negative ? -total : total
      continue
    }
    const n = Number(part)
    const unit = parts[++i] ?? ""
    if (Number.isNaN(n)) throw valueTextError("interval is not in the postgres IntervalStyle", text)
    if (unit.startsWith("year")) months += n * 12
    else if (unit.startsWith("mon")) months += n
    else if (unit.startsWith("day")) days += n
    else throw valueTextError(`interval unit "${unit}" is not in the postgres IntervalStyle`, text)
  }
  return { months, days, micros }
}

/**
 * interval -> int64 io.debezium.time.MicroDuration (interval.handling.mode=numeric):
 * microseconds, a month counted as 365.25 / 12 days as Debezium does.
 */
export const writeDebeziumMicroDuration: JsonWriter = (text) => {
  const { months, days, micros } = parseInterval(text)
  return String(BigInt(months * SECONDS_PER_MONTH + days * 86400) * 1_000_000n + micros)
}

/**
 * bit(n > 1) / varbit -> bytes io.debezium.data.Bits: the bit string read as
 * an unsigned integer, little-endian bytes of minimal length (Java's
 * BitSet.toByteArray()), in base64.
 */
export const writeDebeziumBits: JsonWriter = (text) => {
  const bytes: Array<number> = []
  let current = 0
  let bit = 0
  for (let i = text.length - 1; i >= 0; i--) {
    if (text.charCodeAt(i) === 0x31) current |= 1 << bit
    if (++bit === 8) {
      bytes.push(current)
      current = 0
      bit = 0
    }
  }
  if (bit > 0) bytes.push(current)
  while (bytes.length > 0 && bytes[bytes.length - 1] === 0) bytes.pop()
  return "\"" + Buffer.from(bytes).toString("base64") + "\""
}

/**
 * interval -> string io.debezium.time.Interval (interval.handling.mode=string):
 * ISO 8601 with every component, `P<y>Y<m>M<d>DT<h>H<m>M<s>S`, as Debezium's
 * Interval.toIsoString writes it (seconds with their fraction, trailing
 * zeros dropped).
 */
export const writeDebeziumIntervalString: JsonWriter = (text) => {
  const { months, days, micros } = parseInterval(text)
  const years = Math.trunc(months / 12)
  const negative = micros < 0n
  const abs = negative ? -micros : micros
  const hours = abs / 3_600_000_000n
  const minutes = (abs / 60_000_000n) % 60n
  const secondMicros = abs % 60_000_000n
  const sign = negative ? "-" : ""
  let seconds = String(secondMicros / 1_000_000n)
  const fraction = String(secondMicros % 1_000_000n).padStart(6, "0").replace(/0+$/, "")
  if (fraction !== "") seconds += "." + fraction
  return "\"P" + years + "Y" + (months - years * 12) + "M" + days + "DT" + sign + hours + "H" + sign + minutes + "M" + sign + seconds + "S\""
}

/** money -> the amount as a plain decimal text ("-1234.50"), for decimal.handling.mode double and string. */
export const moneyAmount = (text: string): string => {
  const base64 = writeDebeziumMoney(text)
  const bytes = Buffer.from(base64.slice(1, -1), "base64")
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  if (bytes.length > 0 && bytes[0]! >= 0x80) n -= 1n << BigInt(bytes.length * 8)
  const negative = n < 0n
  const digits = String(negative ? -n : n).padStart(3, "0")
  return (negative ? "-" : "") + digits.slice(0, -2) + "." + digits.slice(-2)
}

/** bytea in binary.handling.mode base64 / base64-url-safe / hex: a string. */
export const byteaStringWriter = (bytes: (text: string) => Buffer, mode: "base64" | "base64-url-safe" | "hex"): JsonWriter => (text) => {
  const buffer = bytes(text)
  const base64 = mode === "hex" ? "" : buffer.toString("base64")
  // Java's URL-safe encoder keeps the padding that Node's "base64url" drops.
  return "\"" + (mode === "hex" ? buffer.toString("hex") : mode === "base64" ? base64 : base64.replace(/\+/g, "-").replace(/\//g, "_")) + "\""
}

/** bit(1) -> boolean, as Debezium maps it. */
export const writeDebeziumBit1: JsonWriter = (text) => (text === "1" ? "true" : "false")

/**
 * money -> bytes org.apache.kafka.connect.data.Decimal at scale 2
 * (decimal.handling.mode=precise): the amount without currency symbol or
 * group separators; "($1.00)" and "-$1.00" are negative.
 */
export const writeDebeziumMoney: JsonWriter = (text) => {
  let digits = ""
  let negative = false
  let scale = -1
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x30 && c <= 0x39) {
      digits += text[i]
      if (scale >= 0) scale++
    } else if (c === 0x2e /* . */) scale = 0
    else if (c === 0x2d /* - */ || c === 0x28 /* ( */) negative = true
  }
  if (digits === "") throw valueTextError("money has no digits", text)
  let unscaled = BigInt(digits)
  if (scale < 0) scale = 0
  if (scale < 2) unscaled *= 10n ** BigInt(2 - scale)
  else if (scale > 2) unscaled /= 10n ** BigInt(scale - 2)
  return "\"" + twosComplementBase64(negative ? -unscaled : unscaled) + "\""
}

/** Java's String.hashCode over UTF-16 code units, spread as HashMap does (h ^ h >>> 16). */
const javaHash = (s: string): number => {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0
  return h ^ (h >>> 16)
}

/**
 * The iteration order of a java.util.HashMap filled with `keys` in this
 * order (default capacity 16, doubling past 3/4 full): bucket by bucket,
 * insertion order within a bucket. Debezium serialises hstore values from
 * such a map, so this is the order of its JSON keys.
 */
export const javaHashMapOrder = (keys: ReadonlyArray<string>): Array<string> => {
  let capacity = 16
  while (keys.length > capacity * 0.75) capacity *= 2
  const mask = capacity - 1
  const buckets = new Map<number, Array<string>>()
  for (const key of keys) {
    const index = javaHash(key) & mask
    const bucket = buckets.get(index)
    if (bucket === undefined) buckets.set(index, [key])
    else bucket.push(key)
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, bucket]) => bucket)
}

/** Reads hstore's text form (`"k"=>"v", "x"=>NULL`) into pairs, in text order. */
const parseHstore = (text: string): Array<[string, string | null]> => {
  const pairs: Array<[string, string | null]> = []
  let i = 0
  const quoted = (): string => {
    if (text.charCodeAt(i) !== 0x22) throw valueTextError("hstore key or value is not quoted", text)
    let out = ""
    i++
    while (i < text.length && text.charCodeAt(i) !== 0x22) {
      if (text.charCodeAt(i) === 0x5c) i++
      out += text[i]
      i++
    }
    i++
    return out
  }
  while (i < text.length) {
    while (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x2c) i++
    if (i >= text.length) break
    const key = quoted()
    if (text.substr(i, 2) !== "=>") throw valueTextError("hstore pair has no =>", text)
    i += 2
    if (text.startsWith("NULL", i)) {
      pairs.push([key, null])
      i += 4
    } else pairs.push([key, quoted()])
  }
  return pairs
}

/** hstore -> string io.debezium.data.Json (hstore.handling.mode=json): a JSON object in Debezium's key order. */
export const writeDebeziumHstore: JsonWriter = (text) => jsonString(writeDebeziumHstoreMap(text))

/** hstore -> map<string, string> (hstore.handling.mode=map): the object itself, in the same order. */
export const writeDebeziumHstoreMap: JsonWriter = (text) => {
  const pairs = new Map(parseHstore(text))
  let json = "{"
  for (const key of javaHashMapOrder([...pairs.keys()])) {
    if (json.length > 1) json += ","
    json += JSON.stringify(key) + ":" + JSON.stringify(pairs.get(key) ?? null)
  }
  return json + "}"
}

/**
 * point "(1.5,2)" -> struct io.debezium.data.geometry.Point
 * `{"x":1.5,"y":2.0,"wkb":<base64>,"srid":null}`: the coordinates and their
 * well-known binary (little-endian, type 1), as Debezium writes a point.
 */
export const writeDebeziumPoint: JsonWriter = (text) => {
  const comma = text.indexOf(",")
  if (text.charCodeAt(0) !== 0x28 || comma < 0) throw valueTextError("point is not (x,y)", text)
  const x = Number(text.substring(1, comma))
  const y = Number(text.substring(comma + 1, text.length - 1))
  const wkb = Buffer.alloc(21)
  wkb[0] = 1
  wkb.writeUInt32LE(1, 1)
  wkb.writeDoubleLE(x, 5)
  wkb.writeDoubleLE(y, 13)
  // Java prints a whole double with ".0"; JSON readers take either.
  const number = (n: number) => (Number.isInteger(n) ? n.toFixed(1) : String(n))
  return "{\"x\":" + number(x) + ",\"y\":" + number(y) + ",\"wkb\":\"" + wkb.toString("base64") + "\",\"srid\":null}"
}

/**
 * The constant a column default stands for, in the type's text form, or
 * undefined when the default is not a plain constant (a function such as
 * now() or nextval(), an expression): Debezium puts only constants in the
 * schema. Reads what pg_get_expr prints: `7`, `(-1)`, `1.5`, `true`,
 * `'abc'::text`, `'2026-01-01'::date`, `'-1'::integer`.
 */
export const defaultConstant = (expression: string): string | undefined => {
  let e = expression.trim()
  if (e.startsWith("(") && e.endsWith(")")) e = e.slice(1, -1)
  if (/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(e)) return e
  if (e === "true") return "t"
  if (e === "false") return "f"
  const quoted = /^'((?:[^']|'')*)'(::[\w\s."[\]()]+)?$/.exec(e)
  if (quoted !== null) return quoted[1]!.replaceAll("''", "'")
  return undefined
}
