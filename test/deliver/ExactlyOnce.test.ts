/**
 * The pure parts of exactly-once delivery: which transactions a restart skips
 * (Begin.finalLsn against the stored commit END LSN), how a route batch is
 * split at the last commit, and the position record's round trip.
 */
import { describe, expect, it } from "vitest"
import { positionTopicFor, transactionalIdFor } from "../../src/deliver/kafka/TransactionalProducer.js"
import { CheckpointTracker } from "../../src/checkpoint/CheckpointTracker.js"
import { emptyOutbox } from "../../src/deliver/Outbox.js"
import { SlabPool } from "../../src/event/record/SlabPool.js"
import { decodePosition, encodePosition, isCommitted, PositionSkipper, splitAtBoundary } from "../../src/deliver/ExactlyOnce.js"

type Msg = { tag: string; finalLsn?: number }
const tx = (finalLsn: number): Array<Msg> => [{ tag: "Begin", finalLsn }, { tag: "Insert" }, { tag: "Relation" }, { tag: "Insert" }, { tag: "Commit" }]

describe("PositionSkipper", () => {
  it("drops every transaction whose commit LSN is below the stored commit end LSN, then switches off", () => {
    // Stored: the transaction whose commit record spans [0x200, 0x238) (commit end LSN 0x238).
    const skipper = new PositionSkipper(0x238)
    const kept = (messages: Array<Msg>) => messages.filter((m) => !skipper.skip(m)).map((m) => m.tag)
    // An earlier transaction and the stored one itself: only Relation messages pass (the cache must stay right).
    expect(kept(tx(0x100))).toEqual(["Relation"])
    expect(kept(tx(0x200))).toEqual(["Relation"])
    expect(skipper.active).toBe(true)
    // The next transaction's commit record starts at or after the stored end: kept whole.
    expect(kept(tx(0x238))).toEqual(["Begin", "Insert", "Relation", "Insert", "Commit"])
    expect(skipper.active).toBe(false)
    expect(skipper.skipped).toBe(2)
    // Messages outside transactions (heartbeats) are never dropped.
    expect(new PositionSkipper(0x500).skip({ tag: "Message" })).toBe(false)
  })
})

describe("splitAtBoundary", () => {
  it("puts committed transactions' records in the complete part and the open transaction's tail in the open part, per stream in order", () => {
    const tracker = new CheckpointTracker(1)
    const t1 = tracker.beginTransaction(1)
    const t2 = tracker.beginTransaction(2)
    const a = emptyOutbox()
    a.records.push({ topic: "a", key: "1", value: "t1" }, { topic: "a", key: "2", value: "t1" }, { topic: "a", key: "1", value: "t2" })
    a.txs.push(t1, t2)
    a.counts.push(2, 1)
    const b = emptyOutbox()
    b.records.push({ topic: "b", key: "1", value: "t1" }, { topic: "b", key: "9", value: "t2" })
    b.txs.push(t1, t2)
    b.counts.push(1, 1)
    for (const o of [a, b]) for (let i = 0; i < o.txs.length; i++) tracker.track(o.txs[i]!, o.counts[i]!)
    tracker.commit(t1, 0x100)
    const { complete, open } = splitAtBoundary([a, b])
    expect(complete.records.map((r) => `${r.topic}:${r.key}:${r.value}`)).toEqual(["a:1:t1", "a:2:t1", "b:1:t1"])
    expect(complete.txs).toEqual([t1, t1])
    expect(complete.counts).toEqual([2, 1])
    expect(complete.endsInTransaction).toBeUndefined()
    expect(open.records.map((r) => `${r.topic}:${r.key}:${r.value}`)).toEqual(["a:1:t2", "b:9:t2"])
    expect(open.txs).toEqual([t2, t2])
    expect(open.endsInTransaction).toBe(true)
    expect(isCommitted(t1)).toBe(true)
    expect(isCommitted(t2)).toBe(false)
  })

  it("hands every outbox's slabs to the part sent last, so they are released only once both parts are in Kafka", () => {
    const tracker = new CheckpointTracker(1)
    const t1 = tracker.beginTransaction(1)
    const t2 = tracker.beginTransaction(2)
    const pool = new SlabPool(1024, 4)
    const [s1, s2] = [pool.acquire(), pool.acquire()]
    const a = emptyOutbox()
    a.records.push({ topic: "a", key: "1", value: "t1" }, { topic: "a", key: "2", value: "t2" })
    a.txs.push(t1, t2)
    a.counts.push(1, 1)
    a.slabs = [s1]
    const b = emptyOutbox()
    b.records.push({ topic: "b", key: "1", value: "t1" })
    b.txs.push(t1)
    b.counts.push(1)
    b.slabs = [s2]
    for (const o of [a, b]) for (let i = 0; i < o.txs.length; i++) tracker.track(o.txs[i]!, o.counts[i]!)
    tracker.commit(t1, 0x100)
    const split = splitAtBoundary([a, b])
    expect(split.complete.slabs).toBeUndefined()
    expect(split.open.slabs).toEqual([s1, s2])
    // No open records: the complete part, the only one sent, takes them.
    tracker.commit(t2, 0x200)
    const whole = splitAtBoundary([a, b])
    expect(whole.open.records).toEqual([])
    expect(whole.complete.slabs).toEqual([s1, s2])
  })
})

describe("position record", () => {
  it("round-trips the LSN and system id, keyed by slot on the slot's compacted topic", () => {
    const value = encodePosition("s1", { lsn: 0x1_6b37_48, systemId: "7300000000000000001" })
    expect(positionTopicFor("s1")).toBe("outboxx.offsets.s1")
    expect(JSON.parse(value)).toMatchObject({ lsn: "0/16B3748", systemId: "7300000000000000001", slot: "s1" })
    expect(decodePosition(value)).toEqual({ lsn: 0x16b3748, systemId: "7300000000000000001" })
    expect(decodePosition("not json")).toBeUndefined()
    expect(decodePosition(JSON.stringify({ lsn: "zz", systemId: "1" }))).toBeUndefined()
    expect(transactionalIdFor("s1")).toBe("outboxx-s1")
  })
})
