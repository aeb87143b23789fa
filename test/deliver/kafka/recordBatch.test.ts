import { assert, describe, it } from "@effect/vitest"
import { compressionsAlgorithms, createRecordsBatch, jsCRC32C, NumericMap, readRecordsBatch, Reader } from "@platformatic/kafka"
import type { OutRecord } from "../../../src/deliver/kafka/batching.js"
import {
  BatchBuffers,
  encodeCompressedRecordBatch,
  encodeRecordBatch as encodePieces,
  referencedBytes
} from "../../../src/deliver/kafka/platformatic/recordBatch.js"

const producer = { producerId: 4242n, producerEpoch: 3, baseSequence: 17 }
const timestamp = 1_795_490_000_123

const sample: ReadonlyArray<OutRecord> = [
  { topic: "t", key: `{"id":1}`, value: `{"op":"c","after":{"id":1,"note":"grüße 🚀"}}` },
  { topic: "t", key: Buffer.from("k2"), value: null },
  { topic: "t", key: null, value: Buffer.from("v3") },
  { topic: "t", key: "k4", value: "", headers: { "outboxx.lsn": "0/16B3748", "é": "ü" } },
  { topic: "t", key: "k5", value: "x".repeat(300) }
]
const all = sample.map((_, i) => i)

/** The batch as one buffer (the pieces joined, as the connection does). */
const encodeRecordBatch = (...args: Parameters<typeof encodePieces>): Buffer => Buffer.concat(encodePieces(...args))
const decode = (batch: Buffer) => readRecordsBatch(Reader.from(batch))
const text = (data: Buffer | undefined | null) => (data === undefined || data === null ? null : data.toString("utf8"))
const bytesOf = (data: string | Buffer | null) => (data === null ? null : Buffer.from(data).toString("utf8"))

