/** Debezium's PostgreSQL type mapping: schemas and values from PostgreSQL's text form. */
import { describe, expect, it } from "vitest"
import { debeziumColumnType, defaultModes } from "../../../src/event/formats/debezium/types.js"
import {
  daysFromCivil,
  twosComplementBase64,
  writeDebeziumDate,
  writeDebeziumMicroTime,
  writeDebeziumMicroTimestamp,
  writeDebeziumZonedTime,
  javaHashMapOrder
} from "../../../src/event/formats/debezium/values.js"
import { TypeRegistry } from "../../../src/event/values/TypeRegistry.js"

const registry = new TypeRegistry()
registry.register([
  { oid: 90001, name: "mood", schema: "public", type: "e", baseType: 0, element: 0, delimiter: ",", category: "E", labels: ["sad", "ok", "happy"] },
  { oid: 90002, name: "_mood", schema: "public", type: "b", baseType: 0, element: 90001, delimiter: ",", category: "A", labels: [] },
  { oid: 90003, name: "money_amount", schema: "public", type: "d", baseType: 1700, element: 0, delimiter: ",", category: "N", labels: [] },
  { oid: 90004, name: "hstore", schema: "public", type: "b", baseType: 0, element: 0, delimiter: ",", category: "U", labels: [] }
])

const numericMod = (precision: number, scale: number) => ((precision << 16) | scale) + 4
const convert = (oid: number, text: string, typeMod = -1) => debeziumColumnType(registry, oid, typeMod).writer(text)
const schemaOf = (oid: number, typeMod = -1) => debeziumColumnType(registry, oid, typeMod).schema

/** Java's BigInteger(bytes) of a base64 string, for checking the unscaled value. */
const fromTwosComplement = (b64: string): bigint => {
  const bytes = Buffer.from(b64, "base64")
  let n = 0n
  for (const byte of bytes) n = (n << 8n) | BigInt(byte)
  return bytes[0]! >= 0x80 ? n - (1n << BigInt(bytes.length * 8)) : n
}

