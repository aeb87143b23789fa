/**
 * PostgreSQL column type -> Kafka Connect schema and value writer, following
 * Debezium's PostgreSQL connector, under its value-handling modes
 * (`DebeziumModes`; Debezium's defaults: decimal.handling.mode=precise,
 * time.precision.mode=adaptive, interval.handling.mode=numeric,
 * hstore.handling.mode=json, binary.handling.mode=bytes; docs/formats.md
 * "Format debezium"). Computed once per column per Relation message.
 */
import { arrayWriter } from "../../values/arrayText.js"
import type { ByteWriter } from "../../values/byteWriters.js"
import { decimalByteWriter, zonedTimestampByteWriter } from "./byteWriters.js"
import { valueTextError } from "../../values/ValueTextError.js"
import { builtinArrayElements, Oid } from "../../values/builtinTypes.js"
import type { TypeRegistry } from "../../values/TypeRegistry.js"
import {
  byteaBytes,
  type JsonWriter,
  writeBool,
  writeBytea,
  writeFloat,
  writeString,
  writeTimestamptz,
  writeVerbatim
} from "../../values/writers.js"
import {
  byteaStringWriter,
  decimalBytes,
  decimalWriter,
  moneyAmount,
  writeDebeziumHstoreMap,
  writeDebeziumIntervalString,
  writeConnectTimestamp,
  UNAVAILABLE_VALUE,
  writeDebeziumDate,
  writeDebeziumJson,
  writeDebeziumMicroTime,
  writeDebeziumMicroTimestamp,
  writeDebeziumZonedTime,
  writeDebeziumBit1,
  writeDebeziumBits,
  writeDebeziumMicroDuration,
  writeDebeziumHstore,
  writeDebeziumMoney,
  writeDebeziumPoint,
  writeDebeziumTime,
  writeDebeziumTimestamp,
  writeVariableScaleDecimal,
  zonedTimestampWriter
} from "./values.js"

/** Debezium's value-handling modes (connector properties of the same names, dots as underscores). */
export interface DebeziumModes {
  readonly decimalHandlingMode: "precise" | "double" | "string"
  readonly timePrecisionMode: "adaptive" | "adaptive_time_microseconds" | "connect"
  readonly intervalHandlingMode: "numeric" | "string"
  readonly hstoreHandlingMode: "json" | "map"
  readonly binaryHandlingMode: "bytes" | "base64" | "base64-url-safe" | "hex"
  /** A value of more than one dimension: Debezium's one null per sub-array, or a stop. */
  readonly multidimensionalArrays: "null" | "fail"
}

/** Debezium's defaults. */
export const defaultModes: DebeziumModes = {
  decimalHandlingMode: "precise",
  timePrecisionMode: "adaptive",
  intervalHandlingMode: "numeric",
  hstoreHandlingMode: "json",
  binaryHandlingMode: "bytes",
  multidimensionalArrays: "null"
}

/** A Kafka Connect schema, as JsonConverter writes it (without `field` and `optional`). */
export type ConnectSchema = Readonly<Record<string, unknown>>

export interface DebeziumColumnType {
  readonly schema: ConnectSchema
  readonly writer: JsonWriter
  /** The writer on bytes, for types with a fast path of their own (byteWriters.ts); else the generic one for `writer`. */
  readonly byteWriter?: ByteWriter | undefined
  /** For `bytes` columns that have it: the value's bytes straight from the text (formats that write bytes skip the base64). */
  readonly bytes?: ((text: string) => Buffer | null) | undefined
  /** What stands for an unchanged TOASTed value the server did not send. */
  readonly placeholder: string
}

const named = (type: string, name: string, extra?: Record<string, unknown>): ConnectSchema => ({
  type,
  name,
  version: 1,
  ...extra
})

const stringPlaceholder = JSON.stringify(UNAVAILABLE_VALUE)
const bytesPlaceholder = JSON.stringify(Buffer.from(UNAVAILABLE_VALUE).toString("base64"))

const column = (schema: ConnectSchema, writer: JsonWriter): DebeziumColumnType => ({
  schema,
  writer,
  placeholder: schema["type"] === "string" ? stringPlaceholder : schema["type"] === "bytes" ? bytesPlaceholder : "null"
})

const plainString = column({ type: "string" }, writeString)

const jsonStringOf = (text: string): string => "\"" + text + "\""

/** Fractional-second digits of a time/timestamp column: its typmod, or 6 without one. */
const precisionOf = (typeMod: number): number => (typeMod < 0 ? 6 : typeMod)

