/**
 * The operator endpoints on `http.listen`:
 *   GET /healthz  200 "ok" while the process is live
 *   GET /readyz   200 when streaming (PostgreSQL and Kafka connected), else 503 + JSON reason
 *   GET /status   JSON of the HealthState
 *   GET /metrics  Prometheus text (names exactly as in metrics.ts; no prefix added)
 * `listen = ""` in the config (settings.http.listen undefined) disables the server.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import type { HttpSettings } from "../config/model.js"
import { HealthState, notReadyReason } from "./HealthState.js"
import * as Metrics from "./metrics.js"

const unlabelledSeries: ReadonlyArray<Metric.Metric<number, unknown>> = [
  Metrics.transactionsTotal,
  Metrics.walBytesTotal,
  Metrics.kafkaErrorsTotal,
  Metrics.replicationLagBytes,
  Metrics.replicationLagSeconds,
  Metrics.confirmedLsn,
  Metrics.inflightMessages
]

/** The routes alone, for embedding into a host app's own router. */
export const routesLayer: Layer.Layer<never, never, HttpRouter.HttpRouter> = HttpRouter.use(
  Effect.fnUntraced(function*(router) {
    const health = yield* HealthState
    // Make the unlabelled series visible from the first scrape (adding 0 changes nothing).
    yield* Effect.forEach(unlabelledSeries, (metric) => Metric.modify(metric, 0), { discard: true })
    yield* router.add("GET", "/healthz", HttpServerResponse.text("ok"))
    yield* router.add(
      "GET",
      "/readyz",
      Effect.map(health.get, (state) => {
        const reason = notReadyReason(state)
        return reason === undefined
          ? HttpServerResponse.text("ready")
          : HttpServerResponse.jsonUnsafe({ ready: false, reason }, { status: 503 })
      })
    )
    yield* router.add("GET", "/status", Effect.map(health.get, (state) => HttpServerResponse.jsonUnsafe(state)))
  })
).pipe(Layer.merge(PrometheusMetrics.layerHttp({ path: "/metrics" })))

/** The endpoints could not be served (address in use, no permission, ...). */
export class HttpListenError extends Schema.TaggedError<HttpListenError>()("HttpListenError", {
  address: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot serve http.listen ${this.address}: ${this.reason}`
  }
}

const reasonOf = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "object" && cause !== null && "cause" in cause
    ? reasonOf(cause.cause)
    : String(cause)

/** Serves the endpoints on host:port; a no-op layer when listening is disabled. */
export const httpServerLayer = (http: HttpSettings): Layer.Layer<never, HttpListenError> => {
  const listen = http.listen
  if (listen === undefined) return Layer.empty
  const address = `${listen.host}:${listen.port}`
  return HttpRouter.serve(routesLayer, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(
      NodeHttpServer.layer(createServer, { host: listen.host, port: listen.port, gracefulShutdownTimeout: "2 seconds" })
    ),
    // A port already in use is a startup failure the operator must see.
    Layer.catchTag("ServeError", (e) => Layer.effectDiscard(Effect.fail(new HttpListenError({ address, reason: reasonOf(e.cause) }))))
  )
}
