/**
 * Kafka transactions for `kafka.delivery = "exactly-once"`, on the library
 * `kafka.client` names (TransactionBackend.ts: platformaticTransactions.ts by
 * default, kafkajsTransactions.ts).
 *
 * - The transactional id is derived from the slot (`outboxx-<slot>`), so a
 *   second instance of the same pipeline fences the first: its InitProducerId
 *   bumps the epoch, aborts whatever transaction the first left open, and any
 *   later request of the first fails with a fenced-producer error.
 * - Next to the data, each Kafka transaction writes one record to the slot's
 *   position topic `outboxx.offsets.<slot>` (one partition, compacted, key =
 *   slot, value = {"lsn", "systemId", ...}): the commit end LSN of the last
 *   PostgreSQL transaction it holds. Data and position commit together, so a
 *   restart that reads the position (read_committed) knows exactly what Kafka has.
 * - The position topic is created, and read at startup, with kafkajs (its
 *   admin and a read_committed consumer), whichever library sends.
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import type { Kafka } from "kafkajs"
import { formatLsn, parseLsn } from "../../postgres/lsn.js"
import { type OutRecord, topicsOf } from "./batching.js"
import { classifyKafkaError, KafkaSendError } from "./errors.js"
import { KafkaClient, kafkaRetry, kafkaTimeouts, resolveClient } from "./KafkaClient.js"
import { kafkajsTransactions } from "./kafkajsTransactions.js"
import type { TransactionBackend } from "./TransactionBackend.js"

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

/** What a position record says: everything up to this commit end LSN is in Kafka. */
export interface StoredPosition {
  readonly lsn: number
  readonly systemId: string
}

export const positionRecord = (topic: string, slot: string, position: StoredPosition): OutRecord => ({
  topic,
  key: slot,
  value: JSON.stringify({
    lsn: formatLsn(position.lsn),
    systemId: position.systemId,
    slot,
    at: new Date().toISOString()
  })
})

/** Parses a position record's value; undefined when it is not one of ours. */
export const parsePosition = (value: Buffer | string | null): StoredPosition | undefined => {
  if (value === null) return undefined
  try {
    const parsed = JSON.parse(value.toString()) as { lsn?: unknown; systemId?: unknown }
    if (typeof parsed.lsn !== "string" || typeof parsed.systemId !== "string") return undefined
    return { lsn: parseLsn(parsed.lsn), systemId: parsed.systemId }
  } catch {
    return undefined
  }
}

export interface TransactionalProducer {
  /** Sends records inside the open transaction (opening one when none is). */
  readonly send: (records: ReadonlyArray<OutRecord>) => Effect.Effect<void, KafkaSendError>
  /** Writes the position record and commits the open transaction (opening one when none is). */
  readonly commit: (position: StoredPosition) => Effect.Effect<void, KafkaSendError>
  /** Aborts the open transaction, if any; never fails (an unreachable broker aborts it on timeout). */
  readonly abort: Effect.Effect<void>
  /**
   * The last committed position of this slot (read_committed), undefined when
   * none was ever stored. Final when read before this producer's first commit:
   * making it fenced earlier instances, which completes their transactions'
   * commit markers. Straight after a commit the markers may still be on their
   * way, and this can return the previous position.
   */
  readonly readPosition: Effect.Effect<StoredPosition | undefined, KafkaSendError>
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
  const client = yield* KafkaClient
  const { compression, kafka, settings, tls } = client
  const topic = positionTopicFor(slot)
  const options = {
    transactionalId: transactionalIdFor(slot),
    transactionTimeoutMs,
    requestMaxBytes: settings.batchMaxBytes > 4096 ? settings.batchMaxBytes - 128 : settings.batchMaxBytes
  }
  const library = yield* resolveClient(settings.client, process.versions.node).pipe(
    Effect.mapError((e) =>
      new KafkaSendError({ topics: [topic], retryable: false, reason: e.message, code: undefined, acknowledged: 0, cause: e })
    )
  )
  const backend: TransactionBackend = library === "kafkajs"
    ? kafkajsTransactions(kafka, compression, options)
    : (yield* Effect.promise(() => import("./platformaticTransactions.js"))).platformaticTransactions(settings, tls, options)
  const failWith = (what: string, topics: ReadonlyArray<string> = [topic]) =>
    sendError(backend.classify, topics, what, settings.createTopics)
  // The position topic is handled with kafkajs whichever library sends, so its errors are kafkajs'.
  const kafkajsFailure = (what: string) => sendError(classifyKafkaError, [topic], what, settings.createTopics)

