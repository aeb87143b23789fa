/**
 * Pure helpers that cut a send into produce requests.
 *
 * The pipeline owns batching in time (a stream actor sends what queued up
 * while its previous batch was in flight, after waiting up to `kafka.linger`
 * for a small one to fill); the producer owns batching in size: whatever array it
 * gets, it sends as consecutive requests of at most `batchMaxBytes` each, in
 * order, so a per-partition record batch never exceeds what the broker accepts.
 */
import type { OutRecord } from "../../event/record/OutRecord.js"
import { SlabRecord } from "../../event/record/SlabRecord.js"

export type { OutRecord }

/** Fixed per-record overhead of the v2 record format (length, attributes, deltas, varints) — an estimate. */
const recordOverheadBytes = 24

export const byteLength = (data: string | Buffer | null): number =>
  data === null ? 0 : typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.length

/** Approximate encoded size of one record (uncompressed). */
export const estimateRecordBytes = (record: OutRecord): number => {
  if (record instanceof SlabRecord) {
    return recordOverheadBytes + Math.max(0, record.keyLength) + Math.max(0, record.valueLength)
  }
  let size = recordOverheadBytes + byteLength(record.key) + byteLength(record.value)
  if (record.headers !== undefined) {
    for (const name in record.headers) size += 8 + Buffer.byteLength(name) + Buffer.byteLength(record.headers[name]!)
  }
  return size
}

/**
 * Splits `records` into consecutive slices whose estimated size is at most
 * `maxBytes` (a record larger than that travels alone; the broker decides
 * whether it fits). Order is preserved: concatenating the slices gives back
 * the input.
 */
export const splitByBytes = (
  records: ReadonlyArray<OutRecord>,
  maxBytes: number
): ReadonlyArray<ReadonlyArray<OutRecord>> => {
  const chunks: Array<ReadonlyArray<OutRecord>> = []
  let start = 0
  let bytes = 0
  for (let i = 0; i < records.length; i++) {
    const size = estimateRecordBytes(records[i]!)
    if (i > start && bytes + size > maxBytes) {
      chunks.push(records.slice(start, i))
      start = i
      bytes = 0
    }
    bytes += size
  }
  if (start < records.length) chunks.push(start === 0 ? records : records.slice(start))
  return chunks
}

/** The distinct topics of a batch, in first-seen order. */
export const topicsOf = (records: ReadonlyArray<OutRecord>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  // Records come in runs of one topic: a hash lookup only where the topic changes (it runs per record of every send).
  let last: string | undefined
  for (let i = 0; i < records.length; i++) {
    const topic = records[i]!.topic
    if (topic === last) continue
    last = topic
    seen.add(topic)
  }
  return Array.from(seen)
}

/** Records per topic, counted by runs of one topic (the per-batch delivery metric). */
export const countByTopic = (records: ReadonlyArray<OutRecord>): Map<string, number> => {
  const counts = new Map<string, number>()
  let i = 0
  while (i < records.length) {
    const topic = records[i]!.topic
    let j = i + 1
    while (j < records.length && records[j]!.topic === topic) j++
    counts.set(topic, (counts.get(topic) ?? 0) + j - i)
    i = j
  }
  return counts
}
