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
import { Context, Deferred, Duration, Effect, Layer, Schedule } from "effect"
import { Settings } from "../config/Settings.js"
import { KafkaProducer } from "../kafka/KafkaProducer.js"
import { TopicAdmin } from "../kafka/TopicAdmin.js"
import { HealthState } from "../observability/HealthState.js"
import { StateStore } from "../state/StateStore.js"
import { type RecordSink, SinkError } from "./RecordSink.js"
import { runStreaming, type StreamingError, type StreamingOptions } from "./Streaming.js"
import type { OutboxxSettings } from "../config/model.js"

/** The Kafka producer and topic admin as the actors' sink. */
export const kafkaSink = Effect.gen(function*() {
  const producer = yield* KafkaProducer
  const admin = yield* TopicAdmin
  return {
    prepareTopics: (topics) =>
      admin.ensureTopics(topics).pipe(
        Effect.mapError((error) => new SinkError({ reason: error.message, retryable: error.retryable, cause: error }))
      ),
    send: (records) =>
      producer.send(records).pipe(
        Effect.mapError((error) => new SinkError({ reason: error.message, retryable: error.retryable, cause: error }))
      )
  } satisfies RecordSink
})

/** SQLSTATE classes that do not heal by waiting: authentication, permissions, missing objects, bad config. */
const permanentSqlState = /^(28|42|3D|3F|0A|22|XX)/

/** Whether waiting and reconnecting can fix this failure. */
export const isTransient = (error: StreamingError): boolean => {
  switch (error._tag) {
    case "ReplicationError":
    case "SlotError":
    case "SinkError":
      return error.retryable
    case "PostgresError":
      return error.code === undefined || !permanentSqlState.test(error.code)
    case "PublicationError":
    case "RoutingError":
    case "TablePlanError":
    case "PgoutputDecodeError":
    case "ReplicationProtocolError":
      return false
  }
}

const reconnectBackoff = Schedule.min([Schedule.exponential(Duration.millis(250)), Schedule.spaced(Duration.seconds(30))]).pipe(
  Schedule.jittered
)

/**
 * Streams with `sink` until interrupted, restarting after transient failures.
 * Fails only with a permanent error.
 */
export const superviseStreaming = (
  settings: OutboxxSettings,
  sink: RecordSink,
  options: StreamingOptions
): Effect.Effect<never, StreamingError, never> => {
  let failingSince: string | undefined
  return Effect.gen(function*() {
    const health = yield* Effect.serviceOption(HealthState)
    return yield* Effect.scoped(runStreaming(settings, sink, {
      ...options,
      onStarted: (info) =>
        Effect.gen(function*() {
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
          if (health._tag === "Some") {
            yield* health.value.update((h) => ({ ...h, streaming: false, lastError: error.message }))
          }
          if (!transient) return yield* Effect.logError(`stopping: ${error.message}`)
          if (failingSince === error.message) return
          failingSince = error.message
          yield* Effect.logWarning(`streaming interrupted, reconnecting with backoff: ${error.message}`)
        })
      )
    )
  }).pipe(
    Effect.retry({ schedule: reconnectBackoff, while: isTransient })
  ) as Effect.Effect<never, StreamingError, never>
}

export class Pipeline extends Context.Service<Pipeline, {
  /** Fails when the pipeline stops for good (a permanent error); never succeeds. */
  readonly awaitStopped: Effect.Effect<never, StreamingError>
}>()("outboxx/Pipeline") {
  /**
   * Starts streaming in the background for the life of the layer; closing the
   * layer's scope is the graceful shutdown (drain, flush, final status update).
   */
  static readonly layer: Layer.Layer<Pipeline, never, Settings | KafkaProducer | TopicAdmin | StateStore | HealthState> =
    Layer.effect(
      Pipeline,
      Effect.gen(function*() {
        const settings = yield* Settings
        const state = yield* StateStore
        const sink = yield* kafkaSink
        const stopped = yield* Deferred.make<never, StreamingError>()
        const context = yield* Effect.context<HealthState>()
        yield* superviseStreaming(settings, sink, {
          temporarySlot: false,
          // Journal the checkpoint; a journal failure is logged and the next advance retries it.
          onConfirmed: (lsn) => state.commitCheckpoint(lsn).pipe(Effect.asVoid, Effect.catch((e) => Effect.logError(e.message)))
        }).pipe(
          Effect.provide(context),
          Effect.tapError((error) => Deferred.fail(stopped, error)),
          Effect.forkScoped
        )
        return Pipeline.of({ awaitStopped: Deferred.await(stopped) })
      })
    )
}
