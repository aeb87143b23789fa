import { assert, describe, it } from "@effect/vitest"
import { createRecordsBatch, NumericMap, produceV11 } from "@platformatic/kafka"
import { encodeProduceRequest, nextSequence } from "../../../src/deliver/kafka/platformatic/produceRequest.js"

const message = (topic: string, partition: number, i: number) => ({
  topic,
  partition,
  key: Buffer.from(`k${i}`),
  value: Buffer.from(`value ${i}`),
  headers: new Map<Buffer, Buffer>(),
  timestamp: 1_795_490_000_000n
})

describe("encodeProduceRequest", () => {
  it("frames batches exactly as the client library's Produce v11 request", () => {
    // Two topics, one with two partitions: every framing branch (partition, topic and request tags).
    const groups = [
      { topic: "orders", partition: 0, messages: [message("orders", 0, 1), message("orders", 0, 2)] },
      { topic: "orders", partition: 2, messages: [message("orders", 2, 3)] },
      { topic: "customers.v1", partition: 1, messages: [message("customers.v1", 1, 4)] }
    ]
    const options = { producerId: 7n, producerEpoch: 1, sequences: new NumericMap() }
    const theirs = produceV11.createRequest(-1, 10_000, groups.flatMap((g) => g.messages), options).buffer
    const batches = groups.map((g) => ({
      topic: g.topic,
      partition: g.partition,
      batch: [createRecordsBatch(g.messages, options).buffer]
    }))
    const ours = Buffer.concat(encodeProduceRequest(batches, -1, 10_000))
    assert.strictEqual(ours.toString("hex"), theirs.toString("hex"))
  })

  it("carries the transactional id of a transaction's batches as the library does", () => {
    const groups = [{ topic: "orders", partition: 1, messages: [message("orders", 1, 1)] }]
    const options = { producerId: 9n, producerEpoch: 4, sequences: new NumericMap(), transactionalId: "outboxx-päyments" }
    const theirs = produceV11.createRequest(-1, 10_000, groups.flatMap((g) => g.messages), options).buffer
    const batches = groups.map((g) => ({ topic: g.topic, partition: g.partition, batch: [createRecordsBatch(g.messages, options).buffer] }))
    const ours = Buffer.concat(encodeProduceRequest(batches, -1, 10_000, options.transactionalId))
    assert.strictEqual(ours.toString("hex"), theirs.toString("hex"))
  })
})

describe("nextSequence", () => {
  it("adds, and wraps to 0 after 2^31 - 1 as the Java client", () => {
    assert.strictEqual(nextSequence(0, 5), 5)
    assert.strictEqual(nextSequence(0x7fffffff - 5, 5), 0x7fffffff)
    assert.strictEqual(nextSequence(0x7fffffff - 5, 6), 0)
    assert.strictEqual(nextSequence(0x7fffffff, 3), 2)
  })
})
