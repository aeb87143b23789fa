/**
 * A record whose key and value are byte ranges of the slabs the Router wrote
 * them into (event/record/JsonBytes.ts), not Buffer views.
 *
 * Why: records wait in mailboxes and in flight until Kafka acknowledges them,
 * and most of them live long enough to reach V8's old generation. Two Buffer
 * views per record were two more heap objects each (about 200 of the 1,200
 * bytes a change allocated in a drain), and everything promoted is work for a
 * full collection. The record-batch encoder, the partitioner and the size
 * estimate read the ranges directly; anything else gets `key`/`value` as
 * Buffers made on demand, so a SlabRecord is an OutRecord like any other.
 */
import type { OutRecord } from "./OutRecord.js"

const NO_BYTES = new Uint8Array(0)

export class SlabRecord implements OutRecord {
  /**
   * Set only on a traced send (the W3C `traceparent` of the send span,
   * deliver/kafka/KafkaProducer.ts); change events themselves carry none.
   */
  headers: Readonly<Record<string, string>> | undefined = undefined

  /** Use `SlabRecord.make`: records are reused (see `recycleRecords`), so the fields are written again. */
  private constructor(
    public topic: string,
    /** The key is `keyBytes[keyStart, keyStart + keyLength)`; `keyLength` -1 is a null key. */
    public keyBytes: Uint8Array,
    public keyStart: number,
    public keyLength: number,
    /** The value likewise; -1 is a null value (a tombstone). */
    public valueBytes: Uint8Array,
    public valueStart: number,
    public valueLength: number
  ) {}

  /** A record, reusing a recycled one when there is one. */
  static make(
    topic: string,
    keyBytes: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueBytes: Uint8Array,
    valueStart: number,
    valueLength: number
  ): SlabRecord {
    const record = free.pop()
    if (record === undefined) return new SlabRecord(topic, keyBytes, keyStart, keyLength, valueBytes, valueStart, valueLength)
    record.topic = topic
    record.keyBytes = keyBytes
    record.keyStart = keyStart
    record.keyLength = keyLength
    record.valueBytes = valueBytes
    record.valueStart = valueStart
    record.valueLength = valueLength
    record.headers = undefined
    record.tombstoneHeaders = undefined
    return record
  }

  get key(): Buffer | null {
    return this.keyLength < 0 ? null : view(this.keyBytes, this.keyStart, this.keyLength)
  }

  get value(): Buffer | null {
    return this.valueLength < 0 ? null : view(this.valueBytes, this.valueStart, this.valueLength)
  }

  /**
   * Headers the tombstone after this record carries too (a key change's
   * `__debezium.newkey`, as Debezium writes it); others (CloudEvents'
   * attributes) describe this event only.
   */
  tombstoneHeaders: Readonly<Record<string, string>> | undefined = undefined

  /** The same key, a null value: the tombstone after a delete. */
  tombstone(): SlabRecord {
    const tombstone = SlabRecord.make(this.topic, this.keyBytes, this.keyStart, this.keyLength, NO_BYTES, 0, -1)
    tombstone.headers = this.tombstoneHeaders
    return tombstone
  }
}

/**
 * Records handed back, for `make`. Why: nearly every record lives long
 * enough to reach V8's old generation (they wait in mailboxes and in flight),
 * where they were the larger half of what a full collection had to clear.
 * The rule is the slabs' (event/record/SlabPool.ts): only records whose
 * outbox was delivered to a sink that keeps nothing of them come back.
 */
const free: Array<SlabRecord> = []
/** About what a drain has in flight (6 outboxes of up to 1,024 records, twice). */
const MAX_FREE = 16_384

/** Hands an outbox's records back for reuse, once they are delivered and nothing reads them. */
export const recycleRecords = (records: ReadonlyArray<OutRecord>): void => {
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    if (!(record instanceof SlabRecord) || free.length >= MAX_FREE) continue
    // Drop the slab references: a free record must not keep a slab from the GC.
    record.keyBytes = NO_BYTES
    record.valueBytes = NO_BYTES
    free.push(record)
  }
}

const view = (bytes: Uint8Array, start: number, length: number): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset + start, length)
