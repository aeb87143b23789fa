/**
 * Telemetry for the daemon, from the settings: loggers (`[log]`), the tracer
 * (`[tracing]`), the HealthState the pipeline writes, and the HTTP endpoints
 * (`[http]`) that read it. Library users who host the pipeline in their own
 * app pick the pieces they want instead (the library never installs a logger
 * or tracer by itself).
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type * as OtlpExporter from "effect/observability/OtlpExporter"
import type { OutboxxSettings } from "../config/model.js"
import { HealthState } from "./HealthState.js"
import { type HttpListenError, httpServerLayer } from "./http.js"
import { loggingLayer } from "./logging.js"
import { tracingLayer } from "./tracing.js"

export interface TelemetryOptions {
  readonly serviceVersion: string
  /** Logs to stderr (commands whose stdout is data, like `tail`). */
  readonly logsToStderr?: boolean
  /** Serve http.listen (default true). */
  readonly http?: boolean
}

/** What telemetry this process runs with; the startup log line reports it. */
export interface TelemetryShape {
  readonly serviceName: string
  readonly serviceVersion: string
  /** Where logs go. */
  readonly logs: { readonly format: "json" | "pretty"; readonly level: string; readonly to: "stdout" | "stderr" }
  /** OTLP/HTTP endpoint spans are exported to, if any. */
  readonly tracing: string | undefined
  /** host:port of /metrics /healthz /readyz /status, if served. */
  readonly http: string | undefined
}

export class Telemetry extends Context.Service<Telemetry, TelemetryShape>()("outboxx/Telemetry") {
  /**
   * Loggers, tracer, HealthState and the HTTP endpoints from the settings,
   * plus this service describing them.
   */
  static readonly layer = (
    settings: OutboxxSettings,
    options: TelemetryOptions
  ): Layer.Layer<Telemetry | OtlpExporter.Flusher, HttpListenError> => {
    const serveHttp = options.http !== false && settings.http.listen !== undefined
    const logsTo = options.logsToStderr === true ? "stderr" : "stdout"
    const logging = loggingLayer(settings.log, { stderr: logsTo === "stderr" })
    const tracing = tracingLayer(settings.tracing, {
      serviceName: "outboxx",
      serviceVersion: options.serviceVersion,
      slot: settings.postgres.slot
    })
    const health = HealthState.layer(settings.postgres.slot, settings.postgres.publication)
    const http = serveHttp ? httpServerLayer(settings.http) : Layer.empty
    const description = Layer.succeed(Telemetry, {
      serviceName: "outboxx",
      serviceVersion: options.serviceVersion,
      logs: { format: settings.log.format, level: settings.log.level, to: logsTo },
      tracing: settings.tracing.otlpEndpoint,
      http: serveHttp && settings.http.listen !== undefined ? `${settings.http.listen.host}:${settings.http.listen.port}` : undefined
    })
    return http.pipe(
      Layer.provideMerge(health),
      Layer.provideMerge(tracing),
      Layer.provideMerge(logging),
      Layer.merge(description)
    )
  }
}
