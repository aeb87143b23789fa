/**
 * Traces over OTLP/HTTP (Jaeger, the OpenTelemetry collector, ...) to
 * `tracing.otlp_endpoint`; no endpoint = no tracer (Effect's default no-op).
 *
 * `sample_ratio` is applied per trace: a root span is kept with that
 * probability and its children follow their parent's decision, so a trace is
 * exported whole or not at all. The roots are the batches and snapshot
 * chunks (BatchTrace.ts) and the startup of each streaming run; no span lives
 * for the whole process, so `sample_ratio = 0` exports nothing at all.
 *
 * The resource says which process a span comes from: `service.instance.id`
 * (a UUID per process start, as OpenTelemetry recommends), `host.name`,
 * `process.pid` and `outboxx.slot`; whether it was the active instance or a
 * standby is the spans' `outboxx.role`.
 */
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import type { TracingSettings } from "../config/model.js"

/** `http://host:4318` -> `http://host:4318/v1/traces`; a URL already naming the path is kept. */
export const tracesUrl = (endpoint: string): string => {
  const trimmed = endpoint.replace(/\/+$/, "")
  return trimmed.endsWith("/v1/traces") ? trimmed : `${trimmed}/v1/traces`
}

/** Wraps a tracer so root spans are sampled with `ratio` and children inherit. */
export const withSampleRatio = (tracer: Tracer.Tracer, ratio: number, random: () => number = Math.random): Tracer.Tracer =>
  ratio >= 1
    ? tracer
    : Tracer.make({
      span(options) {
        const sampled = options.sampled && Option.match(options.parent, {
          onNone: () => random() < ratio,
          onSome: (parent) => parent.sampled
        })
        return tracer.span({ ...options, sampled })
      },
      context: tracer.context
    })

export interface TracingInfo {
  readonly serviceName: string
  readonly serviceVersion: string
  /** The slot of a single-pipeline process. */
  readonly slot?: string | undefined
  /** A cluster runner's address (its pipelines' spans carry `outboxx.pipeline` themselves). */
  readonly runner?: string | undefined
}

/**
 * Whether spans go anywhere. Off by default (Effect's built-in tracer keeps
 * spans in memory only): then no batch traces are built, no `traceparent`
 * header is written and logs carry no trace ids. `tracingLayer` turns it on
 * with its exporter; a host that installs its own OpenTelemetry tracer
 * provides `Layer.succeed(TracingEnabled, true)` beside it.
 */
export const TracingEnabled = Context.Reference<boolean>("outboxx/TracingEnabled", { defaultValue: () => false })

/** This process's `service.instance.id`. */
export const serviceInstanceId: string = randomUUID()

/** The tracer (plus the exporter's Flusher, which flushes pending spans at shutdown). */
export const tracingLayer = (tracing: TracingSettings, info: TracingInfo): Layer.Layer<OtlpExporter.Flusher> => {
  const endpoint = tracing.otlpEndpoint
  // The same no-op flusher OtlpTracer.layerFromConfig uses when tracing is off.
  if (endpoint === undefined || endpoint === "") return OtlpExporter.layerFlusher
  const tracer = Effect.map(
    OtlpTracer.make({
      url: tracesUrl(endpoint),
      resource: {
        serviceName: info.serviceName,
        serviceVersion: info.serviceVersion,
        attributes: {
          "service.instance.id": serviceInstanceId,
          "host.name": hostname(),
          "process.pid": process.pid,
          ...(info.slot === undefined ? {} : { "outboxx.slot": info.slot }),
          ...(info.runner === undefined ? {} : { "outboxx.runner": info.runner })
        }
      }
    }),
    (otlp) => withSampleRatio(otlp, tracing.sampleRatio)
  )
  return Layer.effect(Tracer.Tracer, tracer).pipe(
    Layer.merge(Layer.succeed(TracingEnabled, true)),
    Layer.provideMerge(OtlpExporter.layerFlusher),
    Layer.provide(OtlpSerialization.layerJson),
    Layer.provide(FetchHttpClient.layer)
  )
}
