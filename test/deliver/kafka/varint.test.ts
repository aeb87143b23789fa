import { assert, describe, it } from "@effect/vitest"
import { Reader } from "@platformatic/kafka"
import { unsignedVarintBytes, varintBytes, writeUnsignedVarint, writeVarint } from "../../../src/deliver/kafka/platformatic/varint.js"

// The client library's reader decodes lengths correctly, but not zigzag values of 2^30 and beyond;
// those are checked against the bytes of Kafka's own ByteUtils tests below.
const samples = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, -8193, 2 ** 27, -(2 ** 27)]

describe("varint", () => {
  it("sizes zigzag varints as Kafka does", () => {
    assert.deepStrictEqual([0, -1, 63, 64, -64, -65, 8191, 8192, 2 ** 30].map(varintBytes), [1, 1, 1, 2, 1, 2, 2, 3, 5])
  })

  it("writes zigzag varints a Kafka reader reads back, in the bytes it said", () => {
    const buffer = Buffer.alloc(5 * samples.length)
    let offset = 0
    for (const value of samples) {
      const end = writeVarint(buffer, offset, value)
      assert.strictEqual(end - offset, varintBytes(value), `size of ${value}`)
      offset = end
    }
    const reader = Reader.from(buffer.subarray(0, offset))
    assert.deepStrictEqual(samples.map(() => reader.readVarInt()), samples)
  })

  it("writes the bytes Kafka's ByteUtils writes, up to the int32 limits", () => {
    const vectors: Array<[number, string]> = [
      [0, "00"],
      [-1, "01"],
      [1, "02"],
      [63, "7e"],
      [-64, "7f"],
      [64, "8001"],
      [-65, "8101"],
      [8191, "fe7f"],
      [-8192, "ff7f"],
      [8192, "808001"],
      [-8193, "818001"],
      [2 ** 31 - 1, "feffffff0f"],
      [-(2 ** 31), "ffffffff0f"]
    ]
    for (const [value, hex] of vectors) {
      const buffer = Buffer.alloc(5)
      const end = writeVarint(buffer, 0, value)
      assert.strictEqual(buffer.subarray(0, end).toString("hex"), hex, `varint of ${value}`)
      assert.strictEqual(varintBytes(value), hex.length / 2, `size of ${value}`)
    }
  })

  it("writes unsigned varints a Kafka reader reads back", () => {
    const values = [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 31 - 1]
    const buffer = Buffer.alloc(5 * values.length)
    let offset = 0
    for (const value of values) {
      const end = writeUnsignedVarint(buffer, offset, value)
      assert.strictEqual(end - offset, unsignedVarintBytes(value), `size of ${value}`)
      offset = end
    }
    const reader = Reader.from(buffer.subarray(0, offset))
    assert.deepStrictEqual(values.map(() => reader.readUnsignedVarInt()), values)
  })
})
