/**
 * Kafka's v2 record batch ("magic 2"), encoded in one pass into one buffer.
 *
 * Why our own: the client library's encoder builds every varint, record and
 * header through a growable buffer of small Buffers and copies the batch twice
 * more (for the CRC and for the socket); that was a third of outboxx's CPU
 * during a drain. Here the batch is measured first and then written once
 * (string keys, values and headers go straight in as UTF-8, without an
 * intermediate Buffer), and the CRC-32C is taken over a view of the same bytes.
 *
 * Layout (https://kafka.apache.org/documentation/#recordbatch):
 *
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8
 *   crc uint32 | attributes int16 | lastOffsetDelta int32 | baseTimestamp int64
 *   maxTimestamp int64 | producerId int64 | producerEpoch int16
 *   baseSequence int32 | recordCount int32 | records...
 *
 *   record: length varint | attributes int8 | timestampDelta varlong
 *           offsetDelta varint | keyLength varint | key | valueLength varint
 *           value | headerCount varint | [keyLength varint | key | valueLength varint | value]
 *
 * The CRC covers attributes .. end. With compression, the records (not the
 * count) are compressed and the codec is named in attributes bits 0-2.
 */
import { createRequire } from "node:module"
import { crc32c as libraryCrc32c } from "@platformatic/kafka"
import type { OutRecord } from "../batching.js"
import { SlabRecord } from "../../../event/record/SlabRecord.js"
import { varintBytes, writeVarint } from "./varint.js"

/** Bytes of the batch header up to and including the record count. */
export const batchHeaderBytes = 61

const crcStart = 21
const lengthFieldEnd = 12

/** Codecs by the attributes bits Kafka gives them. */
export const compressionCodes = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const
export type BatchCompression = keyof typeof compressionCodes

/**
 * CRC-32C over a view of the batch. The native @node-rs/crc32 (an optional
 * dependency of @platformatic/kafka, built for every common platform) when
 * installed; else the library's WebAssembly one. The library's own wrapper
 * of the native one copies its input first, hence the direct call.
 */
const nativeCrc32c = (() => {
  try {
    return (createRequire(import.meta.url)("@node-rs/crc32") as { crc32c: (input: Uint8Array, initial?: number) => number }).crc32c
  } catch {
    return undefined
  }
})()
const crc32c: (bytes: Uint8Array, initial?: number) => number = nativeCrc32c ?? ((bytes: Uint8Array) => libraryCrc32c(bytes as Buffer))

/** Whether `crc32c` continues from an initial state (only the native one does), so a batch in pieces needs no joined copy for its CRC. */
const chainedCrc = nativeCrc32c !== undefined

/**
 * A key or value of this many bytes or more is not copied into the batch: the
 * batch becomes pieces around a view of it (see `encodeRecordBatch`). Below
 * it, one contiguous copy is cheaper than another piece.
 */
export const referencedBytes = 64 * 1024

const dataBytes = (data: string | Buffer): number =>
  typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.length

/** varint length + bytes of a nullable field, -1 for null as the format says. */
const fieldBytes = (size: number): number => (size < 0 ? 1 : varintBytes(size) + size)

const writeField = (buffer: Buffer, offset: number, data: string | Buffer | null, size: number): number => {
  if (data === null) return writeVarint(buffer, offset, -1)
  offset = writeVarint(buffer, offset, size)
  if (typeof data === "string") return offset + buffer.write(data, offset, size)
  // TypedArray#set: Buffer#copy's argument checks cost more than copying a short key.
  buffer.set(data, offset)
  return offset + size
}

/**
 * Where a batch in pieces stands while it is written: the pieces so far and
 * where the current piece of the batch's own buffer starts.
 */
interface Pieces {
  readonly list: Array<Buffer>
  start: number
}

/**
 * A SlabRecord's key or value: `size` bytes of `bytes` from `start`, -1 for
 * null. With `pieces`, a large one is referenced: the buffer's piece so far
 * is cut off and the value's view follows it.
 */
