/**
 * The one Kafka producer of the daemon.
 *
 * Guarantees (see docs/kafka.md):
 * - idempotent, acks=all: a broker-side retry never duplicates or reorders a
 *   partition's records;
 * - one produce request in flight at a time, requests in call order, records in
 *   array order: per key (= per partition) order is the pipeline's commit order;
 * - `send` succeeds only when every record is acknowledged; a failure says how
 *   many leading records were acknowledged and whether retrying can help.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Semaphore from "effect/Semaphore"
import kafkajs from "kafkajs"
import type { Producer } from "kafkajs"
import type { KafkaSettings } from "../config/model.js"
import { groupByTopic, type OutRecord, splitByBytes, topicsOf } from "./batching.js"
import { classifyKafkaError, type KafkaConfigError, KafkaSendError } from "./errors.js"
import { KafkaClient, kafkaRetry, kafkaTimeouts } from "./KafkaClient.js"
import { TopicAdmin } from "./TopicAdmin.js"

export type { OutRecord } from "./batching.js"

const { Partitioners } = kafkajs

export class KafkaProducer extends Context.Service<
  KafkaProducer,
  {
    /**
     * Sends one batch and succeeds when the broker acknowledged every record.
     * Records go out in array order as consecutive requests of at most
     * `kafka.batchMaxBytes`; concurrent calls are served one after the other.
     */
    readonly send: (records: ReadonlyArray<OutRecord>) => Effect.Effect<void, KafkaSendError>
    /** Waits until no request is in flight (kafkajs keeps no buffer of its own). */
    readonly flush: Effect.Effect<void>
  }
>()("outboxx/KafkaProducer") {
  /** Needs KafkaClient and TopicAdmin; see `layerWith` for the whole Kafka side from settings. */
  static readonly layer = Layer.effect(
    KafkaProducer,
    Effect.gen(function*() {
      const { compression, kafka, settings } = yield* KafkaClient
      const topics = yield* TopicAdmin
      const serial = yield* Semaphore.make(1)

      const newProducer = (): Producer =>
        kafka.producer({
          idempotent: true,
          // Idempotence allows up to 5 in flight per connection, but kafkajs re-numbers
          // sequences on failure; with one request at a time a retry can never overtake.
          maxInFlightRequests: 1,
          // Topics are created (or refused) by TopicAdmin, never by a metadata request.
          allowAutoTopicCreation: false,
          // The Java client's murmur2 partitioner: same key -> same partition as other clients.
          createPartitioner: Partitioners.DefaultPartitioner,
          retry: kafkaRetry
        })

      // The split estimates record sizes; keep a margin under the limit for the record-batch
      // header, so a request cut at batch_max_bytes = the broker's max.message.bytes still fits.
      const requestMaxBytes = settings.batchMaxBytes > 4096 ? settings.batchMaxBytes - 128 : settings.batchMaxBytes

      let producer = newProducer()
      let connected = false
      /** The kafkajs call currently running; the next request starts only after it settled. */
      let inFlight: Promise<unknown> = Promise.resolve()
      const watch = (p: Producer) =>
        p.on(p.events.DISCONNECT, () => {
          if (p === producer) connected = false
        })
      watch(producer)

      const request = (chunk: ReadonlyArray<OutRecord>): Promise<unknown> => {
        const previous = inFlight
        const p = producer
        const run = previous.then(async () => {
          if (!connected) {
            await p.connect()
            connected = true
          }
          return p.sendBatch({
            topicMessages: groupByTopic(chunk),
            acks: -1,
            timeout: kafkaTimeouts.produceAckTimeoutMs,
            compression
          })
        })
        inFlight = run.catch(() => undefined)
        return run
      }

      /** Drops a producer whose idempotence state is broken; the next request starts a fresh one. */
      const resetProducer = Effect.suspend(() => {
        const old = producer
        producer = newProducer()
        connected = false
        watch(producer)
        return Effect.promise(() => old.disconnect().catch(() => undefined))
      })

      const send = Effect.fn("KafkaProducer.send", { kind: "producer" })(
        function*(records: ReadonlyArray<OutRecord>) {
          if (records.length === 0) return
          const batchTopics = topicsOf(records)
          yield* Effect.annotateCurrentSpan({ "messaging.batch.message_count": records.length })
          yield* topics.ensureTopics(batchTopics).pipe(
            Effect.mapError((e) =>
              new KafkaSendError({
                topics: e.topics,
                retryable: e.retryable,
                reason: e.reason,
                acknowledged: 0,
                cause: e
              })
            )
          )
          let acknowledged = 0
          for (const chunk of splitByBytes(records, requestMaxBytes)) {
            yield* Effect.tryPromise({ try: () => request(chunk), catch: (cause) => cause }).pipe(
              Effect.catch((cause) => {
                const failure = classifyKafkaError(cause, { createTopics: settings.createTopics })
                const error = new KafkaSendError({
                  topics: topicsOf(chunk),
                  retryable: failure.retryable,
                  reason: failure.reason,
                  code: failure.code,
                  acknowledged,
                  cause
                })
                const repair = Effect.all([
                  failure.resetProducer ? resetProducer : Effect.void,
                  // A deleted topic is re-checked (and re-created when allowed) before the next send.
                  failure.code === "UNKNOWN_TOPIC_OR_PARTITION" ? topics.forget(error.topics) : Effect.void
                ])
                return Effect.andThen(repair, Effect.fail(error))
              })
            )
            acknowledged += chunk.length
          }
        },
        (effect) => serial.withPermit(effect)
      )

      const flush = Effect.promise(() => inFlight).pipe(Effect.asVoid)

      // Shutdown: let the last request settle, then close the connections.
      yield* Effect.addFinalizer(() =>
        flush.pipe(
          Effect.andThen(Effect.promise(() => (connected ? producer.disconnect() : Promise.resolve()))),
          Effect.catchCause((cause) => Effect.logWarning("Kafka producer disconnect failed", cause))
        )
      )

      return KafkaProducer.of({ send, flush })
    })
  )

  /** The whole Kafka side (client, topic admin, producer) from the `kafka` settings. */
  static readonly layerWith = (
    settings: KafkaSettings
  ): Layer.Layer<KafkaProducer | TopicAdmin | KafkaClient, KafkaConfigError> =>
    KafkaProducer.layer.pipe(
      Layer.provideMerge(TopicAdmin.layer),
      Layer.provideMerge(KafkaClient.layerWith(settings))
    )
}