/** Built-in scalar types with a rule other than "string holding the text form". */
const scalar = (oid: number, typeMod: number, modes: DebeziumModes): DebeziumColumnType | undefined => {
  switch (oid) {
    case Oid.bool:
      return column({ type: "boolean" }, writeBool)
    case Oid.int2:
      return column({ type: "int16" }, writeVerbatim)
    case Oid.int4:
      return column({ type: "int32" }, writeVerbatim)
    case Oid.int8:
    case Oid.oid:
      return column({ type: "int64" }, writeVerbatim)
    case Oid.float4:
      return column({ type: "float" }, writeFloat)
    case Oid.float8:
      return column({ type: "double" }, writeFloat)
    case Oid.numeric: {
      if (modes.decimalHandlingMode === "double") return column({ type: "double" }, writeFloat)
      if (modes.decimalHandlingMode === "string") return column({ type: "string" }, writeString)
      if (typeMod < 4) {
        return column(
          {
            type: "struct",
            fields: [
              { type: "int32", optional: false, field: "scale" },
              { type: "bytes", optional: false, field: "value" }
            ],
            name: "io.debezium.data.VariableScaleDecimal",
            version: 1,
            doc: "Variable scaled decimal"
          },
          writeVariableScaleDecimal
        )
      }
      const scale = (typeMod - 4) & 0xffff
      const precision = ((typeMod - 4) >> 16) & 0xffff
      return {
        ...column(
          named("bytes", "org.apache.kafka.connect.data.Decimal", {
            parameters: { scale: String(scale), "connect.decimal.precision": String(precision) }
          }),
          decimalWriter(scale)
        ),
        byteWriter: decimalByteWriter(scale, decimalWriter(scale)),
        bytes: decimalBytes(scale)
      }
    }
    case Oid.bytea:
      return modes.binaryHandlingMode === "bytes"
        ? { ...column({ type: "bytes" }, writeBytea), bytes: byteaBytes }
        : column({ type: "string" }, byteaStringWriter(byteaBytes, modes.binaryHandlingMode))
    case Oid.json:
    case Oid.jsonb:
      return column(named("string", "io.debezium.data.Json"), writeDebeziumJson)
    case 142: // xml
      return column(named("string", "io.debezium.data.Xml"), writeString)
    case 2950: // uuid
      return column(named("string", "io.debezium.data.Uuid"), writeString)
    case Oid.date:
      return column(named("int32", modes.timePrecisionMode === "connect" ? "org.apache.kafka.connect.data.Date" : "io.debezium.time.Date"), writeDebeziumDate)
    // adaptive: a precision of at most 3 is milliseconds, else microseconds; adaptive_time_microseconds:
    // time always in microseconds; connect: Kafka Connect's logical types, in milliseconds.
    case 1083: // time
      if (modes.timePrecisionMode === "connect") return column(named("int32", "org.apache.kafka.connect.data.Time"), writeDebeziumTime)
      return precisionOf(typeMod) <= 3 && modes.timePrecisionMode === "adaptive"
        ? column(named("int32", "io.debezium.time.Time"), writeDebeziumTime)
        : column(named("int64", "io.debezium.time.MicroTime"), writeDebeziumMicroTime)
    case 1266: // timetz
      return column(named("string", "io.debezium.time.ZonedTime"), writeDebeziumZonedTime)
    case Oid.timestamp:
      if (modes.timePrecisionMode === "connect") return column(named("int64", "org.apache.kafka.connect.data.Timestamp"), writeConnectTimestamp)
      return precisionOf(typeMod) <= 3
        ? column(named("int64", "io.debezium.time.Timestamp"), writeDebeziumTimestamp)
        : column(named("int64", "io.debezium.time.MicroTimestamp"), writeDebeziumMicroTimestamp)
    case Oid.timestamptz: {
      const writer = zonedTimestampWriter(precisionOf(typeMod), writeTimestamptz)
      return { ...column(named("string", "io.debezium.time.ZonedTimestamp"), writer), byteWriter: zonedTimestampByteWriter(precisionOf(typeMod), writer) }
    }
    case 1186: // interval
      return modes.intervalHandlingMode === "string"
        ? column(named("string", "io.debezium.time.Interval"), writeDebeziumIntervalString)
        : column(named("int64", "io.debezium.time.MicroDuration"), writeDebeziumMicroDuration)
    case 790: // money
      if (modes.decimalHandlingMode === "double") return column({ type: "double" }, (text) => moneyAmount(text))
      if (modes.decimalHandlingMode === "string") return column({ type: "string" }, (text) => jsonStringOf(moneyAmount(text)))
      return column(named("bytes", "org.apache.kafka.connect.data.Decimal", { parameters: { scale: "2" } }), writeDebeziumMoney)
    case 1560: // bit(n): bit(1) is a boolean
      if (typeMod === 1) return column({ type: "boolean" }, writeDebeziumBit1)
      return column(named("bytes", "io.debezium.data.Bits", { parameters: { length: String(typeMod < 0 ? 1 : typeMod) } }), writeDebeziumBits)
    case 600: // point
      return column(
        {
          type: "struct",
          fields: [
            { type: "double", optional: false, field: "x" },
            { type: "double", optional: false, field: "y" },
            { type: "bytes", optional: true, field: "wkb" },
            { type: "int32", optional: true, field: "srid" }
          ],
          name: "io.debezium.data.geometry.Point",
          version: 1,
          doc: "Geometry (POINT)"
        },
        writeDebeziumPoint
      )
    case 1562: // varbit(n)
      return column(
        named("bytes", "io.debezium.data.Bits", { parameters: { length: String(typeMod < 0 ? 2147483647 : typeMod) } }),
        writeDebeziumBits
      )
    default:
      return undefined
  }
}