const writeRange = (buffer: Buffer, offset: number, bytes: Uint8Array, start: number, size: number, pieces: Pieces | undefined): number => {
  if (size < 0) return writeVarint(buffer, offset, -1)
  offset = writeVarint(buffer, offset, size)
  if (pieces !== undefined && size >= referencedBytes) {
    pieces.list.push(buffer.subarray(pieces.start, offset), Buffer.from(bytes.buffer, bytes.byteOffset + start, size))
    pieces.start = offset
    return offset
  }
  if (size <= 32) {
    for (let k = 0; k < size; k++) buffer[offset + k] = bytes[start + k]!
  } else {
    buffer.set(new Uint8Array(bytes.buffer, bytes.byteOffset + start, size), offset)
  }
  return offset + size
}

/**
 * Who writes the batch, for the broker's duplicate detection: the idempotent
 * producer's id and epoch, and the sequence number of the first record
 * (per partition, consecutive across batches).
 */
export interface BatchProducer {
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly baseSequence: number
  /** Part of a Kafka transaction (attributes bit 4): read_committed consumers see it only once committed. */
  readonly transactional?: boolean
}

/** The batch attribute that marks a batch as written inside a transaction. */
const transactionalAttribute = 0x10

/**
 * Per-record sizes, computed once and used for both the allocation and the
 * writing. `keys`/`values` hold byte lengths (-1 = null); `bodies` the bytes
 * of each record after its length prefix. Valid until the next `measure`.
 */
interface Measured {
  readonly keys: Int32Array
  readonly values: Int32Array
  readonly bodies: Int32Array
  readonly recordsBytes: number
  /** Bytes of the SlabRecord keys and values of `referencedBytes` or more (not copied when written in pieces). */
  readonly largeBytes: number
}

/**
 * The arrays `measure` fills, reused (grown when a batch has more records):
 * each batch is measured and written before the next is measured, and three
 * fresh typed arrays per batch were more buffers for full collections to
 * free (see BatchBuffers).
 */
let scratch = { keys: new Int32Array(1024), values: new Int32Array(1024), bodies: new Int32Array(1024) }

const measure = (records: ReadonlyArray<OutRecord>, indices: ArrayLike<number>): Measured => {
  const count = indices.length
  if (scratch.keys.length < count) {
    const size = Math.max(count, scratch.keys.length * 2)
    scratch = { keys: new Int32Array(size), values: new Int32Array(size), bodies: new Int32Array(size) }
  }
  const { bodies, keys, values } = scratch
  let recordsBytes = 0
  let largeBytes = 0
  for (let i = 0; i < count; i++) {
    const record = records[indices[i]!]!
    let key: number
    let value: number
    if (record instanceof SlabRecord) {
      key = record.keyLength
      value = record.valueLength
    } else {
      key = record.key === null ? -1 : dataBytes(record.key)
      value = record.value === null ? -1 : dataBytes(record.value)
    }
    // attributes (1) + timestampDelta 0 (1) + offsetDelta + key + value + headers
    let body = 2 + varintBytes(i) + fieldBytes(key) + fieldBytes(value)
    const headers = record.headers
    if (headers === undefined) {
      body += 1
    } else {
      let headerCount = 0
      for (const name in headers) {
        headerCount++
        body += fieldBytes(Buffer.byteLength(name, "utf8")) + fieldBytes(Buffer.byteLength(headers[name]!, "utf8"))
      }
      body += varintBytes(headerCount)
    }
    keys[i] = key
    values[i] = value
    bodies[i] = body
    recordsBytes += varintBytes(body) + body
    // Only SlabRecord ranges are referenced (writeRange); plain Buffers and strings are copied.
    if (key >= referencedBytes && record instanceof SlabRecord) largeBytes += key
    if (value >= referencedBytes && record instanceof SlabRecord) largeBytes += value
  }
  return { keys, values, bodies, recordsBytes, largeBytes }
}

