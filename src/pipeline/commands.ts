/**
 * What `outboxx run` and `outboxx tail` execute. The CLI provides Settings,
 * HealthState, logging, tracing and the HTTP endpoints around these; here the
 * pipeline's own services (Kafka, the state journal) are composed.
 */
import { Effect, Layer } from "effect"
import type { OutboxxSettings } from "../config/model.js"
import { KafkaProducer } from "../deliver/kafka/KafkaProducer.js"
import { StateStore } from "../state/StateStore.js"
import type { StateStoreError } from "../state/StateStoreError.js"
import { Pipeline, superviseStreaming } from "./Pipeline.js"
import { stdoutSink } from "../deliver/StdoutSink.js"

/** The pipeline with Kafka and its configured state journal (or the one given); needs Settings and HealthState. */
export const pipelineLayer = (
  settings: OutboxxSettings,
  state: Layer.Layer<StateStore, StateStoreError> = StateStore.layerFor(settings)
) =>
  Pipeline.layer.pipe(
    Layer.provide(Layer.merge(KafkaProducer.layerWith(settings.kafka), state))
  )

/**
 * `outboxx run`: stream into Kafka until a signal (clean stop) or a permanent
 * failure. The state journal (StateStore.layerFileAt, which holds the state
 * directory's lock) comes from the caller: the CLI takes it before it binds
 * its HTTP port, so a second instance on the same configuration is told who
 * holds the lock, not that the port is taken.
 */
export const runDaemon = (settings: OutboxxSettings) =>
  Effect.gen(function*() {
    const pipeline = yield* Pipeline
    return yield* pipeline.awaitStopped
  }).pipe(Effect.provide(Pipeline.layer.pipe(Layer.provide(KafkaProducer.layerWith(settings.kafka)))))

/**
 * `outboxx tail`: the same pipeline to stdout on a TEMPORARY slot, which the
 * server drops when the connection ends, so the real slot never moves.
 */
export const runTail = (settings: OutboxxSettings) =>
  superviseStreaming(settings, stdoutSink(), { temporarySlot: true })
