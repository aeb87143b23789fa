/**
 * Dead-letter records for `streams[].on_error = "dead_letter"`: a change that
 * Kafka rejects for good (over the size limit, an invalid record) goes to the
 * stream's dead-letter topic with the error, instead of stopping the pipeline.
 * Nothing is skipped silently (ARCHITECTURE.md rule 4): the record is there,
 * and the LSN advances only once it is acknowledged.
 */
import type { OutRecord } from "./OutRecord.js"

/** Originals bigger than this are cut (the usual reason for a dead letter is the size limit). */
const maxOriginalBytes = 256 * 1024

/** Cut before decoding: a 100 MB value never becomes a 100 MB string. */
const text = (data: string | Buffer | null): { readonly text: string | null; readonly truncated: boolean } => {
  if (data === null) return { text: null, truncated: false }
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data
  if (bytes.length <= maxOriginalBytes) return { text: bytes.toString("utf8"), truncated: false }
  return { text: bytes.subarray(0, maxOriginalBytes).toString("utf8"), truncated: true }
}

/** Where the change is in the source: its transaction, and the commit's LSN once known. */
export interface DeadLetterPosition {
  readonly xid: number
  /** The commit record's LSN, `X/Y` (as `source.commitLsn`); undefined for snapshot rows. */
  readonly commitLsn: string | undefined
}

/** The dead-letter record for `record`, which failed with `error`. */
export const deadLetterRecord = (
  deadLetterTopic: string,
  stream: string,
  record: OutRecord,
  error: string,
  position?: DeadLetterPosition
): OutRecord => {
  const value = text(record.value)
  return {
    topic: deadLetterTopic,
    key: record.key,
    value: JSON.stringify({
      stream,
      topic: record.topic,
      error,
      key: text(record.key).text,
      value: value.text,
      valueTruncated: value.truncated,
      headers: record.headers ?? {},
      position,
      at: new Date().toISOString()
    }),
    headers: { "outboxx-error": error.slice(0, 512), "outboxx-original-topic": record.topic }
  }
}
