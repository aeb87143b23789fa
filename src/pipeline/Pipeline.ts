/**
 * The Pipeline service: streaming from the configured slot into Kafka,
 * supervised. It is the Layer other Effect apps compose (it never installs a
 * logger or tracer and never calls runMain); `outboxx run` launches it too.
 *
 * Supervision: a transient failure (connection lost, walsender terminated,
 * server restart, slot busy) tears the whole streaming scope down and starts
 * again from the slot's confirmed LSN after a capped, jittered backoff. Each
 * state change is logged once; retries of the same failure are not repeated
 * in the log. A permanent failure (authentication, a dropped table, a value we
 * cannot convert) stops the pipeline with the error, never confirming past it.
 */
import { Context, Deferred, Duration, Effect, Layer, Metric, type Redacted, Schedule } from "effect"
import { loadSignalKey } from "../snapshot/signalKey.js"
import { isPermanentPostgresFailure, postgresErrorClass } from "../postgres/failures.js"
import { kafkaErrorsTotal, postgresErrorsTotal, reconnectsTotal } from "../observability/metrics.js"
import { reconnectBackoff } from "./backoff.js"
import { Settings } from "../config/Settings.js"
import { KafkaProducer } from "../deliver/kafka/KafkaProducer.js"
import { TopicAdmin } from "../deliver/kafka/TopicAdmin.js"
import { disconnected, HealthState } from "../observability/HealthState.js"
import { StateStore } from "../state/StateStore.js"
import { withCircuitBreaker } from "../deliver/CircuitBreakerSink.js"
import { type RecordSink, SinkError } from "../deliver/RecordSink.js"
import { estimateRecordBytes } from "../deliver/kafka/batching.js"
import { type OutRecord, RejectedRecord } from "../event/record/OutRecord.js"
import { SlabRecord } from "../event/record/SlabRecord.js"
import { runStreaming, type StreamingError, type StreamingOptions } from "./Streaming.js"
import type { OutboxxSettings } from "../config/model.js"
import { makeSlotGuard } from "../replication/SlotGuard.js"
import { monitorSlot } from "../replication/SlotMonitor.js"
import { probeKafkaWhenIdle } from "../deliver/kafka/KafkaProbe.js"
import { KafkaClient } from "../deliver/kafka/KafkaClient.js"
import { makeTransactionalProducer } from "../deliver/kafka/TransactionalProducer.js"

/** A record batch's header (61 bytes, v2) plus the log entry's offset and length (12). */
const batchOverheadBytes = 73

/**
 * The first record that cannot fit its topic (TopicAdmin.recordLimit), as a
 * permanent SinkError: the broker would refuse it (MESSAGE_TOO_LARGE) or, past
 * its request size, close the connection, which looks like an outage and was
 * retried forever. Failing it here sends it to the dead-letter topic (or stops
 * the stream, with `on_error = "fail"`) and lets later changes flow.
 * Uncompressed only: with compression the broker judges the compressed batch.
 */
const oversized = (
  records: ReadonlyArray<OutRecord>,
  limitOf: ((topic: string) => number | undefined) | undefined
): SinkError | undefined => {
  let topic = ""
  let limit: number | undefined
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    // Change events are SlabRecords (never rejected ones): one class test per record, this runs for every record sent.
    if (!(record instanceof SlabRecord) && record instanceof RejectedRecord) {
      return new SinkError({ reason: record.reason, retryable: false })
    }
    if (limitOf === undefined) continue
    if (record.topic !== topic) {
      topic = record.topic
      limit = limitOf(topic)
    }
    if (limit === undefined) continue
    const size = estimateRecordBytes(record) + batchOverheadBytes
    if (size > limit) {
      return new SinkError({
        reason: `a record of ${size} bytes for topic ${topic} exceeds the ${limit} bytes it accepts ` +
          `(the topic's max.message.bytes, within the broker's socket.request.max.bytes)`,
        retryable: false
      })
    }
  }
  return undefined
}

