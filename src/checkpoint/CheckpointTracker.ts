/**
 * The checkpoint rule (ARCHITECTURE.md, data-safety rules 1 and 4), as a plain
 * synchronous class: it sits on the per-message hot path, so no Effect, no
 * allocation beyond one small record per transaction.
 *
 * Transactions are decoded in commit order and enter a FIFO. A transaction
 * leaves the FIFO (and its commit end LSN becomes confirmable) only once it is
 * committed (no more records will come), every record it handed to Kafka is
 * acknowledged, nothing of it failed, and every earlier transaction has left.
 * Acks may arrive in any order across transactions (Kafka acknowledges each
 * partition independently); they only count, and the FIFO head is drained
 * after each ack or commit, so the cost is O(1) amortised.
 *
 * LSNs are JS numbers (exact below 2^53), as everywhere on the hot path.
 */

/**
 * One transaction in flight. Opaque to callers: they pass it back to `track`,
 * `commit`, `ack` and `fail`. Holding the record itself (not an id to look up)
 * keeps every call O(1).
 */
export interface TransactionHandle {
  readonly xid: number
  /** The commit record's LSN as Begin announces it (`source.commitLsn`); 0 when not from a Begin. */
  readonly commitLsn: number
  /** Whether Commit has been routed (`commit` called). */
  readonly committed: boolean
  /** The end LSN Commit gave (what confirming the transaction confirms); 0 until committed. */
  readonly commitEndLsn: number
}

class InFlightTransaction implements TransactionHandle {
  /** Records handed to Kafka. */
  tracked = 0
  /** Records Kafka acknowledged. */
  acked = 0
  committed = false
  failed = false
  /** Next transaction in commit order (the FIFO is a singly linked list). */
  next: InFlightTransaction | undefined = undefined
  constructor(
    readonly xid: number,
    public commitEndLsn: number,
    readonly commitLsn: number,
    /** The source commit time (Unix ms), for lag and latency. */
    readonly commitTimeMs: number
  ) {}
}

/** A caller broke the tracker's contract (a bug, not a runtime condition). */
export class CheckpointContractError extends Error {
  override readonly name = "CheckpointContractError"
}

const assertLsn = (lsn: number, what: string): void => {
  if (!Number.isSafeInteger(lsn) || lsn <= 0) {
    throw new CheckpointContractError(`${what} must be a positive safe integer LSN, got ${lsn}`)
  }
}

/** Told of each transaction as it becomes confirmable (latency metrics); `records` may be 0. */
export type TransactionDone = (commitTimeMs: number, records: number) => void

export class CheckpointTracker {
  /** Set by the pipeline to observe commit-to-acknowledged latency; called once per transaction. */
  onDone: TransactionDone | undefined = undefined
  private head: InFlightTransaction | undefined = undefined
  private tail: InFlightTransaction | undefined = undefined
  private openCount = 0
  private unacked = 0
  private confirmed: number
  private failedXid: number | undefined = undefined

  /**
   * @param startLsn where streaming starts: the slot's confirmed_flush_lsn or
   * the last journaled checkpoint. It is what `confirmable()` returns until a
   * transaction completes, so it must be a real LSN, never 0.
   */
  constructor(startLsn: number) {
    assertLsn(startLsn, "startLsn")
    this.confirmed = startLsn
  }

  /**
   * A Begin message was decoded. `commitEndLsn` may be given when already
   * known; `commit` sets the authoritative value.
   */
  beginTransaction(xid: number, commitEndLsn = 0, commitLsn = 0, commitTimeMs = Date.now()): TransactionHandle {
    const tx = new InFlightTransaction(xid, commitEndLsn, commitLsn, commitTimeMs)
    if (this.tail === undefined) this.head = tx
    else this.tail.next = tx
    this.tail = tx
    this.openCount++
    return tx
  }

  /** `n` more records of this transaction were handed to Kafka. */
  track(handle: TransactionHandle, n = 1): void {
    const tx = handle as InFlightTransaction
    if (tx.committed) {
      throw new CheckpointContractError(`track after commit for xid ${tx.xid}`)
    }
    tx.tracked += n
    this.unacked += n
  }

  /**
   * The Commit message was decoded: no more records will come for this
   * transaction. A transaction with zero records (no table matched) becomes
   * confirmable right here, once the earlier ones are done.
   */
  commit(handle: TransactionHandle, commitEndLsn: number): void {
    const tx = handle as InFlightTransaction
    assertLsn(commitEndLsn, "commitEndLsn")
    if (tx.committed) throw new CheckpointContractError(`xid ${tx.xid} committed twice`)
    tx.commitEndLsn = commitEndLsn
    tx.committed = true
    if (tx === this.head) this.drain()
  }

  /** Kafka acknowledged `n` records of this transaction. */
  ack(handle: TransactionHandle, n = 1): void {
    const tx = handle as InFlightTransaction
    if (tx.acked + n > tx.tracked) {
      throw new CheckpointContractError(
        `xid ${tx.xid}: ${tx.acked + n} acks for ${tx.tracked} tracked records`
      )
    }
    tx.acked += n
    this.unacked -= n
    if (tx === this.head) this.drain()
  }

  /**
   * A record of this transaction could not be delivered (after retries and
   * without a dead-letter route). The confirmed LSN never passes it: the
   * pipeline must stop and restart from the last confirmed LSN.
   */
  fail(handle: TransactionHandle): void {
    const tx = handle as InFlightTransaction
    tx.failed = true
    if (this.failedXid === undefined) this.failedXid = tx.xid
  }

  /**
   * A primary keepalive (or any idle point) reported the server's WAL end.
   * With nothing in flight (no open transaction, nothing unacked, no failure)
   * everything the server sent so far is delivered, so its walEnd may be
   * confirmed: idle slots must not hold WAL. Never backwards.
   * The caller calls this only between transactions (the stream is in order,
   * so a keepalive read after a Commit and before the next Begin).
   */
  observeKeepalive(walEnd: number): void {
    if (this.head !== undefined || this.unacked !== 0 || this.failedXid !== undefined) return
    if (Number.isSafeInteger(walEnd) && walEnd > this.confirmed) this.confirmed = walEnd
  }

  /**
   * The highest commit end LSN whose transaction and every earlier one are
   * committed and fully acknowledged (or an idle keepalive's walEnd, or the
   * start LSN). Monotonic, never 0.
   */
  confirmable(): number {
    return this.confirmed
  }

  /** Records handed to Kafka and not yet acknowledged (metrics, backpressure). */
  inFlight(): number {
    return this.unacked
  }

  /**
   * The source commit time (Unix ms) of the oldest transaction not yet
   * confirmable (begun, and not yet fully acknowledged), or undefined when
   * none is: `now - this` is how far behind the source delivery is, as
   * Debezium's MilliSecondsBehindSource.
   */
  oldestPendingCommitMs(): number | undefined {
    return this.head?.commitTimeMs
  }

  /** Transactions begun and not yet confirmable. */
  openTransactions(): number {
    return this.openCount
  }

  /** The xid of the first transaction that failed delivery, if any. */
  failedTransaction(): number | undefined {
    return this.failedXid
  }

  private drain(): void {
    let tx = this.head
    while (tx !== undefined && tx.committed && !tx.failed && tx.acked === tx.tracked) {
      if (tx.commitEndLsn > this.confirmed) this.confirmed = tx.commitEndLsn
      this.openCount--
      if (this.onDone !== undefined) this.onDone(tx.commitTimeMs, tx.tracked)
      tx = tx.next
    }
    this.head = tx
    if (tx === undefined) this.tail = undefined
  }
}
