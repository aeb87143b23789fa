/**
 * The body of a Produce request (versions 9 to 11, the "flexible" ones:
 * compact strings and arrays, tagged fields) around record batches that are
 * already encoded (recordBatch.ts). The batches are not copied here: the
 * request is a list of buffers, the batches among them, which the
 * connection joins once with the request header.
 *
 *   transactional_id COMPACT_NULLABLE_STRING | acks INT16 | timeout_ms INT32
 *   [topic_data: name COMPACT_STRING
 *     [partition_data: index INT32 | records COMPACT_RECORDS | TAG_BUFFER] TAG_BUFFER] TAG_BUFFER
 */

import { batchLength, type EncodedBatch } from "./recordBatch.js"
import { unsignedVarintBytes, writeUnsignedVarint } from "./varint.js"

/** Produce versions whose request has exactly this layout (the response differs; the library parses it). */
export const produceVersions = { min: 9, max: 11 } as const

/** One partition's encoded record batch. */
export interface PartitionBatch {
  readonly topic: string
  readonly partition: number
  readonly batch: EncodedBatch
}

/** Groups batches by topic, keeping first-seen order (the request names each topic once). */
const byTopic = (batches: ReadonlyArray<PartitionBatch>): Map<string, Array<PartitionBatch>> => {
  const topics = new Map<string, Array<PartitionBatch>>()
  for (const batch of batches) {
    const list = topics.get(batch.topic)
    if (list === undefined) topics.set(batch.topic, [batch])
    else list.push(batch)
  }
  return topics
}

/**
 * The request body as buffers to send in order: small framing buffers with
 * the batches between them. `acks` -1 is "all in-sync replicas";
 * `transactionalId` is set for the batches of a Kafka transaction.
 */
export const encodeProduceRequest = (
  batches: ReadonlyArray<PartitionBatch>,
  acks: number,
  timeoutMs: number,
  transactionalId?: string
): Array<Buffer> => {
  const topics = byTopic(batches)
  const pieces: Array<Buffer> = []

  // Everything up to the first partition's records.
  const id = transactionalId === undefined ? undefined : Buffer.from(transactionalId, "utf8")
  const idBytes = id === undefined ? 1 : unsignedVarintBytes(id.length + 1) + id.length
  const head = Buffer.allocUnsafe(idBytes + 2 + 4 + 5)
  let offset = 0
  if (id === undefined) {
    head[offset++] = 0 // transactional_id: null
  } else {
    offset = writeUnsignedVarint(head, offset, id.length + 1)
    offset += id.copy(head, offset)
  }
  offset = head.writeInt16BE(acks, offset)
  offset = head.writeInt32BE(timeoutMs, offset)
  offset = writeUnsignedVarint(head, offset, topics.size + 1)
  pieces.push(head.subarray(0, offset))

  let topicIndex = 0
  for (const [topic, partitions] of topics) {
    const name = Buffer.from(topic, "utf8")
    const topicHead = Buffer.allocUnsafe(
      unsignedVarintBytes(name.length + 1) + name.length + unsignedVarintBytes(partitions.length + 1)
    )
    let at = writeUnsignedVarint(topicHead, 0, name.length + 1)
    at += name.copy(topicHead, at)
    writeUnsignedVarint(topicHead, at, partitions.length + 1)
    pieces.push(topicHead)
    for (let i = 0; i < partitions.length; i++) {
      const { batch, partition } = partitions[i]!
      const length = batchLength(batch)
      const partitionHead = Buffer.allocUnsafe(4 + unsignedVarintBytes(length + 1))
      partitionHead.writeInt32BE(partition, 0)
      writeUnsignedVarint(partitionHead, 4, length + 1)
      pieces.push(partitionHead, ...batch)
      // The partition's tagged fields; after the last partition also the topic's
      // (and after the last topic, the request's).
      const last = i === partitions.length - 1
      const tail = !last ? 1 : topicIndex === topics.size - 1 ? 3 : 2
      pieces.push(Buffer.alloc(tail))
    }
    topicIndex++
  }
  return pieces
}

/**
 * The sequence number after `sequence` + `count` records: Kafka's sequences
 * are non-negative int32 and wrap to 0 after 2^31 - 1, as the Java client's
 * `DefaultRecordBatch.incrementSequence`.
 */
export const nextSequence = (sequence: number, count: number): number =>
  sequence > 0x7fffffff - count ? count - (0x7fffffff - sequence) - 1 : sequence + count
