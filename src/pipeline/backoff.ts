/**
 * The one retry policy: exponential from `base`, each delay capped at `cap`,
 * jittered (Effect's ×0.8–1.2) so that instances restarted together do not
 * retry in step. Every retry in the pipeline is this Schedule with its own
 * numbers: reconnecting the stream (250 ms … 30 s), delivering a batch
 * (200 ms … 10 s), resuming an incremental snapshot (250 ms … 30 s, 8 times).
 * The Kafka producer's own re-sends follow the client library's retry
 * setting (KafkaClient.kafkaRetry), as the library calls it.
 */
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

export const cappedBackoff = (base: Duration.Input, cap: Duration.Input) =>
  Schedule.min([Schedule.exponential(base), Schedule.spaced(cap)]).pipe(Schedule.jittered)

/** Reconnecting the replication stream (Pipeline.superviseStreaming) and resuming snapshots. */
export const reconnectBackoff = cappedBackoff(Duration.millis(250), Duration.seconds(30))

/** Re-sending a batch Kafka refused for a retryable reason (StreamActor). */
export const deliveryBackoff = cappedBackoff(Duration.millis(200), Duration.seconds(10))