const writeRecords = (
  buffer: Buffer,
  offset: number,
  records: ReadonlyArray<OutRecord>,
  indices: ArrayLike<number>,
  measured: Measured,
  pieces?: Pieces
): number => {
  const { bodies, keys, values } = measured
  for (let i = 0; i < indices.length; i++) {
    const record = records[indices[i]!]!
    offset = writeVarint(buffer, offset, bodies[i]!)
    buffer[offset++] = 0 // attributes
    buffer[offset++] = 0 // timestampDelta: every record carries the batch's timestamp
    offset = writeVarint(buffer, offset, i)
    if (record instanceof SlabRecord) {
      offset = writeRange(buffer, offset, record.keyBytes, record.keyStart, keys[i]!, pieces)
      offset = writeRange(buffer, offset, record.valueBytes, record.valueStart, values[i]!, pieces)
    } else {
      offset = writeField(buffer, offset, record.key, keys[i]!)
      offset = writeField(buffer, offset, record.value, values[i]!)
    }
    const headers = record.headers
    if (headers === undefined) {
      buffer[offset++] = 0
    } else {
      let headerCount = 0
      for (const _ in headers) headerCount++
      offset = writeVarint(buffer, offset, headerCount)
      for (const name in headers) {
        const value = headers[name]!
        offset = writeField(buffer, offset, name, Buffer.byteLength(name, "utf8"))
        offset = writeField(buffer, offset, value, Buffer.byteLength(value, "utf8"))
      }
    }
  }
  return offset
}

const writeHeader = (
  buffer: Buffer,
  batchBytes: number,
  recordCount: number,
  attributes: number,
  producer: BatchProducer,
  timestampMs: number
): void => {
  const timestamp = BigInt(timestampMs)
  buffer.writeBigInt64BE(0n, 0) // baseOffset: the broker assigns offsets
  buffer.writeInt32BE(batchBytes - lengthFieldEnd, 8)
  buffer.writeInt32BE(-1, 12) // partitionLeaderEpoch: set by the broker
  buffer[16] = 2 // magic
  buffer.writeInt16BE(producer.transactional === true ? attributes | transactionalAttribute : attributes, crcStart)
  buffer.writeInt32BE(recordCount - 1, 23) // lastOffsetDelta
  buffer.writeBigInt64BE(timestamp, 27)
  buffer.writeBigInt64BE(timestamp, 35)
  buffer.writeBigInt64BE(producer.producerId, 43)
  buffer.writeInt16BE(producer.producerEpoch, 51)
  buffer.writeInt32BE(producer.baseSequence, 53)
  buffer.writeInt32BE(recordCount, 57)
}

/** The CRC of a batch in one buffer. */
const writeCrc = (buffer: Buffer, batchBytes: number): void => {
  buffer.writeUInt32BE(crc32c(buffer.subarray(crcStart, batchBytes)) >>> 0, 17)
}

/** The CRC of a batch in pieces (the first is the batch's own buffer, its header included). */
const writePiecesCrc = (pieces: ReadonlyArray<Buffer>): void => {
  const first = pieces[0]!
  let crc: number
  if (chainedCrc) {
    crc = crc32c(first.subarray(crcStart))
    for (let i = 1; i < pieces.length; i++) crc = crc32c(pieces[i]!, crc)
  } else {
    crc = crc32c(Buffer.concat(pieces).subarray(crcStart))
  }
  first.writeUInt32BE(crc >>> 0, 17)
}

/** A record batch's bytes in order: one buffer, or pieces around the large values it references. */
export type EncodedBatch = ReadonlyArray<Buffer>

/** The bytes of an encoded batch. */
export const batchLength = (batch: EncodedBatch): number => {
  let n = 0
  for (let i = 0; i < batch.length; i++) n += batch[i]!.length
  return n
}

/**
 * Buffers for record batches, reused once a send is acknowledged.
 *
 * Why: a drain writes about one record batch per megabyte of events, each
 * a fresh ArrayBuffer outside V8's heap. When the events are written
 * without garbage on the heap (the formats write into reused slabs), the
 * young generation rarely fills, so nothing frees those buffers but full
 * collections, which V8 then starts every few tens of milliseconds for the
 * external memory alone: on a 1,000,000-change drain of format debezium
 * (3.8 KB events) 300 full collections against 20, and 40% more CPU.
 *
 * Sizes are rounded up to a power of two (at least 64 KB) so a buffer fits
 * the next batches; at most `maxFree` wait for reuse.
 */
export class BatchBuffers {
  private readonly free: Array<Buffer> = []
  constructor(
    private readonly maxFree = 16,
    /** Buffers larger than this are made to measure and never kept: one huge batch must not stay resident. */
    private readonly maxPooled = 4 * 1024 * 1024
  ) {}

