/**
 * The outbox's destinations are named by the messages, not the
 * configuration: a topic an `[outbox] topics` glob allows is prepared
 * (checked, or created when `kafka.create_topics` is on) when a message first
 * names it, before its records are handed to delivery. A topic that cannot
 * be prepared for good (missing, and outboxx may not create it) turns its
 * records into dead letters with the reason, in both delivery modes; a
 * retryable failure is retried (delivery waits, as it would for Kafka).
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { OutboxSettings } from "../config/model.js"
import { isTopicGlob, OUTBOX_LANE } from "../config/topic.js"
import { deadLetterRecord } from "../deliver/DeadLetter.js"
import type { Delivery } from "../deliver/Delivery.js"
import type { Outbox } from "../deliver/Outbox.js"
import type { RecordSink } from "../deliver/RecordSink.js"
import * as Metrics from "../observability/metrics.js"
import { deliveryBackoff } from "../pipeline/backoff.js"
import { formatLsn } from "../postgres/lsn.js"

/** `delivery`, with the outbox lane's new topics prepared before each hand-over. */
export const withOutboxTopics = (
  delivery: Delivery,
  sink: RecordSink,
  settings: OutboxSettings,
  lane: number
): Delivery => {
  // What the pipeline prepared at start (Streaming, configuredTopics).
  const prepared = new Set<string>([settings.deadLetterTopic, ...settings.topics.filter((t) => !isTopicGlob(t))])

  const gate = Effect.fnUntraced(function*(outbox: Outbox) {
    let fresh: Set<string> | undefined
    for (const record of outbox.records) {
      if (!prepared.has(record.topic)) (fresh ??= new Set()).add(record.topic)
    }
    if (fresh === undefined) return
    const refused = new Map<string, string>()
    for (const topic of fresh) {
      yield* sink.prepareTopics([topic]).pipe(
        Effect.retry({ schedule: deliveryBackoff, while: (error) => error.retryable }),
        Effect.match({
          onSuccess: () => prepared.add(topic),
          onFailure: (error) => refused.set(topic, error.message)
        })
      )
    }
    if (refused.size === 0) return
    // Each refused record becomes its dead letter, in place (its transaction's count is unchanged).
    let t = 0
    let left = outbox.counts[0] ?? 0
    outbox.records = outbox.records.map((record) => {
      while (left === 0 && t < outbox.txs.length - 1) left = outbox.counts[++t]!
      left--
      const reason = refused.get(record.topic)
      if (reason === undefined) return record
      const tx = outbox.txs[t]!
      return deadLetterRecord(settings.deadLetterTopic, OUTBOX_LANE, record, `topic ${record.topic} cannot be written: ${reason}`, {
        xid: tx.xid,
        commitLsn: tx.commitLsn > 0 ? formatLsn(tx.commitLsn) : undefined
      })
    })
    yield* Metric.update(Metrics.deadLettersTotal, outbox.records.filter((r) => r.topic === settings.deadLetterTopic).length)
    for (const [topic, reason] of refused) {
      yield* Effect.logError(`outbox: messages for topic ${topic} sent to dead-letter topic ${settings.deadLetterTopic}: ${reason}`)
    }
  })

  return {
    ...delivery,
    hand: (outboxes) => {
      const outbox = outboxes[lane]
      return outbox === undefined || outbox.records.length === 0
        ? delivery.hand(outboxes)
        : gate(outbox).pipe(Effect.andThen(delivery.hand(outboxes)))
    }
  }
}