  yield* ensurePositionTopic(topic).pipe(Effect.mapError(kafkajsFailure("cannot prepare the position topic")))

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

  const commit = (position: StoredPosition) =>
    Effect.tryPromise({
      try: async () => {
        await backend.send([positionRecord(topic, slot, position)])
        await backend.commit()
      },
      catch: failWith("transaction commit failed")
    })

  const abort = Effect.promise(() => backend.abort())

  const readPosition = readLastPosition(topic, slot).pipe(
    Effect.provideService(KafkaClient, client),
    Effect.mapError(kafkajsFailure("cannot read the stored position"))
  )

  return { send, commit, abort, readPosition } satisfies TransactionalProducer
})

/** Creates the position topic (1 partition, compacted) when missing and allowed. */
const ensurePositionTopic = (topic: string) =>
  Effect.gen(function*() {
    const { kafka, settings } = yield* KafkaClient
    const admin = kafka.admin({ retry: kafkaRetry })
    yield* Effect.tryPromise({
      try: async () => {
        await admin.connect()
        try {
          const existing = await admin.listTopics()
          if (existing.includes(topic)) return
          if (!settings.createTopics) {
            throw new Error(
              `topic ${topic} does not exist and kafka.create_topics is off; create it with 1 partition and cleanup.policy=compact`
            )
          }
          await admin.createTopics({
            waitForLeaders: true,
            timeout: kafkaTimeouts.adminTimeoutMs,
            topics: [{
              topic,
              numPartitions: 1,
              replicationFactor: settings.topicReplicationFactor,
              configEntries: [
                { name: "cleanup.policy", value: "compact" },
                // Small segments, so compaction keeps the topic a handful of records long.
                { name: "segment.ms", value: String(60 * 60 * 1000) },
                { name: "segment.bytes", value: String(16 * 1024 * 1024) }
              ]
            }]
          })
        } finally {
          await admin.disconnect().catch(() => undefined)
        }
      },
      catch: (cause) => cause
    })
  })

/**
 * Reads the position topic from the start up to its last stable offset
 * (read_committed: aborted transactions are invisible) and returns the last
 * record for `slot`. The topic is compacted with small segments, so this reads
 * few records. A throwaway consumer group (kafkajs has no group-less consumer).
 */
const readLastPosition = (topic: string, slot: string): Effect.Effect<StoredPosition | undefined, unknown, KafkaClient> =>
  Effect.gen(function*() {
    const { kafka } = yield* KafkaClient
    const admin = kafka.admin({ retry: kafkaRetry })
    // ListOffsets is read_committed by default in kafkajs: `offset` is the last stable offset.
    const end = yield* Effect.tryPromise({
      try: async () => {
        await admin.connect()
        try {
          const offsets = await admin.fetchTopicOffsets(topic)
          return Number(offsets.find((o) => o.partition === 0)?.offset ?? "0")
        } finally {
          await admin.disconnect().catch(() => undefined)
        }
      },
      catch: (cause) => cause
    })
    if (end <= 0) return undefined
    return yield* Effect.tryPromise({
      try: () => consumeUntil(kafka, topic, slot, end),
      catch: (cause) => cause
    })
  })

const consumeUntil = async (
  kafka: Kafka,
  topic: string,
  slot: string,
  end: number
): Promise<StoredPosition | undefined> => {
  const consumer = kafka.consumer({
    groupId: `outboxx-position-reader-${randomUUID()}`,
    readUncommitted: false,
    retry: kafkaRetry,
    maxWaitTimeInMs: 200
  })
  let last: StoredPosition | undefined = undefined
  try {
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${topic} up to offset ${end}`)), 30_000)
      // Fires for every batch, including those of control records only (commit markers).
      consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
        if (Number(event.payload.lastOffset) >= end - 1) {
          clearTimeout(timer)
          resolve()
        }
      })
      consumer.on(consumer.events.CRASH, (event) => {
        clearTimeout(timer)
        reject(event.payload.error)
      })
      consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          if (Number(message.offset) >= end) return
          if (message.key?.toString() !== slot) return
          last = parsePosition(message.value) ?? last
        }
      }).catch(reject)
    })
  } finally {
    await consumer.disconnect().catch(() => undefined)
  }
  return last
}
