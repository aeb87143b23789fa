import { describe, expect, it } from "vitest"
import { CheckpointContractError, CheckpointTracker } from "../../src/checkpoint/CheckpointTracker.js"

const START = 0x1_6b3748

describe("CheckpointTracker", () => {
  it("starts at the start LSN and refuses 0", () => {
    expect(new CheckpointTracker(START).confirmable()).toBe(START)
    expect(() => new CheckpointTracker(0)).toThrow(CheckpointContractError)
  })

  it("confirms a transaction only once it is committed and every record is acked", () => {
    const t = new CheckpointTracker(START)
    const tx = t.beginTransaction(735)
    t.track(tx, 3)
    t.ack(tx, 3)
    expect(t.confirmable()).toBe(START) // acked, but more records may come
    const tx2 = t.beginTransaction(736)
    t.track(tx2, 2)
    t.commit(tx2, START + 200)
    t.ack(tx2, 1)
    t.commit(tx, START + 100)
    expect(t.confirmable()).toBe(START + 100)
    t.ack(tx2, 1)
    expect(t.confirmable()).toBe(START + 200)
    expect(t.openTransactions()).toBe(0)
  })

  it("confirms a transaction with no records at its commit", () => {
    const t = new CheckpointTracker(START)
    const tx = t.beginTransaction(1)
    t.commit(tx, START + 50)
    expect(t.confirmable()).toBe(START + 50)
  })

  it("waits for an earlier transaction even when later ones are fully acked first", () => {
    const t = new CheckpointTracker(START)
    const a = t.beginTransaction(1)
    t.track(a, 2)
    t.commit(a, START + 10)
    const b = t.beginTransaction(2)
    t.track(b, 1)
    t.commit(b, START + 20)
    const c = t.beginTransaction(3)
    t.commit(c, START + 30)
    t.ack(b)
    expect(t.confirmable()).toBe(START)
    t.ack(a)
    expect(t.confirmable()).toBe(START)
    expect(t.inFlight()).toBe(1)
    t.ack(a)
    expect(t.confirmable()).toBe(START + 30)
    expect(t.inFlight()).toBe(0)
  })

  it("never passes a failed transaction", () => {
    const t = new CheckpointTracker(START)
    const a = t.beginTransaction(1)
    t.track(a, 1)
    t.commit(a, START + 10)
    t.ack(a)
    const b = t.beginTransaction(2)
    t.track(b, 2)
    t.commit(b, START + 20)
    t.ack(b)
    t.fail(b)
    const c = t.beginTransaction(3)
    t.commit(c, START + 30)
    t.observeKeepalive(START + 40)
    expect(t.confirmable()).toBe(START + 10)
    expect(t.failedTransaction()).toBe(2)
  })

  it("confirms an idle keepalive's walEnd, but not with anything in flight, and never backwards", () => {
    const t = new CheckpointTracker(START)
    t.observeKeepalive(START + 100)
    expect(t.confirmable()).toBe(START + 100)
    t.observeKeepalive(START + 50)
    expect(t.confirmable()).toBe(START + 100)

    const open = t.beginTransaction(9)
    t.observeKeepalive(START + 500) // a transaction is being decoded
    expect(t.confirmable()).toBe(START + 100)
    t.track(open, 1)
    t.commit(open, START + 400)
    t.observeKeepalive(START + 500) // committed, but its record is not acked
    expect(t.confirmable()).toBe(START + 100)
    t.ack(open)
    expect(t.confirmable()).toBe(START + 400)
    t.observeKeepalive(START + 500)
    expect(t.confirmable()).toBe(START + 500)
  })

  it("rejects contract violations: over-acking and tracking after commit", () => {
    const t = new CheckpointTracker(START)
    const tx = t.beginTransaction(1)
    t.track(tx, 1)
    expect(() => t.ack(tx, 2)).toThrow(CheckpointContractError)
    t.commit(tx, START + 1)
    expect(() => t.track(tx, 1)).toThrow(CheckpointContractError)
    expect(() => t.commit(tx, START + 2)).toThrow(CheckpointContractError)
    expect(() => t.commit(t.beginTransaction(2), 0)).toThrow(CheckpointContractError)
  })

  it("drains a long FIFO in one step when its head completes last", () => {
    const t = new CheckpointTracker(START)
    const head = t.beginTransaction(0)
    t.track(head, 1)
    t.commit(head, START + 1)
    for (let i = 1; i <= 10_000; i++) {
      const tx = t.beginTransaction(i)
      t.track(tx, 1)
      t.commit(tx, START + 1 + i)
      t.ack(tx)
    }
    expect(t.openTransactions()).toBe(10_001)
    t.ack(head)
    expect(t.openTransactions()).toBe(0)
    expect(t.confirmable()).toBe(START + 10_001)
  })

  it("knows the commit time of the oldest transaction not yet confirmable, and tells each one as it is done", () => {
    const t = new CheckpointTracker(START)
    const done: Array<[number, number]> = []
    t.onDone = (commitTimeMs, records) => done.push([commitTimeMs, records])
    expect(t.oldestPendingCommitMs()).toBeUndefined()
    const a = t.beginTransaction(1, 0, 0, 1_000)
    const b = t.beginTransaction(2, 0, 0, 2_000)
    t.track(a, 2)
    t.track(b, 1)
    t.commit(a, START + 10)
    t.commit(b, START + 20)
    t.ack(b, 1)
    // b is acknowledged, but a (older) is not: a's commit time is how far behind delivery is.
    expect(t.oldestPendingCommitMs()).toBe(1_000)
    expect(done).toEqual([])
    t.ack(a, 2)
    expect(t.oldestPendingCommitMs()).toBeUndefined()
    expect(done).toEqual([[1_000, 2], [2_000, 1]])
  })
})
