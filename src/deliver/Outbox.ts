/**
 * The unit of delivery: one stream's records from a batch of messages, with
 * the transactions they belong to, so a stream actor can acknowledge each
 * transaction to the CheckpointTracker once Kafka has all of its records.
 * The Router (and the snapshotter) fill outboxes; the stream actors and the
 * exactly-once sender take them.
 */
import type { TransactionHandle } from "../checkpoint/CheckpointTracker.js"
import type { OutRecord } from "../event/record/OutRecord.js"
import type { Slab } from "../event/record/SlabPool.js"
import type { BatchTrace } from "../observability/BatchTrace.js"

export interface Outbox {
  records: Array<OutRecord>
  /** Parallel runs: `txs[i]` has `counts[i]` consecutive records. */
  txs: Array<TransactionHandle>
  counts: Array<number>
  /** Called once every record of this outbox is delivered (snapshot progress). */
  delivered?: Array<() => void>
  /** Exactly-once: handed over while a PostgreSQL transaction was open (no Kafka commit after it). */
  endsInTransaction?: boolean
  /**
   * The slabs this outbox's record bytes live in, each held once: released
   * (and reused) once every record is delivered (see SlabPool.ts).
   */
  slabs?: Array<Slab>
  /** The trace of the batch (or snapshot chunk) this outbox came from, when it is traced (observability/BatchTrace.ts). */
  trace?: BatchTrace
}

export const emptyOutbox = (): Outbox => ({ records: [], txs: [], counts: [] })