/** The Kafka producer and topic admin as the actors' sink. */
export const kafkaSink = Effect.gen(function*() {
  const producer = yield* KafkaProducer
  const admin = yield* TopicAdmin
  const { settings } = yield* KafkaClient
  const checkSizes = settings.compression === "none"
  return {
    prepareTopics: (topics) =>
      admin.ensureTopics(topics).pipe(
        Effect.mapError((error) => new SinkError({ reason: error.message, retryable: error.retryable, cause: error }))
      ),
    send: (records) => {
      const tooLarge = oversized(records, checkSizes ? admin.recordLimit : undefined)
      return tooLarge !== undefined ? Effect.fail(tooLarge) : producer.send(records).pipe(
        Effect.mapError((error) => new SinkError({ reason: error.message, retryable: error.retryable, cause: error }))
      )
    },
    // Both backends encode the records into their own request buffers.
    copiesRecords: true,
    ...(checkSizes ? { recordLimit: admin.recordLimit } : {})
  } satisfies RecordSink
})

/** Whether waiting and reconnecting can fix this failure. */
export const isTransient = (error: StreamingError): boolean => {
  switch (error._tag) {
    case "ReplicationError":
      // START_REPLICATION racing another instance for the slot (55006 object_in_use) is retryable: wait as standby.
      return error.retryable
    case "StateStoreError":
      return error.retryable === true
    case "SlotError":
    case "SinkError":
    case "SnapshotError":
    case "FormatError":
      return error.retryable
    case "PostgresError":
      return !isPermanentPostgresFailure(error.code, error.message)
    case "PublicationError":
    case "OutboxInstallError":
    case "RoutingError":
    case "TablePlanError":
    case "PgoutputDecodeError":
    case "ReplicationProtocolError":
      return false
  }
}

/**
 * Which server a failure says is unreachable: a lost or refused connection
 * to PostgreSQL, or Kafka failing to take records; undefined for the rest
 * (a bad table, a value we cannot convert: the servers are fine).
 */
const sideOf = (error: StreamingError): "postgres" | "kafka" | undefined => {
  switch (error._tag) {
    case "ReplicationError":
      return error.retryable ? "postgres" : undefined
    case "PostgresError":
      return isPermanentPostgresFailure(error.code, error.message) ? undefined : "postgres"
    case "SinkError":
      return error.retryable ? "kafka" : undefined
    default:
      return undefined
  }
}

/**
 * Streams with `sink` until interrupted, restarting after transient failures.
 * Fails only with a permanent error.
 *
 * Reconnecting follows `reconnectBackoff` (250 ms ... 30 s, jittered) while
 * the stream cannot start; once it has streamed again, the next failure
 * starts the backoff afresh (after 250 ms), so a failure days after the last
 * one is retried quickly, not after 30 s: the inner retry ends when a run that
 * had started fails, and the outer one begins a new inner retry.
 */
export const superviseStreaming = (
  settings: OutboxxSettings,
  sink: RecordSink,
  options: StreamingOptions
): Effect.Effect<void, StreamingError, never> => {
  let failingSince: string | undefined
  /** Whether the current run reached streaming (its failure then restarts the backoff). */
  let started = false
  // Walsenders this process opened, across reconnects (a leftover one is terminated, see Standby.ts).
  const ownWalsenders = options.ownWalsenders ?? new Set<number>()
  return Effect.gen(function*() {
    const health = yield* HealthState
    started = false
    return yield* Effect.scoped(runStreaming(settings, sink, {
      ...options,
      ownWalsenders,
      onStarted: (info) =>
        Effect.gen(function*() {
          started = true
          if (failingSince !== undefined) {
            yield* Effect.logInfo(`recovered: streaming again after "${failingSince}"`)
            failingSince = undefined
          }
          if (options.onStarted) yield* options.onStarted(info)
        })
    })).pipe(
      Effect.tapError((error) =>
        Effect.gen(function*() {
          const transient = isTransient(error)
          const side = sideOf(error)
          yield* health.update((h) => ({
            ...h,
            streaming: false,
            lastError: error.message,
            ...(side === "postgres" ? { postgres: disconnected(error.message) } : {}),
            ...(side === "kafka" ? { kafka: disconnected(error.message) } : {})
          }))
          if (side === "postgres") {
            const code = error._tag === "PostgresError" ? error.code : undefined
            yield* Metric.update(Metric.withAttributes(postgresErrorsTotal, { class: postgresErrorClass(code) }), 1)
          }
          // A Kafka failure that stopped streaming (unreachable at start, topics not creatable); the actors count their own retries.
          if (side === "kafka") yield* Metric.update(kafkaErrorsTotal, 1)
          if (transient) yield* Metric.update(reconnectsTotal, 1)
          if (!transient) return yield* Effect.logError(`stopping: ${error.message}`)
          if (failingSince === error.message) return
          failingSince = error.message
          yield* Effect.logWarning(`streaming interrupted, reconnecting with backoff: ${error.message}`)
        })
      )
    )
  }).pipe(
    Effect.retry({ schedule: reconnectBackoff, while: (error) => isTransient(error) && !started }),
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(250)), while: isTransient })
  ) as Effect.Effect<void, StreamingError, never>
}