describe("encodeRecordBatch", () => {
  it("writes what a Kafka reader decodes: records, producer, sequence, timestamps", () => {
    const batch = decode(encodeRecordBatch(sample, all, producer, timestamp))
    assert.strictEqual(batch.magic, 2)
    assert.strictEqual(batch.attributes, 0)
    assert.strictEqual(batch.producerId, 4242n)
    assert.strictEqual(batch.producerEpoch, 3)
    assert.strictEqual(batch.firstSequence, 17)
    assert.strictEqual(batch.lastOffsetDelta, sample.length - 1)
    assert.strictEqual(batch.firstTimestamp, BigInt(timestamp))
    assert.strictEqual(batch.maxTimestamp, BigInt(timestamp))
    assert.strictEqual(batch.records.length, sample.length)
    batch.records.forEach((record, i) => {
      assert.strictEqual(record.offsetDelta, i)
      assert.strictEqual(record.timestampDelta, 0n)
      assert.strictEqual(text(record.key), bytesOf(sample[i]!.key), `key ${i}`)
      assert.strictEqual(text(record.value), bytesOf(sample[i]!.value), `value ${i}`)
    })
    const headers = batch.records[3]!.headers.map(([k, v]) => [String(k), String(v)])
    assert.deepStrictEqual(headers, [["outboxx.lsn", "0/16B3748"], ["é", "ü"]])
  })

  it("keeps nulls apart from empty values (a tombstone is not an empty string)", () => {
    const batch = decode(encodeRecordBatch(sample, all, producer, timestamp))
    assert.isNull(batch.records[1]!.value)
    assert.isNull(batch.records[2]!.key)
    assert.strictEqual(batch.records[3]!.value?.length, 0)
  })

  it("has a correct CRC-32C and length", () => {
    const bytes = encodeRecordBatch(sample, all, producer, timestamp)
    assert.strictEqual(bytes.readInt32BE(8), bytes.length - 12)
    assert.strictEqual(bytes.readUInt32BE(17), jsCRC32C(bytes.subarray(21)))
  })

  it("encodes only the chosen records, renumbered from 0", () => {
    const batch = decode(encodeRecordBatch(sample, [4, 0], producer, timestamp))
    assert.deepStrictEqual(batch.records.map((r) => r.offsetDelta), [0, 1])
    assert.deepStrictEqual(batch.records.map((r) => text(r.key)), ["k5", `{"id":1}`])
  })

  for (const transactionalId of [undefined, "outboxx-slot"]) {
    it(`is byte-identical to the client library's encoder apart from the broker-owned leader epoch${transactionalId === undefined ? "" : " (transactional)"}`, () => {
      // The library takes Buffers and header Maps; it stamps the record's own timestamp.
      const messages = sample.map((r) => ({
        key: r.key === null ? undefined : Buffer.from(r.key),
        value: r.value === null ? undefined : Buffer.from(r.value),
        headers: new Map(Object.entries(r.headers ?? {}).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
        topic: "t",
        partition: 0,
        timestamp: BigInt(timestamp)
      }))
      const theirs = createRecordsBatch(messages as never, {
        producerId: producer.producerId,
        producerEpoch: producer.producerEpoch,
        sequences: new NumericMap([["t:0", producer.baseSequence]]),
        ...(transactionalId === undefined ? {} : { transactionalId })
      }).buffer
      const ours = encodeRecordBatch(sample, all, { ...producer, transactional: transactionalId !== undefined }, timestamp)
      theirs.writeInt32BE(-1, 12)
      assert.strictEqual(ours.toString("hex"), theirs.toString("hex"))
      // Attributes bit 4 is what makes read_committed consumers wait for the commit marker.
      assert.strictEqual((ours.readInt16BE(21) & 0x10) !== 0, transactionalId !== undefined)
    })
  }
})

describe("encodeCompressedRecordBatch", () => {
  for (const codec of ["gzip", "snappy", "lz4", "zstd"] as const) {
    it(`${codec}: names the codec and compresses the records a reader decompresses`, async () => {
      const compress = (raw: Buffer) => compressionsAlgorithms[codec].compressSync(raw) as Buffer
      const bytes = Buffer.concat(await encodeCompressedRecordBatch(sample, all, producer, timestamp, { name: codec, compress }))
      assert.strictEqual(bytes.readUInt32BE(17), jsCRC32C(bytes.subarray(21)))
      const batch = decode(bytes)
      assert.strictEqual(batch.attributes & 0b111, compressionsAlgorithms[codec].bitmask)
      assert.deepStrictEqual(batch.records.map((r) => text(r.value)), sample.map((r) => bytesOf(r.value)))
    })
  }
})

describe("SlabRecord", () => {
  it("encodes its byte ranges exactly as the same record with Buffers", async () => {
    const { SlabRecord } = await import("../../../src/event/record/SlabRecord.js")
    const slab = Buffer.from(`xx{"id":1}{"op":"c"}yy{"id":2}`)
    const records = [
      SlabRecord.make("t", slab, 2, 8, slab, 10, 10),
      SlabRecord.make("t", slab, 22, 8, slab, 10, 10).tombstone(),
      SlabRecord.make("t", slab, 0, -1, slab, 10, 0)
    ]
    const plain: Array<OutRecord> = records.map((r) => ({ topic: r.topic, key: r.key, value: r.value }))
    const ours = encodeRecordBatch(records, [0, 1, 2], producer, timestamp)
    assert.isTrue(ours.equals(encodeRecordBatch(plain, [0, 1, 2], producer, timestamp)))
    const batch = decode(ours)
    assert.deepStrictEqual(batch.records.map((r) => text(r.key)), [`{"id":1}`, `{"id":2}`, null])
    assert.deepStrictEqual(batch.records.map((r) => text(r.value)), [`{"op":"c"}`, null, ""])
  })
})

describe("a batch with large values", () => {
  it("references each large SlabRecord key or value instead of copying it, with the CRC and length of the joined bytes", async () => {
    const { SlabRecord } = await import("../../../src/event/record/SlabRecord.js")
    const big = Buffer.alloc(referencedBytes + 10, "a")
    const bigKey = Buffer.alloc(referencedBytes, "k")
    const small = Buffer.from(`{"id":1}{"op":"c"}`)
    const records = [
      SlabRecord.make("t", small, 0, 8, small, 8, 10),
      SlabRecord.make("t", small, 0, 8, big, 0, big.length),
      SlabRecord.make("t", bigKey, 0, bigKey.length, big, 5, big.length - 5),
      SlabRecord.make("t", small, 0, 8, small, 8, 10)
    ]
    const pieces = encodePieces(records, [0, 1, 2, 3], producer, timestamp)
    // The large ranges are views of the records' own memory: no copy.
    const views = pieces.filter((piece) => piece.buffer === big.buffer || piece.buffer === bigKey.buffer)
    assert.strictEqual(views.length, 3)
    const joined = Buffer.concat(pieces)
    assert.strictEqual(joined.readInt32BE(8), joined.length - 12)
    assert.strictEqual(joined.readUInt32BE(17), jsCRC32C(joined.subarray(21)))
    // Byte for byte the batch of the same records as plain Buffers (always one contiguous copy).
    const plain: Array<OutRecord> = records.map((r) => ({ topic: r.topic, key: r.key, value: r.value }))
    const copied = encodePieces(plain, [0, 1, 2, 3], producer, timestamp)
    assert.strictEqual(copied.length, 1)
    assert.isTrue(joined.equals(copied[0]!))
    const batch = decode(joined)
    assert.deepStrictEqual(batch.records.map((r) => r.value?.length), [10, big.length, big.length - 5, 10])
    assert.strictEqual(batch.records[2]!.key?.length, bigKey.length)
  })
})

describe("BatchBuffers", () => {
  it("never keeps a buffer above its limit: one huge batch must not stay resident", () => {
    const buffers = new BatchBuffers(16, 1024 * 1024)
    const huge = encodePieces([{ topic: "t", key: "k", value: "v".repeat(2 * 1024 * 1024) }], [0], producer, timestamp, buffers)
    assert.strictEqual(huge[0]!.buffer.byteLength, huge[0]!.length) // made to measure, not rounded up
    buffers.release(huge)
    const next = encodePieces(sample, all, producer, timestamp, buffers)
    assert.notStrictEqual(next[0]!.buffer, huge[0]!.buffer)
  })

  it("writes the same bytes into reused buffers, and a batch bigger than what is free gets a buffer of its own", async () => {
    const buffers = new BatchBuffers()
    const [first] = encodePieces(sample, all, producer, timestamp, buffers) as [Buffer]
    assert.isTrue(first.equals(encodeRecordBatch(sample, all, producer, timestamp)))
    buffers.release([first])
    // The released buffer takes the next batch (same memory), with that batch's bytes.
    const [second] = encodePieces(sample, [4, 0], producer, timestamp, buffers) as [Buffer]
    assert.strictEqual(second.buffer, first.buffer)
    assert.isTrue(second.equals(encodeRecordBatch(sample, [4, 0], producer, timestamp)))
    const big: ReadonlyArray<OutRecord> = [{ topic: "t", key: "k", value: "v".repeat(200_000) }]
    const [third] = encodePieces(big, [0], producer, timestamp, buffers) as [Buffer]
    assert.notStrictEqual(third.buffer, second.buffer)
    assert.isTrue(third.buffer.byteLength >= 200_000)
    assert.isTrue(third.equals(encodeRecordBatch(big, [0], producer, timestamp)))
    // Compressed batches stage their records in them too.
    const codec = { name: "gzip" as const, compress: (raw: Buffer) => compressionsAlgorithms.gzip.compressSync(raw) }
    const pooled = await encodeCompressedRecordBatch(sample, all, producer, timestamp, codec, buffers)
    assert.deepStrictEqual(decode(Buffer.concat(pooled)).records.map((r) => text(r.value)), sample.map((r) => bytesOf(r.value)))
  })
})
