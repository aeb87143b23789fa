/**
 * The one Kafka producer of the daemon, on @platformatic/kafka (default) or
 * kafkajs (`kafka.client`); both backends give the same guarantees.
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
import * as Metric from "effect/Metric"
import * as Semaphore from "effect/Semaphore"
import type { KafkaSettings } from "../../config/model.js"
import * as Metrics from "../../observability/metrics.js"
import { type OutRecord, splitByBytes, topicsOf } from "./batching.js"
import { type KafkaConfigError, KafkaSendError } from "./errors.js"
import { KafkaClient } from "./KafkaClient.js"
import type { ProduceTransport } from "./ProduceTransport.js"
import { TopicAdmin } from "./TopicAdmin.js"
import { SlabRecord } from "../../event/record/SlabRecord.js"
import { TracingEnabled } from "../../observability/tracing.js"

export type { OutRecord } from "./batching.js"


export class KafkaProducer extends Context.Service<
  KafkaProducer,
  {
    /**
     * Sends one batch and succeeds when the broker acknowledged every record.
     * Records go out in array order as consecutive requests of at most
     * `kafka.batchMaxBytes`; concurrent calls are served one after the other.
     */
    readonly send: (records: ReadonlyArray<OutRecord>) => Effect.Effect<void, KafkaSendError>
    /** Waits until no request is in flight (neither backend keeps a buffer of its own). */
    readonly flush: Effect.Effect<void>
  }
>()("outboxx/KafkaProducer") {
  /**
   * The producer on the client library `kafka.client` selects; needs KafkaClient
   * and TopicAdmin. See `layerWith` for the whole Kafka side from settings.
   */
  static readonly layer = Layer.effect(
    KafkaProducer,
    Effect.gen(function*() {
      const { backend } = yield* KafkaClient
      return yield* makeProducer(backend.transport())
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

/** The current span as a W3C `traceparent` header value, when tracing is on and the span sampled. */
const currentTraceparent: Effect.Effect<string | undefined> = Effect.gen(function*() {
  if (!(yield* TracingEnabled)) return undefined
  const span = yield* Effect.option(Effect.currentSpan)
  if (span._tag === "None" || !span.value.sampled) return undefined
  return `00-${span.value.traceId}-${span.value.spanId}-01`
})

/**
 * The records with one more header. Slab records get it set in place (they
 * are this send's until acknowledged, and reset when reused); others are
 * copied, as they may be shared.
 */
const withHeader = (records: ReadonlyArray<OutRecord>, name: string, value: string): ReadonlyArray<OutRecord> => {
  const header = { [name]: value }
  return records.map((record) => {
    if (record instanceof SlabRecord) {
      // A format's own headers (CloudEvents' attributes) stay.
      record.headers = record.headers === undefined ? header : { ...record.headers, ...header }
      return record
    }
    return {
      topic: record.topic,
      key: record.key,
      value: record.value,
      headers: record.headers === undefined ? header : { ...record.headers, ...header }
    }
  })
}

/** send/flush over one transport: topic checks, the split into requests, one request at a time. */
const makeProducer = Effect.fnUntraced(function*(transport: ProduceTransport) {
  const { settings } = yield* KafkaClient
  const topics = yield* TopicAdmin
  const serial = yield* Semaphore.make(1)

  // The split estimates record sizes; keep a margin under the limit for the record-batch
  // header, so a request cut at batch_max_bytes = the broker's max.message.bytes still fits.
  const requestMaxBytes = settings.batchMaxBytes > 4096 ? settings.batchMaxBytes - 128 : settings.batchMaxBytes

  /**
   * The request currently running; the next starts only after it settled, even
   * when the fiber that started it was interrupted (a promise cannot be aborted).
   */
  let inFlight: Promise<unknown> = Promise.resolve()
  const request = (chunk: ReadonlyArray<OutRecord>, topics: ReadonlyArray<string> | undefined): Promise<unknown> => {
    const run = inFlight.then(() => transport.produce(chunk, topics))
    inFlight = run.catch(() => undefined)
    return run
  }

  const send = Effect.fn("KafkaProducer.send", { kind: "producer" })(
    function*(records: ReadonlyArray<OutRecord>) {
      if (records.length === 0) return
      const batchTopics = topicsOf(records)
      yield* Effect.annotateCurrentSpan({
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.batch.message_count": records.length,
        ...(batchTopics.length === 1 ? { "messaging.destination.name": batchTopics[0] } : { "outboxx.topics": batchTopics })
      })
      // Consumers join the trace: every record carries the send span's W3C traceparent.
      const traceparent = yield* currentTraceparent
      if (traceparent !== undefined) records = withHeader(records, "traceparent", traceparent)
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
      yield* Metric.update(Metrics.kafkaProduceBatchRecords, records.length)
      // A send of one topic (the usual case) tells the transport so: no pass over each chunk's records to find its topics.
      const chunkTopics = batchTopics.length === 1 ? batchTopics : undefined
      for (const chunk of splitByBytes(records, requestMaxBytes)) {
        const startedAt = performance.now()
        yield* Effect.tryPromise({ try: () => request(chunk, chunkTopics), catch: (cause) => cause }).pipe(
          Effect.catch((cause) => {
            const failure = transport.classify(cause, { createTopics: settings.createTopics })
            const error = new KafkaSendError({
              topics: chunkTopics ?? topicsOf(chunk),
              retryable: failure.retryable,
              reason: failure.reason,
              code: failure.code,
              acknowledged,
              cause
            })
            const repair = Effect.all([
              failure.resetProducer ? transport.reset : Effect.void,
              // A deleted topic is re-checked (and re-created when allowed) before the next send.
              failure.code === "UNKNOWN_TOPIC_OR_PARTITION" ? topics.forget(error.topics) : Effect.void
            ])
            return Effect.andThen(repair, Effect.fail(error))
          })
        )
        acknowledged += chunk.length
        yield* Metric.update(Metrics.kafkaProduceDurationSeconds, (performance.now() - startedAt) / 1000)
      }
    },
    (effect) => serial.withPermit(effect)
  )

  const flush = Effect.promise(() => inFlight).pipe(Effect.asVoid)

  // Shutdown: let the last request settle, then close the connections.
  yield* Effect.addFinalizer(() =>
    flush.pipe(
      Effect.andThen(transport.close),
      Effect.catchCause((cause) => Effect.logWarning("Kafka producer disconnect failed", cause))
    )
  )

  return KafkaProducer.of({ send, flush })
})
