import { describe, expect, it } from "vitest"
import { estimateRecordBytes, type OutRecord, splitByBytes, topicsOf } from "../../../src/deliver/kafka/batching.js"
import { groupByTopic } from "../../../src/deliver/kafka/kafkajs/messages.js"
import { SlabRecord } from "../../../src/event/record/SlabRecord.js"

const record = (topic: string, key: string, valueBytes: number): OutRecord => ({
  topic,
  key,
  value: "x".repeat(valueBytes)
})

describe("estimateRecordBytes", () => {
  it("counts UTF-8 bytes of key, value and headers plus overhead", () => {
    const plain = estimateRecordBytes({ topic: "t", key: "k", value: "é" })
    const withHeader = estimateRecordBytes({ topic: "t", key: "k", value: "é", headers: { h: "v" } })
    const buffer = estimateRecordBytes({ topic: "t", key: null, value: Buffer.alloc(100) })
    expect(plain).toBeGreaterThanOrEqual(3)
    expect(withHeader - plain).toBeGreaterThanOrEqual(2)
    expect(buffer).toBeGreaterThanOrEqual(100)
    expect(estimateRecordBytes({ topic: "t", key: null, value: null })).toBeLessThan(50)
  })
})

describe("splitByBytes", () => {
  it("keeps order and bounds each slice", () => {
    const records = Array.from({ length: 1000 }, (_, i) => record(i % 2 ? "a" : "b", `k${i}`, 300))
    const chunks = splitByBytes(records, 10_000)
    expect(chunks.length).toBeGreaterThan(25)
    expect(chunks.flat()).toEqual(records)
    for (const chunk of chunks) {
      expect(chunk.reduce((n, r) => n + estimateRecordBytes(r), 0)).toBeLessThanOrEqual(10_000)
    }
  })

  it("sends a record larger than the limit alone", () => {
    const records = [record("a", "1", 10), record("a", "2", 50_000), record("a", "3", 10)]
    const chunks = splitByBytes(records, 1_000)
    expect(chunks.map((c) => c.map((r) => r.key))).toEqual([["1"], ["2"], ["3"]])
  })

  it("returns the input itself when it fits", () => {
    const records = [record("a", "1", 10)]
    expect(splitByBytes(records, 1_000)[0]).toBe(records)
    expect(splitByBytes([], 1_000)).toEqual([])
  })
})

describe("groupByTopic", () => {
  it("groups per topic in first-seen order, keeping each topic's record order", () => {
    const records = [record("b", "1", 1), record("a", "2", 1), record("b", "3", 1), record("a", "4", 1)]
    const grouped = groupByTopic(records)
    expect(grouped.map((g) => g.topic)).toEqual(["b", "a"])
    expect(grouped[0]!.messages.map((m) => m.key)).toEqual(["1", "3"])
    expect(grouped[1]!.messages.map((m) => m.key)).toEqual(["2", "4"])
    expect(topicsOf(records)).toEqual(["b", "a"])
  })
})

describe("groupByTopic with SlabRecords", () => {
  it("gives kafkajs key and value as own properties (its request builder spreads messages)", () => {
    const slab = Buffer.from(`{"id":7}{"op":"d"}`)
    const [group] = groupByTopic([SlabRecord.make("t", slab, 0, 8, slab, 8, 10)])
    const spread = { ...group!.messages[0]! }
    expect(String(spread.key)).toBe(`{"id":7}`)
    expect(String(spread.value)).toBe(`{"op":"d"}`)
  })
})
