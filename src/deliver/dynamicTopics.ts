/**
 * Topics named by the data rather than the configuration: the WAL-message
 * outbox's messages and an outbox table's rows (`{column}` in the topic
 * template) pick their destination. A topic a lane has not used yet is
 * prepared (checked, or created when `kafka.create_topics` is on) before the
 * lane's records are handed to delivery. One that cannot be prepared for
 * good (missing, and outboxx may not create it) turns its records into dead
 * letters with the reason, in both delivery modes; a retryable failure is
 * retried (delivery waits, as it would for Kafka).
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { deadLetterRecord } from "../event/record/DeadLetter.js"
import * as Metrics from "../observability/metrics.js"
import { deliveryBackoff } from "../pipeline/backoff.js"
import { formatLsn } from "../postgres/lsn.js"
import type { Delivery } from "./Delivery.js"
import type { Outbox } from "./Outbox.js"
import type { RecordSink } from "./RecordSink.js"

/** A lane whose records name their topics. */
export interface DynamicLane {
  readonly lane: number
  readonly name: string
  readonly deadLetterTopic: string
  /** Topics prepared at start (configuredTopics): never prepared again. */
  readonly prepared: ReadonlyArray<string>
}

/** `delivery`, with each dynamic lane's new topics prepared before each hand-over. */
export const withDynamicTopics = (delivery: Delivery, sink: RecordSink, lanes: ReadonlyArray<DynamicLane>): Delivery => {
  if (lanes.length === 0) return delivery
  const gates = lanes.map((lane) => ({ lane, prepared: new Set<string>([lane.deadLetterTopic, ...lane.prepared]) }))

  const gate = Effect.fnUntraced(function*(lane: DynamicLane, prepared: Set<string>, outbox: Outbox) {
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
    let deadLettered = 0
    outbox.records = outbox.records.map((record) => {
      while (left === 0 && t < outbox.txs.length - 1) left = outbox.counts[++t]!
      left--
      const reason = refused.get(record.topic)
      if (reason === undefined) return record
      deadLettered++
      const tx = outbox.txs[t]!
      return deadLetterRecord(lane.deadLetterTopic, lane.name, record, `topic ${record.topic} cannot be written: ${reason}`, {
        xid: tx.xid,
        commitLsn: tx.commitLsn > 0 ? formatLsn(tx.commitLsn) : undefined
      })
    })
    yield* Metric.update(Metrics.deadLettersTotal, deadLettered)
    for (const [topic, reason] of refused) {
      yield* Effect.logError(`${lane.name}: records for topic ${topic} sent to dead-letter topic ${lane.deadLetterTopic}: ${reason}`)
    }
  })

  return {
    ...delivery,
    hand: (outboxes) =>
      Effect.forEach(gates, ({ lane, prepared }) => {
        const outbox = outboxes[lane.lane]
        return outbox === undefined || outbox.records.length === 0 ? Effect.void : gate(lane, prepared, outbox)
      }, { discard: true }).pipe(Effect.andThen(delivery.hand(outboxes)))
  }
}