const builtinElement = new Map<number, number>(builtinArrayElements)

/**
 * The Connect schema and writer for a column of type `oid` (`typeMod` is the
 * column's atttypmod, which for arrays applies to the elements). User types
 * must already be resolved in `registry`: domains follow their base type,
 * arrays their element type, enums and everything else are strings.
 */
export const debeziumColumnType = (
  registry: TypeRegistry,
  oid: number,
  typeMod: number,
  modes: DebeziumModes = defaultModes,
  depth = 0
): DebeziumColumnType => {
  const builtin = scalar(oid, typeMod, modes)
  if (builtin !== undefined) return builtin
  if (depth > 8) return plainString
  const builtinArray = builtinElement.get(oid)
  if (builtinArray !== undefined) {
    return arrayOf(debeziumColumnType(registry, builtinArray, typeMod, modes, depth + 1), builtinArray === Oid.box ? ";" : ",", modes)
  }
  const info = registry.typeInfo(oid)
  if (info === undefined) return plainString
  if (info.type === "d") return debeziumColumnType(registry, info.baseType, typeMod, modes, depth + 1)
  if (info.category === "A" && info.element !== 0) {
    return arrayOf(debeziumColumnType(registry, info.element, typeMod, modes, depth + 1), info.delimiter, modes)
  }
  // Enums: the label, with the labels as `allowed` (as of when the type was first seen).
  if (info.type === "e") return column(named("string", "io.debezium.data.Enum", { parameters: { allowed: info.labels.join(",") } }), writeString)
  if (info.name === "hstore") {
    return modes.hstoreHandlingMode === "map"
      ? column({ type: "map", keys: { type: "string", optional: false }, values: { type: "string", optional: true } }, writeDebeziumHstoreMap)
      : column(named("string", "io.debezium.data.Json"), writeDebeziumHstore)
  }
  return plainString
}

/**
 * Whether an array's text has more than one dimension (`{{1,2},{3,4}}`,
 * possibly after a `[1:2][1:2]=` decoration): its first element is an array.
 */
const isMultiDimensional = (text: string): boolean => {
  let i = text.charCodeAt(0) === 0x5b /* [ */ ? text.indexOf("=") + 1 : 0
  if (text.charCodeAt(i) !== 0x7b) return false
  i++
  while (i < text.length && text.charCodeAt(i) === 0x20) i++
  return text.charCodeAt(i) === 0x7b
}

/**
 * Debezium's schema for an array is one-dimensional; a value with more
 * dimensions is written as Debezium's connector writes it, one null per
 * sub-array (`multidimensional_arrays = "null"`, the default), or stops the
 * stream naming the value (`"fail"`), rather than nested arrays a consumer's
 * converter would misread under the schema.
 */
const arrayOf = (element: DebeziumColumnType, delimiter: string, modes: DebeziumModes): DebeziumColumnType => {
  const write = arrayWriter(element.writer, delimiter.length === 1 ? delimiter : ",")
  return {
    schema: { type: "array", items: { ...element.schema, optional: true } },
    writer: (text) => {
      if (!isMultiDimensional(text)) return write(text)
      if (modes.multidimensionalArrays === "fail") {
        throw valueTextError("a multi-dimensional array has no form under Debezium's one-dimensional array schema (multidimensional_arrays = \"fail\")", text)
      }
      const outer = JSON.parse(write(text)) as Array<unknown>
      return "[" + outer.map(() => "null").join(",") + "]"
    },
    placeholder: "null"
  }
}