describe("debezium type mapping", () => {
  it("maps integers, floats and booleans to Connect primitives", () => {
    expect(schemaOf(21)).toEqual({ type: "int16" })
    expect(schemaOf(23)).toEqual({ type: "int32" })
    expect(schemaOf(20)).toEqual({ type: "int64" })
    expect(schemaOf(700)).toEqual({ type: "float" })
    expect(schemaOf(701)).toEqual({ type: "double" })
    expect(schemaOf(16)).toEqual({ type: "boolean" })
    expect(convert(20, "9223372036854775807")).toBe("9223372036854775807")
    expect(convert(16, "t")).toBe("true")
    expect(convert(701, "1.5")).toBe("1.5")
  })

  it("maps text types, uuid and json to strings with Debezium's semantic names", () => {
    expect(schemaOf(25)).toEqual({ type: "string" })
    expect(schemaOf(1043)).toEqual({ type: "string" })
    expect(schemaOf(2950)).toEqual({ type: "string", name: "io.debezium.data.Uuid", version: 1 })
    expect(schemaOf(3802)).toEqual({ type: "string", name: "io.debezium.data.Json", version: 1 })
    // The JSON document is a string value, not embedded.
    expect(convert(3802, `{"a": 1}`)).toBe(JSON.stringify(`{"a": 1}`))
    expect(convert(25, `say "hi"`)).toBe(JSON.stringify(`say "hi"`))
  })

  it("maps numeric(p,s) to Connect Decimal bytes and unconstrained numeric to VariableScaleDecimal", () => {
    expect(schemaOf(1700, numericMod(10, 2))).toEqual({
      type: "bytes",
      name: "org.apache.kafka.connect.data.Decimal",
      version: 1,
      parameters: { scale: "2", "connect.decimal.precision": "10" }
    })
    const decimal = JSON.parse(convert(1700, "10.50", numericMod(10, 2)))
    expect(fromTwosComplement(decimal)).toBe(1050n)
    expect(fromTwosComplement(JSON.parse(convert(1700, "-0.01", numericMod(10, 2))))).toBe(-1n)
    expect(fromTwosComplement(JSON.parse(convert(1700, "12345678.99", numericMod(10, 2))))).toBe(1234567899n)
    expect(convert(1700, "NaN", numericMod(10, 2))).toBe("null")
    expect(schemaOf(1700)["name"]).toBe("io.debezium.data.VariableScaleDecimal")
    expect(JSON.parse(convert(1700, "-3.14159"))).toEqual({ scale: 5, value: twosComplementBase64(-314159n) })
    // A domain over numeric converts like numeric.
    expect(schemaOf(90003)["name"]).toBe("io.debezium.data.VariableScaleDecimal")
  })

  it("writes two's complement like Java's BigInteger.toByteArray", () => {
    expect(Buffer.from(twosComplementBase64(0n), "base64")).toEqual(Buffer.from([0]))
    expect(Buffer.from(twosComplementBase64(127n), "base64")).toEqual(Buffer.from([0x7f]))
    expect(Buffer.from(twosComplementBase64(128n), "base64")).toEqual(Buffer.from([0x00, 0x80]))
    expect(Buffer.from(twosComplementBase64(-1n), "base64")).toEqual(Buffer.from([0xff]))
    expect(Buffer.from(twosComplementBase64(-128n), "base64")).toEqual(Buffer.from([0x80]))
    expect(Buffer.from(twosComplementBase64(-129n), "base64")).toEqual(Buffer.from([0xff, 0x7f]))
    for (const n of [1n, 255n, 256n, -256n, -257n, 10n ** 30n, -(10n ** 30n)]) {
      expect(fromTwosComplement(twosComplementBase64(n))).toBe(n)
    }
  })

  it("maps temporal types to Debezium's microsecond types", () => {
    expect(schemaOf(1082)).toEqual({ type: "int32", name: "io.debezium.time.Date", version: 1 })
    expect(schemaOf(1114)).toEqual({ type: "int64", name: "io.debezium.time.MicroTimestamp", version: 1 })
    expect(schemaOf(1083)).toEqual({ type: "int64", name: "io.debezium.time.MicroTime", version: 1 })
    expect(schemaOf(1184)).toEqual({ type: "string", name: "io.debezium.time.ZonedTimestamp", version: 1 })
    expect(writeDebeziumDate("1970-01-01")).toBe("0")
    expect(writeDebeziumDate("2026-11-23")).toBe(String(Date.UTC(2026, 10, 23) / 86_400_000))
    expect(writeDebeziumDate("1969-12-31")).toBe("-1")
    expect(writeDebeziumDate("0001-01-01 BC")).toBe(String(daysFromCivil(0, 1, 1)))
    // ±infinity as Debezium 3.7 writes them (measured side by side).
    expect(writeDebeziumDate("infinity")).toBe("2146033979")
    expect(writeDebeziumDate("-infinity")).toBe("-2147472691")
    expect(writeDebeziumMicroTimestamp("infinity")).toBe("9223372036854775807")
    expect(writeDebeziumMicroTimestamp("-infinity")).toBe("-9223372036854775808")
    expect(writeDebeziumMicroTimestamp("2026-11-23 20:00:00.123456")).toBe(String(Date.UTC(2026, 10, 23, 20) * 1000 + 123456))
    expect(writeDebeziumMicroTimestamp("1969-12-31 23:59:59.5")).toBe("-500000")
    expect(writeDebeziumMicroTimestamp("9999-12-31 23:59:59.999999")).toBe(String(BigInt(Date.UTC(9999, 11, 31, 23, 59, 59)) * 1000n + 999999n))
    expect(writeDebeziumMicroTime("20:00:00.25")).toBe(String(72_000_250_000))
    expect(convert(1184, "2026-11-23 20:00:00.123456+00")).toBe(`"2026-11-23T20:00:00.123456Z"`)
    expect(writeDebeziumZonedTime("01:30:00.5+02")).toBe(`"23:30:00.5Z"`)
  })

  it("follows time.precision.mode=adaptive and pads zoned timestamps to the column's precision, as Debezium", () => {
    expect(schemaOf(1083, 3)).toEqual({ type: "int32", name: "io.debezium.time.Time", version: 1 })
    expect(convert(1083, "20:00:00.123", 3)).toBe("72000123")
    expect(schemaOf(1083, 4)).toEqual({ type: "int64", name: "io.debezium.time.MicroTime", version: 1 })
    expect(schemaOf(1114, 0)).toEqual({ type: "int64", name: "io.debezium.time.Timestamp", version: 1 })
    expect(convert(1114, "2026-11-23 20:00:00.123", 3)).toBe(String(Date.UTC(2026, 10, 23, 20) + 123))
    expect(convert(1114, "infinity", 3)).toBe("9223372036854775807")
    expect(convert(1184, "2026-11-23 20:00:00.5+02")).toBe(`"2026-11-23T18:00:00.500000Z"`)
    expect(convert(1184, "2026-11-23 20:00:00+00")).toBe(`"2026-11-23T20:00:00.000000Z"`)
    expect(convert(1184, "2026-11-23 20:00:00.5+00", 3)).toBe(`"2026-11-23T20:00:00.500Z"`)
    expect(convert(1184, "2026-11-23 20:00:00.5+00", 0)).toBe(`"2026-11-23T20:00:00Z"`)
    expect(convert(1184, "infinity")).toBe(`"infinity"`)
  })

  it("writes interval as MicroDuration, money as Decimal(scale 2), bit strings as Bits, bit(1) as boolean", () => {
    expect(schemaOf(1186)).toEqual({ type: "int64", name: "io.debezium.time.MicroDuration", version: 1 })
    // Debezium 3.7's own value for this interval (a month is 365.25 / 12 days).
    expect(convert(1186, "1 year 2 mons 3 days 04:05:06.789")).toBe("37091106789000")
    expect(convert(1186, "-1 days +02:00:00")).toBe(String((-86400 + 7200) * 1e6))
    expect(convert(1186, "00:00:00.000001")).toBe("1")
    expect(schemaOf(790)).toEqual({ type: "bytes", name: "org.apache.kafka.connect.data.Decimal", version: 1, parameters: { scale: "2" } })
    expect(fromTwosComplement(JSON.parse(convert(790, "$12.50")))).toBe(1250n)
    expect(fromTwosComplement(JSON.parse(convert(790, "-$1,234.50")))).toBe(-123450n)
    expect(schemaOf(1560, 3)).toEqual({ type: "bytes", name: "io.debezium.data.Bits", version: 1, parameters: { length: "3" } })
    expect(convert(1560, "101", 3)).toBe(`"BQ=="`)
    expect(convert(1562, "11")).toBe(`"Aw=="`)
    expect(convert(1562, "0000000100000010")).toBe(`"${Buffer.from([0x02, 0x01]).toString("base64")}"`)
    expect(schemaOf(1562)).toEqual({ type: "bytes", name: "io.debezium.data.Bits", version: 1, parameters: { length: "2147483647" } })
    expect(schemaOf(1560, 1)).toEqual({ type: "boolean" })
    expect(convert(1560, "1", 1)).toBe("true")
  })

  it("writes point as Debezium's geometry Point struct with its WKB", () => {
    expect(schemaOf(600)).toMatchObject({ type: "struct", name: "io.debezium.data.geometry.Point", version: 1 })
    // Debezium 3.7's own value for '(1.5,2)'.
    expect(JSON.parse(convert(600, "(1.5,2)"))).toEqual({ x: 1.5, y: 2, wkb: "AQEAAAAAAAAAAAD4PwAAAAAAAABA", srid: null })
    expect(convert(600, "(1.5,2)")).toContain(`"y":2.0`)
  })

  it("writes hstore as a JSON object string in the key order of Debezium's java.util.HashMap", () => {
    expect(schemaOf(90004)).toEqual({ type: "string", name: "io.debezium.data.Json", version: 1 })
    // Debezium 3.7's own output for 'k=>v, x=>NULL' (measured side by side).
    expect(JSON.parse(convert(90004, `"k"=>"v", "x"=>NULL`))).toBe(`{"x":null,"k":"v"}`)
    expect(JSON.parse(convert(90004, `"a\\"b"=>"c\\\\d"`))).toBe(`{"a\\"b":"c\\\\d"}`)
    expect(JSON.parse(convert(90004, ""))).toBe("{}")
    // Past 12 keys the map doubles to 32 buckets, which reorders them.
    expect(javaHashMapOrder(["b", "a"])).toEqual(["a", "b"])
    const many = Array.from({ length: 13 }, (_, i) => `k${i}`)
    expect(javaHashMapOrder(many).sort()).toEqual([...many].sort())
  })

  it("maps bytea to bytes, arrays to arrays of the element schema, enums to Debezium's Enum", () => {
    expect(schemaOf(17)).toEqual({ type: "bytes" })
    expect(convert(17, "\\x00ff")).toBe(`"AP8="`)
    expect(schemaOf(1007)).toEqual({ type: "array", items: { type: "int32", optional: true } })
    expect(convert(1007, "{1,NULL,3}")).toBe("[1,null,3]")
    // More dimensions than the schema's one: Debezium's one null per sub-array, or a stop when asked.
    expect(convert(1007, "{{1,2},{3,NULL}}")).toBe("[null,null]")
    expect(convert(1007, "[0:1][1:2]={{1,2},{3,4}}")).toBe("[null,null]")
    const failing = debeziumColumnType(registry, 1007, -1, { ...defaultModes, multidimensionalArrays: "fail" }).writer
    expect(() => failing("{{1,2},{3,4}}")).toThrow(/multi-dimensional array/)
    expect(failing("{1,2}")).toBe("[1,2]")
    expect(schemaOf(1009)).toEqual({ type: "array", items: { type: "string", optional: true } })
    expect(convert(1009, `{a,"b c"}`)).toBe(`["a","b c"]`)
    const enumSchema = { type: "string", name: "io.debezium.data.Enum", version: 1, parameters: { allowed: "sad,ok,happy" } }
    expect(schemaOf(90001)).toEqual(enumSchema)
    expect(convert(90001, "happy")).toBe(`"happy"`)
    expect(schemaOf(90002)).toEqual({ type: "array", items: { ...enumSchema, optional: true } })
    expect(convert(1182, "{2026-11-23,NULL}")).toBe(`[${Date.UTC(2026, 10, 23) / 86_400_000},null]`)
  })
})

describe("Decimal bytes for formats that write bytes", () => {
  it("are the bytes of the base64 the debezium format writes, for short and long values", async () => {
    const { decimalBytes, decimalWriter } = await import("../../../src/event/formats/debezium/values.js")
    for (const [scale, texts] of [
      [2, ["0.00", "0.01", "-0.01", "1.28", "-1.28", "-1.29", "12.34", "-1234.50", "99999999999999.99", "-92233720368547758.08", "123456789012345678901234.56"]],
      [0, ["0", "127", "128", "-128", "-129", "255", "256", "9007199254740993"]]
    ] as const) {
      for (const text of texts) {
        expect(decimalBytes(scale)(text)!.toString("base64"), text).toBe(JSON.parse(decimalWriter(scale)(text)))
      }
    }
    expect(decimalBytes(2)("NaN")).toBeNull()
  })
})
