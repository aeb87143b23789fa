/**
 * The bytes of the records handed to delivery and not yet acknowledged: the
 * part of the daemon's memory that grows with the size of the changes rather
 * than their number (a mailbox holds at most 3 outboxes, but an outbox of
 * 1,024 changes of 20 MB each is 20 GB). The replication source stops reading
 * while it is over `limit` (ReplicationSource's `deliveryFull`) and resumes
 * once deliveries bring it under half of it, so a run of huge values costs
 * about `limit` plus the one change being read, whatever their number.
 *
 * Charged when a route batch's outboxes are handed over (Delivery.hand),
 * released when their records are acknowledged (the senders' onDelivered);
 * outboxes handed straight to a mailbox (the initial snapshot's, bounded by
 * its own design) are neither charged nor released.
 */
import type { OutRecord } from "../event/record/OutRecord.js"
import { SlabRecord } from "../event/record/SlabRecord.js"
import { byteLength } from "./kafka/batching.js"
import type { Outbox } from "./Outbox.js"

/** 16 MB: 16 full produce requests, more than a drain needs in flight to keep the producer busy (about 2 MB of outboxx events, 19 MB of Debezium-format ones: those wait a little). */
export const defaultHeldBytesLimit = 16 * 1024 * 1024

/** Key and value bytes of the records. */
export const recordBytes = (records: ReadonlyArray<OutRecord>): number => {
  let bytes = 0
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    if (record instanceof SlabRecord) bytes += Math.max(0, record.keyLength) + Math.max(0, record.valueLength)
    else bytes += byteLength(record.key) + byteLength(record.value)
  }
  return bytes
}

export class HeldBytes {
  /** What is held now. */
  bytes = 0
  /** The most ever held at once (for tests and the benchmark's understanding). */
  peak = 0
  private readonly held = new WeakMap<Outbox, number>()
  private readonly listeners: Array<() => void> = []

  constructor(readonly limit: number = defaultHeldBytesLimit) {}

  /** Over the limit: the source should stop reading. */
  get full(): boolean {
    return this.bytes >= this.limit
  }

  /** Counts an outbox handed to delivery (once; a second charge of the same outbox is ignored). */
  charge(outbox: Outbox): void {
    if (this.held.has(outbox)) return
    const bytes = recordBytes(outbox.records)
    this.held.set(outbox, bytes)
    this.bytes += bytes
    if (this.bytes > this.peak) this.peak = this.bytes
  }

  /** Releases delivered outboxes (those never charged count nothing); below half the limit, tells the listeners. */
  release(outboxes: ReadonlyArray<Outbox>): void {
    let released = 0
    for (const outbox of outboxes) {
      const bytes = this.held.get(outbox)
      if (bytes === undefined) continue
      this.held.delete(outbox)
      released += bytes
    }
    if (released === 0) return
    const wasFull = this.bytes >= this.limit / 2
    this.bytes -= released
    if (wasFull && this.bytes < this.limit / 2) for (const listener of this.listeners) listener()
  }

  /** `listener` runs whenever releases bring the held bytes under half the limit. */
  onRoom(listener: () => void): void {
    this.listeners.push(listener)
  }
}
