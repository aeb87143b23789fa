/**
 * Outboxx as a library: the pipeline as Effect Layers for other Effect apps.
 *
 * ```ts
 * import { Pipeline, pipelineLayer, Settings, loadSettings, HealthState } from "outboxx"
 * const settings = yield* loadSettings("outboxx.toml")
 * const layer = pipelineLayer(settings).pipe(
 *   Layer.provide(Settings.layer(settings)),
 *   Layer.provideMerge(HealthState.layer(settings.postgres.slot, settings.postgres.publication))
 * )
 * ```
 * The library never installs a logger or tracer and never calls runMain: the
 * host application does that.
 */
export * from "./config/index.js"
export { HealthState, type Health } from "./observability/HealthState.js"
export * as Metrics from "./observability/metrics.js"
export { pipelineLayer, runDaemon, runTail } from "./pipeline/commands.js"
export { isTransient, kafkaSink, Pipeline, superviseStreaming } from "./pipeline/Pipeline.js"
export type { RecordSink } from "./deliver/RecordSink.js"
export { SinkError } from "./deliver/RecordSink.js"
export { stdoutSink } from "./deliver/StdoutSink.js"
export { runStreaming, type StreamingError, type StreamingOptions } from "./pipeline/Streaming.js"
export { KafkaProducer } from "./deliver/kafka/KafkaProducer.js"
export { TopicAdmin } from "./deliver/kafka/TopicAdmin.js"
export type { OutRecord } from "./deliver/kafka/batching.js"
export { StateStore } from "./state/StateStore.js"