  /** A buffer of at least `size` bytes (its first `size` are the batch's). */
  acquire(size: number): Buffer {
    if (size > this.maxPooled) return Buffer.allocUnsafeSlow(size)
    for (let i = this.free.length - 1; i >= 0; i--) {
      const buffer = this.free[i]!
      if (buffer.length >= size) {
        this.free[i] = this.free[this.free.length - 1]!
        this.free.pop()
        return buffer
      }
    }
    let capacity = 64 * 1024
    while (capacity < size) capacity *= 2
    return Buffer.allocUnsafeSlow(capacity)
  }

  /** Takes back the buffer under `batch` (a batch `encodeRecordBatch` wrote into one) once nothing reads it any more. */
  release(batch: EncodedBatch): void {
    const first = batch[0]
    if (first === undefined || this.free.length >= this.maxFree || first.byteOffset !== 0 || first.buffer.byteLength > this.maxPooled) return
    this.free.push(Buffer.from(first.buffer, 0, first.buffer.byteLength))
  }
}

/**
 * One uncompressed record batch of `records[indices[0]], records[indices[1]], ...`
 * (the records of one partition, in order), all stamped `timestampMs`;
 * written into one of `buffers` when given (release it there once sent).
 *
 * Usually one buffer. A SlabRecord key or value of `referencedBytes` or more
 * is referenced rather than copied: the batch is then the pieces of its own
 * buffer with views of those values between them. So a 50 MB value costs no
 * third copy here (the slab it was written into is held until the batch is
 * acknowledged anyway).
 */
export const encodeRecordBatch = (
  records: ReadonlyArray<OutRecord>,
  indices: ArrayLike<number>,
  producer: BatchProducer,
  timestampMs: number,
  buffers?: BatchBuffers
): EncodedBatch => {
  const measured = measure(records, indices)
  const batchBytes = batchHeaderBytes + measured.recordsBytes
  const ownBytes = batchBytes - measured.largeBytes
  const buffer = buffers === undefined ? Buffer.allocUnsafe(ownBytes) : buffers.acquire(ownBytes).subarray(0, ownBytes)
  if (measured.largeBytes === 0) {
    writeRecords(buffer, batchHeaderBytes, records, indices, measured)
    writeHeader(buffer, batchBytes, indices.length, 0, producer, timestampMs)
    writeCrc(buffer, batchBytes)
    return [buffer]
  }
  const pieces: Pieces = { list: [], start: 0 }
  const end = writeRecords(buffer, batchHeaderBytes, records, indices, measured, pieces)
  if (end > pieces.start) pieces.list.push(buffer.subarray(pieces.start, end))
  writeHeader(buffer, batchBytes, indices.length, 0, producer, timestampMs)
  writePiecesCrc(pieces.list)
  return pieces.list
}

/** A compression codec: its name (which goes into the batch attributes) and its compressor. */
export interface BatchCodec {
  readonly name: Exclude<BatchCompression, "none">
  readonly compress: (raw: Buffer) => Buffer | Promise<Buffer>
}

/**
 * A compressed record batch: the records are encoded as above, handed to the
 * codec, and the result framed with the codec named in the attributes.
 */
export const encodeCompressedRecordBatch = async (
  records: ReadonlyArray<OutRecord>,
  indices: ArrayLike<number>,
  producer: BatchProducer,
  timestampMs: number,
  codec: BatchCodec,
  buffers?: BatchBuffers
): Promise<EncodedBatch> => {
  const measured = measure(records, indices)
  const raw = buffers === undefined ? Buffer.allocUnsafe(measured.recordsBytes) : buffers.acquire(measured.recordsBytes).subarray(0, measured.recordsBytes)
  writeRecords(raw, 0, records, indices, measured)
  const compressed = await codec.compress(raw)
  // The codec is done with the records' bytes (gzip reads them off the event loop until here).
  buffers?.release([raw])
  const batchBytes = batchHeaderBytes + compressed.length
  const buffer = Buffer.allocUnsafe(batchBytes)
  buffer.set(compressed, batchHeaderBytes)
  writeHeader(buffer, batchBytes, indices.length, compressionCodes[codec.name], producer, timestampMs)
  writeCrc(buffer, batchBytes)
  return [buffer]
}