export class Pipeline extends Context.Service<Pipeline, {
  /**
   * Fails when the pipeline stops for good (a permanent error); succeeds only
   * when it has nothing left to do (`snapshot = "initial_only"` after the snapshot).
   */
  readonly awaitStopped: Effect.Effect<void, StreamingError>
}>()("outboxx/Pipeline") {
  /**
   * Starts streaming in the background for the life of the layer; closing the
   * layer's scope is the graceful shutdown (drain, flush, final status update).
   */
  static readonly layer: Layer.Layer<Pipeline, never, Settings | KafkaProducer | TopicAdmin | KafkaClient | StateStore> =
    Layer.effect(
      Pipeline,
      Effect.gen(function*() {
        const settings = yield* Settings
        const state = yield* StateStore
        const sink = yield* withCircuitBreaker(yield* kafkaSink)
        const stopped = yield* Deferred.make<void, StreamingError>()
        let journalFailing = false
        const context = yield* Effect.context<never>()
        const kafkaClient = yield* KafkaClient
        const topicAdmin = yield* TopicAdmin
        // Without a key every signal is refused, loudly; streaming itself does not need it.
        const signalKey = yield* loadSignalKey(settings, { create: true }).pipe(
          Effect.map((key): Redacted.Redacted<Buffer> | undefined => key),
          Effect.catch((e) =>
            Effect.as(Effect.logWarning(`${e.message}; snapshot signals (outboxx snapshot) will be refused`), undefined)
          )
        )
        // What the servers say, whatever streaming does: the slot and WAL position, and a dead broker while idle.
        yield* monitorSlot(settings.postgres, settings.postgres.slot).pipe(
          Effect.annotateLogs({ slot: settings.postgres.slot }),
          Effect.forkScoped
        )
        yield* probeKafkaWhenIdle().pipe(
          Effect.provideService(TopicAdmin, topicAdmin),
          Effect.annotateLogs({ slot: settings.postgres.slot }),
          Effect.forkScoped
        )
        yield* superviseStreaming(settings, sink, {
          temporarySlot: false,
          ...(signalKey === undefined ? {} : { signalKey }),
          ...(settings.kafka.delivery === "exactly-once"
            ? {
              exactlyOnce: (slot: string) =>
                makeTransactionalProducer(slot).pipe(
                  Effect.provideService(KafkaClient, kafkaClient),
                  Effect.provideService(TopicAdmin, topicAdmin),
                  Effect.mapError((e) => new SinkError({ reason: e.message, retryable: e.retryable, cause: e }))
                )
            }
            : {}),
          slotGuard: makeSlotGuard(state, settings.postgres.onSlotLost ?? "fail"),
          journal: state,
          // Journal the checkpoint; a journal failure is logged (once, and once on recovery) and the
          // next advance retries it. Streaming goes on: the slot's confirmed LSN is where a restart resumes.
          onConfirmed: (lsn) =>
            state.commitCheckpoint(lsn).pipe(
              Effect.andThen(() => {
                if (!journalFailing) return Effect.void
                journalFailing = false
                return Effect.logInfo("state journal writable again; checkpoints are journaled")
              }),
              Effect.catch((e) => {
                if (journalFailing) return Effect.void
                journalFailing = true
                return Effect.logError(`cannot journal checkpoints (streaming continues; retrying): ${e.message}`)
              })
            )
        }).pipe(
          Effect.provide(context),
          // Every line of the pipeline names its slot (a host may run several).
          Effect.annotateLogs({ slot: settings.postgres.slot }),
          Effect.tapError((error) => Deferred.fail(stopped, error)),
          Effect.tap(() => Deferred.succeed(stopped, undefined)),
          Effect.forkScoped
        )
        return Pipeline.of({ awaitStopped: Deferred.await(stopped) })
      })
    )
}
