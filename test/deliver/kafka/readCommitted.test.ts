/**
 * The platformatic backend's read of the exactly-once position topic reads
 * every batch and marker (read_uncommitted) and decides what is committed
 * from the markers (committedRecords), proven here on broker-shaped batches.
 */
import type { RecordsBatch } from "@platformatic/kafka"
import { describe, expect, it } from "vitest"
import type { CommittedRecord } from "../../../src/deliver/kafka/AdminBackend.js"
import { committedRecords } from "../../../src/deliver/kafka/platformatic/admin.js"

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

describe("committedRecords (read_committed decided by the log's markers)", () => {
  it("leaves out aborted transactions, open transactions and control records, keeps everything else", () => {
    const batches = [
      batch(0, 7, TRANSACTIONAL, ["a0", "a1"]),
      marker(2, 7, 1),
      batch(3, 7, TRANSACTIONAL, ["x0", "x1"]), // aborted
      batch(5, 9, 0, ["plain"]), // not transactional: always kept
      batch(6, 8, TRANSACTIONAL, ["b0"]), // another producer's transaction, committed after 7's abort
      marker(7, 7, 0), // abort marker of producer 7
      marker(8, 8, 1),
      batch(9, 7, TRANSACTIONAL, ["c0"]), // producer 7 again, after its abort: committed
      marker(10, 7, 1),
      batch(11, 7, TRANSACTIONAL, ["open"]) // no marker yet: not committed
    ]
    expect(values(committedRecords(batches))).toEqual(["0:a0", "1:a1", "5:plain", "6:b0", "9:c0"])
  })

  it("one producer id across fenced instances: an abort ends only the transaction before it", () => {
    // The fault suite's shape: every instance shares one transactional id (so one producer id, new
    // epochs); an instance killed mid-transaction is aborted by the next one's fencing, which then commits.
    const batches = [
      batch(0, 0, TRANSACTIONAL, ["p1"]),
      marker(1, 0, 1),
      batch(2, 0, TRANSACTIONAL, ["killed"]),
      marker(3, 0, 0),
      batch(4, 0, TRANSACTIONAL, ["p2"]),
      marker(5, 0, 1),
      marker(6, 0, 0), // an abort of a transaction with nothing in this partition
      batch(7, 0, TRANSACTIONAL, ["p3"]),
      marker(8, 0, 1)
    ]
    expect(values(committedRecords(batches))).toEqual(["0:p1", "4:p2", "7:p3"])
  })
})
