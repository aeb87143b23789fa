/**
 * The client-side read_committed filter of the platformatic backend
 * (takeCommitted): Kafka 4 brokers already leave aborted batches out of
 * read_committed fetches, older ones send them with the list of aborted
 * transactions, so the filter is proven here on batches as such a broker
 * sends them.
 */
import type { RecordsBatch } from "@platformatic/kafka"
import { describe, expect, it } from "vitest"
import type { CommittedRecord } from "../../../src/deliver/kafka/AdminBackend.js"
import { takeCommitted } from "../../../src/deliver/kafka/platformatic/admin.js"

const TRANSACTIONAL = 1 << 4
const CONTROL = 1 << 5

const record = (offsetDelta: number, value: string | null, key: Buffer | null = Buffer.from("k")) => ({
  length: 0,
  attributes: 0,
  timestampDelta: 0n,
  offsetDelta,
  key,
  value: value === null ? null : Buffer.from(value),
  headers: []
})

const batch = (firstOffset: number, producerId: number, attributes: number, values: ReadonlyArray<string>): RecordsBatch => ({
  firstOffset: BigInt(firstOffset),
  length: 0,
  partitionLeaderEpoch: 0,
  magic: 2,
  crc: 0,
  attributes,
  lastOffsetDelta: values.length - 1,
  firstTimestamp: 0n,
  maxTimestamp: 0n,
  producerId: BigInt(producerId),
  producerEpoch: 0,
  firstSequence: 0,
  records: values.map((v, i) => record(i, v))
})

/** A control batch: key (version 0, type 0 = abort, 1 = commit). */
const marker = (offset: number, producerId: number, type: 0 | 1): RecordsBatch => {
  const key = Buffer.alloc(4)
  key.writeInt16BE(type, 2)
  return { ...batch(offset, producerId, TRANSACTIONAL | CONTROL, ["m"]), records: [record(0, null, key)] }
}

const values = (records: ReadonlyArray<CommittedRecord>) => records.map((r) => `${r.offset}:${r.value?.toString()}`)

describe("takeCommitted (read_committed on the client)", () => {
  it("leaves out an aborted transaction's batches and control records, keeps everything else", () => {
    const batches = [
      batch(0, 7, TRANSACTIONAL, ["a0", "a1"]),
      marker(2, 7, 1),
      batch(3, 7, TRANSACTIONAL, ["x0", "x1"]), // aborted
      batch(5, 9, 0, ["plain"]), // not transactional: always kept
      batch(6, 8, TRANSACTIONAL, ["b0"]), // another producer's open-then-committed transaction
      marker(7, 7, 0), // abort marker of producer 7
      marker(8, 8, 1),
      batch(9, 7, TRANSACTIONAL, ["c0"]), // producer 7 again, after its abort: committed
      marker(10, 7, 1)
    ]
    const into: Array<CommittedRecord> = []
    const next = takeCommitted(batches, [{ producerId: 7n, firstOffset: 3n }], new Set(), 0n, 11n, into)
    expect(values(into)).toEqual(["0:a0", "1:a1", "5:plain", "6:b0", "9:c0"])
    expect(next).toBe(11n)
  })

  it("keeps an aborted producer aborted across fetches until its marker, and respects from and end", () => {
    const aborted = new Set<bigint>()
    const into: Array<CommittedRecord> = []
    // First fetch: the aborted transaction starts at 4; the batch before it (offsets 0..3) starts before `from`.
    let next = takeCommitted(
      [batch(0, 1, 0, ["p0", "p1", "p2", "p3"]), batch(4, 5, TRANSACTIONAL, ["x0"])],
      [{ producerId: 5n, firstOffset: 4n }],
      aborted,
      2n,
      100n,
      into
    )
    expect(next).toBe(5n)
    // Second fetch: more of the aborted transaction, then its abort marker, then a record past `end`.
    next = takeCommitted(
      [batch(5, 5, TRANSACTIONAL, ["x1"]), marker(6, 5, 0), batch(7, 5, TRANSACTIONAL, ["y0", "y1"])],
      null,
      aborted,
      next,
      8n,
      into
    )
    expect(values(into)).toEqual(["2:p2", "3:p3", "7:y0"])
    expect(next).toBe(9n)
  })
})
