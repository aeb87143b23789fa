/**
 * Kafka transactions for `kafka.delivery = "exactly-once"`, on the library
 * `kafka.client` names (TransactionBackend.ts: platformatic/transactions.ts by
 * default, kafkajs/transactions.ts).
 *
 * - The transactional id is derived from the slot (`outboxx-<slot>`), so a
 *   second instance of the same pipeline fences the first: its InitProducerId
 *   bumps the epoch, aborts whatever transaction the first left open, and any
 *   later request of the first fails with a fenced-producer error.
 * - Next to the data, each Kafka transaction writes one record to the slot's
 *   position topic `outboxx.offsets.<slot>` (one partition, compacted, key =
 *   slot): the position of the last change it holds, as text the caller
 *   encodes (ExactlyOnce.ts: the commit end LSN and the system id). Data and
 *   position commit together, so a restart that reads the position
 *   (read_committed) knows exactly what Kafka has. This module never reads the
 *   position's text: Kafka transactions know nothing of PostgreSQL.
 * - The position topic is created, and read at startup, through TopicAdmin
 *   on the same library (a read_committed read of its one partition).
 */
import * as Effect from "effect/Effect"
import { type OutRecord, topicsOf } from "./batching.js"
import { KafkaSendError, type KafkaTopicError } from "./errors.js"
import { KafkaClient } from "./KafkaClient.js"
import type { TransactionBackend } from "./TransactionBackend.js"
import { TopicAdmin } from "./TopicAdmin.js"

/** The position topic of a slot. */
export const positionTopicFor = (slot: string): string => `outboxx.offsets.${slot}`

/** The transactional id of a slot's pipeline: stable across restarts, so zombies are fenced. */
export const transactionalIdFor = (slot: string): string => `outboxx-${slot}`

/**
 * How long a Kafka transaction may stay open before the broker aborts it
 * (the producer's `transaction.timeout.ms`, must be <= the broker's
 * `transaction.max.timeout.ms`, 15 min by default). One PostgreSQL transaction
 * goes into one Kafka transaction, so this bounds how long sending the biggest
 * PostgreSQL transaction may take.
 */
export const transactionTimeoutMs = 120_000

export interface TransactionalProducer {
  /** Sends records inside the open transaction (opening one when none is). */
  readonly send: (records: ReadonlyArray<OutRecord>) => Effect.Effect<void, KafkaSendError>
  /** Writes the position record (`position` is its value) and commits the open transaction (opening one when none is). */
  readonly commit: (position: string) => Effect.Effect<void, KafkaSendError>
  /** Aborts the open transaction, if any; never fails (an unreachable broker aborts it on timeout). */
  readonly abort: Effect.Effect<void>
  /**
   * The last committed position of this slot (read_committed) that `parse`
   * accepts, undefined when none was ever stored. Final when read before this producer's first commit:
   * making it fenced earlier instances, which completes their transactions'
   * commit markers. Straight after a commit the markers may still be on their
   * way, and this can return the previous position.
   */
  readonly readPosition: <A>(parse: (value: string) => A | undefined) => Effect.Effect<A | undefined, KafkaSendError>
}

/** Transaction-state errors a fresh start (new producer, new transaction) heals. */
const restartable = new Set([
  "PRODUCER_FENCED",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_TXN_STATE",
  "CONCURRENT_TRANSACTIONS",
  "TRANSACTION_COORDINATOR_FENCED",
  "COORDINATOR_NOT_AVAILABLE",
  "NOT_COORDINATOR",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "INVALID_PRODUCER_ID_MAPPING"
])

const sendError = (
  classify: TransactionBackend["classify"],
  topics: ReadonlyArray<string>,
  what: string,
  createTopics: boolean
) =>
(cause: unknown) => {
  const failure = classify(cause, { createTopics })
  return new KafkaSendError({
    topics,
    // A failed transaction is aborted and streaming restarts from the stored position,
    // so anything but a protocol error the broker calls final is worth another start
    // (a fenced producer restarts as a standby while the other instance streams).
    retryable: failure.retryable || failure.code === undefined || restartable.has(failure.code),
    reason: `${what}: ${failure.reason}`,
    code: failure.code,
    acknowledged: 0,
    cause
  })
}

/**
 * A transactional producer for `slot`, connected and initialised (fencing any
 * earlier instance), with the position topic in place. Closed with the scope.
 */
export const makeTransactionalProducer = Effect.fn("TransactionalProducer.make")(function*(slot: string) {
  const { backend: library, settings } = yield* KafkaClient
  const admin = yield* TopicAdmin
  const topic = positionTopicFor(slot)
  const backend = library.transactions({
    transactionalId: transactionalIdFor(slot),
    transactionTimeoutMs,
    requestMaxBytes: settings.batchMaxBytes > 4096 ? settings.batchMaxBytes - 128 : settings.batchMaxBytes
  })
  const failWith = (what: string, topics: ReadonlyArray<string> = [topic]) =>
    sendError(backend.classify, topics, what, settings.createTopics)
  const topicFailure = (what: string) => (e: KafkaTopicError) =>
    new KafkaSendError({ topics: [topic], retryable: e.retryable, reason: `${what}: ${e.reason}`, code: undefined, acknowledged: 0, cause: e })

  yield* admin.ensureCompactedTopic(topic).pipe(Effect.mapError(topicFailure("cannot prepare the position topic")))

  yield* Effect.acquireRelease(Effect.succeed(backend), (b) => Effect.promise(() => b.close()))
  // InitProducerId now, not at the first send: it fences an earlier instance and
  // aborts the transaction it left open, so the position read next is final.
  yield* Effect.tryPromise({
    try: () => backend.fence(),
    catch: failWith("cannot initialise the transactional producer (fencing earlier instances)")
  })

  const send = (records: ReadonlyArray<OutRecord>) =>
    records.length === 0
      ? Effect.void
      : Effect.tryPromise({ try: () => backend.send(records), catch: failWith("transactional send failed", topicsOf(records)) })

  const commit = (position: string) =>
    Effect.tryPromise({
      try: async () => {
        await backend.send([{ topic, key: slot, value: position }])
        await backend.commit()
      },
      catch: failWith("transaction commit failed")
    })

  const abort = Effect.promise(() => backend.abort())

  /** The last committed record of this slot (the topic is compacted with small segments: few records). */
  const readPosition = <A>(parse: (value: string) => A | undefined) =>
    admin.readCommitted(topic, 0).pipe(
      Effect.tap((records) =>
        // Which record the resume rests on, for the log: a wrong position here means changes sent twice.
        Effect.logInfo("exactly-once: read the position topic", {
          topic,
          records: records.length,
          lastOffset: records.length === 0 ? null : records[records.length - 1]!.offset,
          lastValue: records.length === 0 ? null : records[records.length - 1]!.value?.toString() ?? null
        })
      ),
      Effect.map((records) => {
        let last: A | undefined
        for (const record of records) {
          if (record.key?.toString() === slot && record.value !== null) last = parse(record.value.toString()) ?? last
        }
        return last
      }),
      Effect.mapError(topicFailure("cannot read the stored position"))
    )

  return { send, commit, abort, readPosition } satisfies TransactionalProducer
})
