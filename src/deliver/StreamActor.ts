/**
 * One actor per configured stream: a fiber with a bounded mailbox of record
 * batches. It sends each batch to the sink in order (so per-key order is the
 * commit order) and acknowledges the batch's transactions in the checkpoint
 * tracker only when the sink confirmed every record. A retryable sink failure
 * is retried with capped exponential backoff while everything stays queued
 * (the full mailbox pauses the source); a permanent one stops the pipeline
 * without confirming anything past it.
 */
import { Duration, Effect, Metric, Queue } from "effect"
import { inTraceOf } from "../observability/BatchTrace.js"
import { HealthState } from "../observability/HealthState.js"
import * as Metrics from "../observability/metrics.js"
import { countByTopic, estimateRecordBytes, type OutRecord } from "./kafka/batching.js"
import type { CheckpointTracker } from "../checkpoint/CheckpointTracker.js"
import type { Outbox } from "./Outbox.js"
import type { RecordSink, SinkError } from "./RecordSink.js"
import { type DeadLetterPosition, deadLetterRecord } from "../event/record/DeadLetter.js"
import { formatLsn } from "../postgres/lsn.js"
import { deliveryBackoff } from "../pipeline/backoff.js"
import { releaseSlabs } from "../event/record/SlabPool.js"
import { recycleRecords } from "../event/record/SlabRecord.js"

export interface StreamActor {
  readonly name: string
  /** `null` asks the actor to finish after what is already queued. */
  readonly mailbox: Queue.Queue<Outbox | null>
  readonly run: Effect.Effect<void, SinkError>
}

/**
 * Memory bounds: a mailbox holds at most 3 outboxes (each the records of one
 * route batch of at most 1,024 messages, or one snapshot chunk), and one sink
 * call takes at most 2 of them (about one 1 MB produce request in a drain).
 * That is enough to keep the producer busy while the router fills the next
 * batch, and small enough that fewer records live long enough to be promoted
 * to V8's old generation: with 8 and 4 (and a source high-water mark of 4,096)
 * a 1,000,000-change drain peaked 18 MB higher at the same rate.
 */
export const mailboxCapacity = 3
const outboxesPerSend = 2
/** Upper bound of records per sink call; the sink also splits by bytes. */
const maxRecordsPerSend = 8_192

/** `kafka.linger` and the batch size (`kafka.batch_max_bytes`) past which a batch does not wait. */
export interface Linger {
  readonly duration: Duration.Duration
  readonly fillBytes: number
}

const estimateBytes = (outboxes: ReadonlyArray<Outbox | null>): number => {
  let bytes = 0
  for (const outbox of outboxes) {
    if (outbox !== null) for (const record of outbox.records) bytes += estimateRecordBytes(record)
  }
  return bytes
}


