/**
 * Property test of the checkpoint rule: random transactions (0-4 records),
 * acks in random order across transactions, random keepalives (between and
 * inside transactions, some stale) and rare delivery failures. The model is a
 * consistent server: every transaction's commit end is beyond anything sent
 * before it, and a keepalive inside a transaction reports a walEnd at or past
 * that transaction's commit (the server decodes the commit before sending).
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CheckpointTracker, type TransactionHandle } from "../../src/checkpoint/CheckpointTracker.js"

interface ModelTx {
  readonly handle: TransactionHandle
  readonly records: number
  readonly commitEnd: number
  tracked: number
  acked: number
  /** Tracked records neither acked nor failed. */
  pending: number
  committed: boolean
  failed: boolean
}

const complete = (tx: ModelTx) => tx.committed && !tx.failed && tx.acked === tx.tracked

const run = (start: number, steps: ReadonlyArray<readonly [number, number]>) => {
  const t = new CheckpointTracker(start)
  const txs: Array<ModelTx> = []
  let current: ModelTx | undefined
  let lastCommitEnd = start
  let lastWalEnd = start
  let previous = t.confirmable()
  let xid = 0

  const check = () => {
    const c = t.confirmable()
    expect(c).toBeGreaterThan(0)
    expect(c).toBeGreaterThanOrEqual(previous)
    const firstIncomplete = txs.findIndex((tx) => !complete(tx))
    if (firstIncomplete !== -1) {
      // Never at or past an incomplete transaction (nor any after it).
      for (let i = firstIncomplete; i < txs.length; i++) expect(c).toBeLessThan(txs[i]!.commitEnd)
    }
    expect(t.inFlight()).toBe(txs.reduce((n, tx) => n + tx.tracked - tx.acked, 0))
    previous = c
  }

  const ackable = () => txs.filter((tx) => tx.pending > 0)

  for (const [choice, r] of steps) {
    switch (choice % 12) {
      case 0:
      case 1: { // Begin
        if (current !== undefined) break
        const commitEnd = Math.max(lastCommitEnd, lastWalEnd) + 1 + (r % 1000)
        current = {
          handle: t.beginTransaction(++xid),
          records: r % 5,
          commitEnd,
          tracked: 0,
          acked: 0,
          pending: 0,
          committed: false,
          failed: false
        }
        txs.push(current)
        break
      }
      case 2:
      case 3: { // a record handed to Kafka
        if (current === undefined || current.tracked === current.records) break
        t.track(current.handle, 1)
        current.tracked++
        current.pending++
        break
      }
      case 4: { // Commit
        if (current === undefined || current.tracked !== current.records) break
        t.commit(current.handle, current.commitEnd)
        current.committed = true
        lastCommitEnd = current.commitEnd
        current = undefined
        break
      }
      case 5:
      case 6:
      case 7:
      case 8: { // acks, any transaction, possibly several records at once
        const candidates = ackable()
        if (candidates.length === 0) break
        const tx = candidates[r % candidates.length]!
        const n = 1 + (r % tx.pending)
        t.ack(tx.handle, n)
        tx.acked += n
        tx.pending -= n
        break
      }
      case 9:
      case 10: { // keepalive
        const stale = r % 7 === 0
        const walEnd = stale
          ? 1 + (r % 100)
          : current !== undefined
          ? current.commitEnd + (r % 500)
          : Math.max(lastCommitEnd, lastWalEnd) + (r % 500)
        const idle = current === undefined && txs.every(complete)
        const before = t.confirmable()
        t.observeKeepalive(walEnd)
        lastWalEnd = Math.max(lastWalEnd, walEnd)
        // Liveness: an idle slot confirms the server's position.
        if (idle) expect(t.confirmable()).toBe(Math.max(before, walEnd))
        break
      }
      case 11: { // rare permanent delivery failure of one record
        if (r % 4 !== 0) break
        const candidates = ackable()
        if (candidates.length === 0) break
        const tx = candidates[r % candidates.length]!
        t.fail(tx.handle)
        tx.failed = true
        tx.pending--
        // A sink may also count the failed record as done: still never confirmed.
        if ((r >> 2) % 2 === 0) {
          t.ack(tx.handle, 1)
          tx.acked++
        }
        break
      }
    }
    check()
  }

  // Finish: decode the rest of the open transaction, then deliver everything.
  if (current !== undefined) {
    while (current.tracked < current.records) {
      t.track(current.handle, 1)
      current.tracked++
      current.pending++
    }
    t.commit(current.handle, current.commitEnd)
    current.committed = true
    lastCommitEnd = current.commitEnd
    check()
  }
  for (const tx of txs) {
    if (tx.pending > 0) {
      t.ack(tx.handle, tx.pending)
      tx.acked += tx.pending
      tx.pending = 0
      check()
    }
  }
  const failed = txs.find((tx) => tx.failed)
  if (failed === undefined) {
    expect(t.confirmable()).toBeGreaterThanOrEqual(lastCommitEnd)
    expect(t.confirmable()).toBeLessThanOrEqual(Math.max(lastCommitEnd, lastWalEnd))
    expect(t.openTransactions()).toBe(0)
    expect(t.inFlight()).toBe(0)
  } else {
    expect(t.confirmable()).toBeLessThan(failed.commitEnd)
    expect(t.failedTransaction()).toBeDefined()
  }
}

describe("CheckpointTracker properties", () => {
  it("is monotonic, never 0, never passes an incomplete or failed transaction, and reaches the last commit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 400 }),
        (start, steps) => run(start, steps)
      ),
      { numRuns: 500 }
    )
  })
})
