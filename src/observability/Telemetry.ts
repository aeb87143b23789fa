/**
 * Telemetry for the daemon, from the settings: loggers (`[log]`), the tracer
 * (`[tracing]`), the HealthState the pipeline writes, and the HTTP endpoints
 * (`[http]`) that read it. Library users who host the pipeline in their own
 * app pick the pieces they want instead (the library never installs a logger
 * or tracer by itself).
 */
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

export const telemetryLayer = (
  settings: OutboxxSettings,
  options: TelemetryOptions
): Layer.Layer<HealthState | OtlpExporter.Flusher, HttpListenError> => {
  const logging = loggingLayer(settings.log, { stderr: options.logsToStderr === true })
  const tracing = tracingLayer(settings.tracing, { serviceName: "outboxx", serviceVersion: options.serviceVersion })
  const health = HealthState.layer(settings.postgres.slot, settings.postgres.publication)
  const http = options.http === false ? Layer.empty : httpServerLayer(settings.http)
  return http.pipe(
    Layer.provideMerge(health),
    Layer.provideMerge(tracing),
    Layer.provideMerge(logging)
  )
}