export const makeStreamActor = Effect.fnUntraced(function*(
  name: string,
  sink: RecordSink,
  tracker: CheckpointTracker,
  onDelivered: (outboxes: ReadonlyArray<Outbox>, records: number) => void = () => {},
  /** `on_error = "dead_letter"`: permanently rejected records go to this topic instead of failing. */
  deadLetterTopic?: string,
  linger?: Linger
) {
  const mailbox = yield* Queue.bounded<Outbox | null>(mailboxCapacity)
  // Plain counters /status shows per stream (HealthState.StreamStats).
  const stats = (yield* HealthState).live.stream(name)

  /** `records` start at index `first` of the batch's records (for the dead letters' positions). */
  const deliver = (batch: ReadonlyArray<Outbox>, records: ReadonlyArray<OutRecord>, first: number) => {
    let warned = false
    return sink.send(records).pipe(
      Effect.tapError((error) => {
        stats.lastError = error.message
        if (error.retryable) stats.state = "retrying"
        if (!error.retryable || warned) return Metric.update(Metrics.kafkaErrorsTotal, 1)
        warned = true
        return Metric.update(Metrics.kafkaErrorsTotal, 1).pipe(Effect.andThen(Effect.logWarning(`stream ${name}: delivery failing, retrying until it works: ${error.message}`)))
      }),
      Effect.retry({ schedule: deliveryBackoff, while: (error) => error.retryable }),
      Effect.catch((error) => deadLetterTopic === undefined ? Effect.fail(error) : deadLetter(batch, records, first, deadLetterTopic)),
      Effect.tap(() => warned ? Effect.logInfo(`stream ${name}: delivery recovered`) : Effect.void),
      Effect.tapError(() =>
        Effect.sync(() => {
          stats.state = "failed"
          for (const outbox of batch) for (const tx of outbox.txs) tracker.fail(tx)
        })
      )
    )
  }

  /**
   * A batch failed for good: send its records one at a time (in order) so only
   * the rejected ones go to the dead-letter topic, each with its error.
   */
  const deadLetter = (batch: ReadonlyArray<Outbox>, records: ReadonlyArray<OutRecord>, first: number, topic: string) =>
    Effect.forEach(records, (record, i) =>
      sink.send([record]).pipe(
        Effect.retry({ schedule: deliveryBackoff, while: (error) => error.retryable }),
        Effect.catch((error) => {
          const position = positionOf(batch, first + i)
          return Effect.logError(
            `stream ${name}: record for ${record.topic} rejected (${error.message}); sent to dead-letter topic ${topic}`,
            { xid: position?.xid, commitLsn: position?.commitLsn }
          ).pipe(
            Effect.andThen(Metric.update(Metrics.deadLettersTotal, 1)),
            Effect.tap(() => Effect.sync(() => stats.deadLettered++)),
            Effect.andThen(sink.send([deadLetterRecord(topic, name, record, error.message, position)]).pipe(
              Effect.retry({ schedule: deliveryBackoff, while: (e) => e.retryable })
            ))
          )
        })
      ), { discard: true })

  /** The transaction of the batch's `index`-th record (outboxes list their records' transactions as runs). */
  const positionOf = (batch: ReadonlyArray<Outbox>, index: number): DeadLetterPosition | undefined => {
    let rest = index
    for (const outbox of batch) {
      if (rest >= outbox.records.length) {
        rest -= outbox.records.length
        continue
      }
      for (let t = 0; t < outbox.txs.length; t++) {
        if (rest < outbox.counts[t]!) {
          const tx = outbox.txs[t]!
          return { xid: tx.xid, commitLsn: tx.commitLsn > 0 ? formatLsn(tx.commitLsn) : undefined }
        }
        rest -= outbox.counts[t]!
      }
    }
    return undefined
  }

  /** Metrics of a delivered batch: records per topic (the commit-to-ack latency is the tracker's, Reporter.ts). */
  const recordDelivery = (records: ReadonlyArray<OutRecord>) =>
    Effect.gen(function*() {
      for (const [topic, n] of countByTopic(records)) yield* Metric.update(Metric.withAttributes(Metrics.kafkaMessagesTotal, { topic }), n)
    })

  /**
   * `kafka.linger`: a batch smaller than `fillBytes` waits up to the linger
   * for more outboxes (those arriving meanwhile join it), as the Java client's
   * linger.ms. With 0 a batch goes as soon as the previous one is acknowledged.
   */
  const takeBatch = linger === undefined || Duration.isZero(linger.duration)
    ? Queue.takeBetween(mailbox, 1, outboxesPerSend)
    : Effect.gen(function*() {
      const taken: Array<Outbox | null> = yield* Queue.takeBetween(mailbox, 1, outboxesPerSend)
      if (taken.length >= outboxesPerSend || taken.includes(null) || estimateBytes(taken) >= linger.fillBytes) return taken
      yield* Effect.sleep(linger.duration)
      // takeBetween with a minimum of 0 returns nothing at all: take only what is there.
      if (Queue.sizeUnsafe(mailbox) > 0) {
        for (const outbox of yield* Queue.takeBetween(mailbox, 1, outboxesPerSend - taken.length)) taken.push(outbox)
      }
      return taken
    })

  const run = Effect.gen(function*() {
    while (true) {
      const taken = yield* takeBatch
      const batch: Array<Outbox> = []
      let done = false
      for (const item of taken) {
        if (item === null) done = true
        else batch.push(item)
      }
      let records: Array<OutRecord> = []
      let count = 0
      for (const outbox of batch) count += outbox.records.length
      if (count > 0) {
        stats.state = "delivering"
        records = batch.length === 1 ? batch[0]!.records : batch.flatMap((o) => o.records)
        for (let start = 0; start < records.length; start += maxRecordsPerSend) {
          const slice = records.length <= maxRecordsPerSend ? records : records.slice(start, start + maxRecordsPerSend)
          yield* inTraceOf(batch, Effect.annotateSpans(deliver(batch, slice, start), { "outboxx.stream": name }))
        }
        for (const outbox of batch) {
          for (let i = 0; i < outbox.txs.length; i++) tracker.ack(outbox.txs[i]!, outbox.counts[i]!)
          if (outbox.trace !== undefined) outbox.trace.delivered()
        }
        yield* recordDelivery(records)
        stats.delivered += count
        stats.lastDeliveredAt = Date.now()
        stats.state = "idle"
        onDelivered(batch, count)
        // The sink has every record and keeps none of their bytes: the slabs can be written again.
        if (sink.copiesRecords === true) {
          for (const outbox of batch) {
            releaseSlabs(outbox.slabs)
            recycleRecords(outbox.records)
          }
        }
      }
      if (done) return
    }
  }).pipe(Effect.annotateLogs({ stream: name }))

  return { name, mailbox, run } satisfies StreamActor
})
