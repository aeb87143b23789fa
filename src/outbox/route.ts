/**
 * From a published message to its record: the WAL-message outbox's part of
 * routing. A message that verifies and names an allowed topic becomes the
 * record as published (topic, key, value, headers); any other becomes a
 * dead letter on `[outbox] dead_letter_topic` with the reason, in the same
 * place of the same transaction, so it is delivered, counted and confirmed
 * like the rest: never dropped.
 */
import type * as Redacted from "effect/Redacted"
import type { OutboxSettings } from "../config/model.js"
import { OUTBOX_LANE, topicMatcher } from "../config/topic.js"
import type { LogicalMessage } from "../decode/messages.js"
import { deadLetterRecord } from "../event/record/DeadLetter.js"
import type { OutRecord } from "../event/record/OutRecord.js"
import { formatLsn } from "../postgres/lsn.js"
import { isUndeliverable, readPublished, verifyingKey } from "./message.js"

/** Where the Router sends what `outboxx.publish` wrote. */
export interface PublishRoute {
  /** The delivery lane of the outbox (after the streams'). */
  readonly lane: number
  /** The record for one message of transaction `xid` committing at `commitLsn` (0 outside a transaction). */
  readonly record: (message: LogicalMessage, xid: number, commitLsn: number) => OutRecord
  /** Messages routed to their topic and to the dead-letter topic since the last call (metrics). */
  readonly takeCounts: () => { readonly published: number; readonly deadLettered: number }
}

export const makePublishRoute = (
  settings: OutboxSettings,
  key: Redacted.Redacted<Buffer> | undefined,
  lane: number
): PublishRoute => {
  const allowed = topicMatcher(settings.topics)
  const hmacKey = key === undefined ? undefined : verifyingKey(key)
  let published = 0
  let deadLettered = 0
  const deadLetter = (original: OutRecord, reason: string, xid: number, commitLsn: number): OutRecord => {
    deadLettered++
    return deadLetterRecord(settings.deadLetterTopic, OUTBOX_LANE, original, reason, {
      xid,
      commitLsn: commitLsn > 0 ? formatLsn(commitLsn) : undefined
    })
  }
  return {
    lane,
    record: (message, xid, commitLsn) => {
      const read = readPublished(message.content, hmacKey)
      if (isUndeliverable(read)) {
        const original = { topic: "(unverified outboxx message)", key: null, value: Buffer.from(message.content) }
        return deadLetter(original, `${read.reason} (message at ${formatLsn(message.lsn)})`, xid, commitLsn)
      }
      const record: OutRecord = read.headers === undefined
        ? { topic: read.topic, key: read.key, value: read.value }
        : { topic: read.topic, key: read.key, value: read.value, headers: read.headers }
      if (!message.transactional) {
        return deadLetter(record, "a non-transactional message: outboxx.publish writes transactional ones only", xid, commitLsn)
      }
      if (!allowed(read.topic)) {
        return deadLetter(
          record,
          `topic ${read.topic} is not among the outbox's destinations ([outbox] topics = ${JSON.stringify(settings.topics)})`,
          xid,
          commitLsn
        )
      }
      published++
      return record
    },
    takeCounts: () => {
      const counts = { published, deadLettered }
      published = 0
      deadLettered = 0
      return counts
    }
  }
}
