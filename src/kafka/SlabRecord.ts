/**
 * A record whose key and value are byte ranges of the slabs the Router wrote
 * them into (postgres/values/JsonBytes.ts), not Buffer views.
 *
 * Why: records wait in mailboxes and in flight until Kafka acknowledges them,
 * and most of them live long enough to reach V8's old generation. Two Buffer
 * views per record were two more heap objects each (about 200 of the 1,200
 * bytes a change allocated in a drain), and everything promoted is work for a
 * full collection. The record-batch encoder, the partitioner and the size
 * estimate read the ranges directly; anything else gets `key`/`value` as
 * Buffers made on demand, so a SlabRecord is an OutRecord like any other.
 */
import type { OutRecord } from "./batching.js"

const NO_BYTES = new Uint8Array(0)

export class SlabRecord implements OutRecord {
  /** Never set: change events carry no headers (declared only, so no field is stored). */
  declare readonly headers?: Readonly<Record<string, string>>

  constructor(
    readonly topic: string,
    /** The key is `keyBytes[keyStart, keyStart + keyLength)`; `keyLength` -1 is a null key. */
    readonly keyBytes: Uint8Array,
    readonly keyStart: number,
    readonly keyLength: number,
    /** The value likewise; -1 is a null value (a tombstone). */
    readonly valueBytes: Uint8Array,
    readonly valueStart: number,
    readonly valueLength: number
  ) {}

  get key(): Buffer | null {
    return this.keyLength < 0 ? null : view(this.keyBytes, this.keyStart, this.keyLength)
  }

  get value(): Buffer | null {
    return this.valueLength < 0 ? null : view(this.valueBytes, this.valueStart, this.valueLength)
  }

  /** The same key, a null value: the tombstone after a delete. */
  tombstone(): SlabRecord {
    return new SlabRecord(this.topic, this.keyBytes, this.keyStart, this.keyLength, NO_BYTES, 0, -1)
  }
}

const view = (bytes: Uint8Array, start: number, length: number): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset + start, length)
