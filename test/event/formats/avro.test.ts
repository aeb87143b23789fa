/**
 * The avro format's parts without servers: Connect schemas become the Avro
 * schemas Confluent's AvroData writes, and our binary encoder's output is
 * what an independent Avro implementation (avsc) reads back.
 */
import avro from "avsc"
import { describe, expect, it } from "vitest"
import { avroName, avroOf } from "../../../src/event/formats/avro/connectSchema.js"
import { AvroWriter, compile } from "../../../src/event/formats/avro/encoder.js"

const envelope = {
  type: "struct",
  name: "shop.public.orders.Envelope",
  version: 2,
  optional: false,
  fields: [
    {
      type: "struct",
      optional: true,
      name: "shop.public.orders.Value",
      field: "before",
      fields: [
        { type: "int64", optional: false, field: "id" },
        { type: "int16", optional: true, field: "qty" },
        { type: "string", optional: false, default: "new", field: "status" },
        {
          type: "bytes",
          optional: true,
          name: "org.apache.kafka.connect.data.Decimal",
          version: 1,
          parameters: { scale: "2", "connect.decimal.precision": "10" },
          field: "total"
        },
        { type: "double", optional: true, field: "ratio" },
        { type: "array", items: { type: "int32", optional: true }, optional: true, field: "tags" },
        { type: "string", optional: true, field: "odd name" }
      ]
    },
    { type: "struct", optional: true, name: "shop.public.orders.Value", field: "after", fields: [] },
    { type: "string", optional: false, field: "op" },
    { type: "int64", optional: true, field: "ts_ns" }
  ]
}
// `after` has the same struct as `before` (the debezium format writes both in full).
envelope.fields[1] = { ...envelope.fields[0]!, field: "after" }

/** avsc reads longs as numbers, refusing those past 2^53: this long type reads them as BigInts. */
const LongAsBigInt = avro.types.LongType.__with({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const b = Buffer.alloc(8)
    b.writeBigInt64LE(n)
    return b
  },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n: unknown) => typeof n === "bigint",
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0)
})

describe("Connect schema -> Avro schema (Confluent AvroData)", () => {
  const { avro: schema } = avroOf(envelope)

  it("names records after the Connect name, defines a record once and refers to it after", () => {
    expect(schema).toMatchObject({ type: "record", name: "Envelope", namespace: "shop.public.orders", "connect.version": 2, "connect.name": "shop.public.orders.Envelope" })
    const fields = (schema as { fields: Array<{ name: string; type: unknown; default?: unknown }> }).fields
    expect(fields[0]).toMatchObject({ name: "before", default: null, type: ["null", { type: "record", name: "Value", namespace: "shop.public.orders" }] })
    expect(fields[1]).toEqual({ name: "after", type: ["null", "shop.public.orders.Value"], default: null })
    expect(fields[3]).toEqual({ name: "ts_ns", type: ["null", "long"], default: null })
  })

  it("writes int16, Decimal, defaults and adjusted names as AvroData does", () => {
    const value = ((schema as { fields: Array<{ type: [string, { fields: Array<Record<string, unknown>> }] }> }).fields[0]!.type[1]).fields
    expect(value[1]).toEqual({ name: "qty", type: ["null", { type: "int", "connect.type": "int16" }], default: null })
    expect(value[2]).toEqual({ name: "status", type: { type: "string", "connect.default": "new" }, default: "new" })
    expect(value[3]).toEqual({
      name: "total",
      type: ["null", {
        type: "bytes",
        scale: 2,
        precision: 10,
        "connect.version": 1,
        "connect.parameters": { scale: "2", "connect.decimal.precision": "10" },
        "connect.name": "org.apache.kafka.connect.data.Decimal",
        logicalType: "decimal"
      }],
      default: null
    })
    expect(value[5]).toEqual({ name: "tags", type: ["null", { type: "array", items: ["null", "int"] }], default: null })
    expect(value[6]!.name).toBe("odd_name")
    expect(avroName("9lives")).toBe("_9lives")
  })

  it("encodes values avsc reads back, longs past 2^53 exact", () => {
    const { avro: schema, fix } = avroOf(envelope)
    const row = { id: 42, qty: 3, status: "paid", total: Buffer.from([0x04, 0x1a]).toString("base64"), ratio: "NaN", tags: [1, null, 3], "odd name": "x" }
    const payload = fix!({ before: null, after: row, op: "c", ts_ns: 1796458290422546000n }) as Record<string, unknown>
    const writer = new AvroWriter()
    compile(schema)(writer, payload)
    const bytes = writer.take(Buffer.alloc(0))
    const exact = avro.Type.forSchema(schema as avro.Schema, { registry: { long: LongAsBigInt }, wrapUnions: true })
    const decoded = exact.fromBuffer(bytes) as Record<string, Record<string, unknown> | null>
    expect(decoded.ts_ns).toEqual({ long: 1796458290422546000n })
    expect(decoded.before).toBeNull()
    const after = (decoded.after as Record<string, Record<string, unknown>>)["shop.public.orders.Value"]!
    expect(after.id).toBe(42n)
    expect(after.qty).toEqual({ int: 3 })
    expect(after.status).toBe("paid")
    expect(after.total).toEqual({ bytes: Buffer.from([0x04, 0x1a]) })
    expect(Number.isNaN((after.ratio as { double: number }).double)).toBe(true)
    expect(after.tags).toEqual({ array: [{ int: 1 }, null, { int: 3 }] })
    expect(after.odd_name).toEqual({ string: "x" })
  })

  it("writes zigzag varints for every int size", () => {
    const writer = new AvroWriter()
    const long = compile("long")
    const type = avro.Type.forSchema("long", { registry: { long: LongAsBigInt } })
    for (const n of [0, -1, 1, 63, -64, 64, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      writer.reset()
      long(writer, n)
      expect(type.fromBuffer(writer.take(Buffer.alloc(0)))).toBe(BigInt(n))
    }
    for (const n of [2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n]) {
      writer.reset()
      long(writer, n)
      expect(type.fromBuffer(writer.take(Buffer.alloc(0)))).toBe(n)
    }
  })
})
