/**
 * What `outboxx run` and `outboxx tail` execute, with their layers composed.
 * The CLI adds only logging and the process runtime around these.
 */
import { Effect, Layer } from "effect"
import { Settings } from "../config/Settings.js"
import type { OutboxxSettings } from "../config/model.js"
import { KafkaProducer } from "../kafka/KafkaProducer.js"
import { HealthState } from "../observability/HealthState.js"
import { httpServerLayer } from "../observability/http.js"
import { tracingLayer } from "../observability/tracing.js"
import { StateStore } from "../state/StateStore.js"
import { Pipeline, superviseStreaming } from "./Pipeline.js"
import { stdoutSink } from "./StdoutSink.js"

export interface ServiceInfo {
  readonly serviceName: string
  readonly serviceVersion: string
}

/** Every service `run` needs, built from the settings. */
export const daemonLayer = (settings: OutboxxSettings, info: ServiceInfo) => {
  const health = HealthState.layer(settings.postgres.slot, settings.postgres.publication)
  const services = Layer.mergeAll(
    Layer.succeed(Settings, settings),
    KafkaProducer.layerWith(settings.kafka),
    StateStore.layerFileAt(settings.state.dir)
  )
  return Pipeline.layer.pipe(
    Layer.provide(services),
    // Endpoints come up first and go down last, so /healthz answers during startup and shutdown.
    Layer.provideMerge(Layer.merge(httpServerLayer(settings.http), health).pipe(Layer.provideMerge(health))),
    Layer.provide(tracingLayer(settings.tracing, info))
  )
}

/** `outboxx run`: stream into Kafka until a signal (clean stop) or a permanent failure. */
export const runDaemon = (settings: OutboxxSettings, info: ServiceInfo) =>
  Effect.gen(function*() {
    const pipeline = yield* Pipeline
    return yield* pipeline.awaitStopped
  }).pipe(Effect.provide(daemonLayer(settings, info)))

/**
 * `outboxx tail`: the same pipeline to stdout on a TEMPORARY slot, which the
 * server drops when the connection ends, so the real slot never moves.
 */
export const runTail = (settings: OutboxxSettings) =>
  superviseStreaming(settings, stdoutSink(), { temporarySlot: true })
