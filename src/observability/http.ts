/**
 * The operator endpoints on `http.listen`:
 *   GET /healthz  200 "ok" while the process is live
 *   GET /readyz   200 when both servers answer and changes stream (or as a standby: "ready (standby)"),
 *                 else 503 + JSON reason
 *   GET /status   JSON of the HealthState, the lag as of now, and each stream's delivery
 *   GET /metrics  Prometheus text (names exactly as in metrics.ts; no prefix added)
 * `listen = ""` in the config (settings.http.listen undefined) disables the server.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as HttpMiddleware from "effect/http/HttpMiddleware"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import type { HttpSettings } from "../config/model.js"
import { version } from "../version.js"
import { HealthState, lagOf, notReadyReason, statusOf } from "./HealthState.js"
import * as Metrics from "./metrics.js"
import { refreshProcessMetrics } from "./processMetrics.js"

/**
 * `node:http` through `process.getBuiltinModule`, not an ESM import: importing a
 * builtin evaluates every export of its ESM facade, and one of `node:http`'s
 * loads Node's bundled undici (fetch, WebSocket), which this process never
 * uses (Node 24: 14 MB more resident in a bare process, 2.6 MB in an idle
 * daemon, which loads much of the rest anyway).
 */
const { createServer } = process.getBuiltinModule("node:http")

/** Series present (at 0) from the first scrape: every unlabelled counter and gauge the pipeline sets later. */
const unlabelledSeries: ReadonlyArray<Metric.Metric<number, unknown>> = [
  Metrics.transactionsTotal,
  Metrics.walBytesTotal,
  Metrics.kafkaErrorsTotal,
  Metrics.confirmedLsn,
  Metrics.inflightMessages,
  Metrics.kafkaCircuitOpen,
  Metrics.deadLettersTotal,
  Metrics.signalsRejectedTotal,
  Metrics.capturedTablesMissing,
  Metrics.reconnectsTotal,
  Metrics.activeRole
]

const walStatuses = ["reserved", "extended", "unreserved", "lost", "missing"] as const

/**
 * The gauges that are views of live state, set at the moment of the scrape
 * (Prometheus's collector pattern): lag, the server's and the slot's
 * positions, process metrics. A scrape is therefore never staler than the
 * data behind it: the confirmed LSN is the tracker's, the server's WAL
 * position is at most one SlotMonitor poll old (1 s).
 */
export const refreshScrapeGauges = Effect.gen(function*() {
  yield* refreshPipelineGauges
  yield* refreshProcessMetrics
})

/** The gauges of the pipeline whose HealthState is in context (a cluster runner scrapes each of its pipelines). */
export const refreshPipelineGauges = Effect.gen(function*() {
  const health = yield* HealthState
  const state = yield* health.get
  const live = health.live
  const lag = lagOf(live, Date.now())
  yield* Metric.update(Metrics.replicationLagBytes, lag.bytes)
  yield* Metric.update(Metrics.replicationLagSeconds, lag.seconds)
  if (lag.confirmedLsn > 0) yield* Metric.update(Metrics.confirmedLsn, lag.confirmedLsn)
  yield* Metric.update(Metrics.serverWalLsn, lag.serverLsn > 0 ? lag.serverLsn : Number.NaN)
  yield* Metric.update(Metrics.inflightMessages, live.streaming?.inFlight() ?? 0)
  const slot = state.slotState
  yield* Metric.update(Metrics.slotRetainedWalBytes, slot?.retainedBytes ?? Number.NaN)
  yield* Metric.update(Metrics.slotSafeWalSizeBytes, slot?.safeWalSizeBytes ?? Number.NaN)
  yield* Metric.update(Metrics.slotActive, slot?.active === true ? 1 : 0)
  yield* Metric.update(Metrics.ready, notReadyReason(state) === undefined ? 1 : 0)
  yield* Metric.update(Metrics.postgresConnected, state.postgres.connected ? 1 : 0)
  yield* Metric.update(Metrics.kafkaConnected, state.kafka.connected ? 1 : 0)
  const status = slot === null ? undefined : slot.exists ? slot.walStatus : "missing"
  for (const s of walStatuses) yield* Metric.update(Metric.withAttributes(Metrics.slotWalStatus, { status: s }), s === status ? 1 : 0)
})

/** The routes alone, for embedding into a host app's own router. */
export const routesLayer: Layer.Layer<never, never, HttpRouter.HttpRouter> = HttpRouter.use(
  Effect.fnUntraced(function*(router) {
    const health = yield* HealthState
    yield* Effect.forEach(unlabelledSeries, (metric) => Metric.modify(metric, 0), { discard: true })
    yield* Metric.update(Metric.withAttributes(Metrics.buildInfo, { version, node_version: process.version }), 1)
    yield* router.add("GET", "/healthz", HttpServerResponse.text("ok"))
    yield* router.add(
      "GET",
      "/readyz",
      Effect.map(health.get, (state) => {
        const reason = notReadyReason(state)
        if (reason !== undefined) return HttpServerResponse.jsonUnsafe({ ready: false, role: state.role, reason }, { status: 503 })
        return HttpServerResponse.text(state.role === "standby" ? "ready (standby)" : "ready")
      })
    )
    yield* router.add(
      "GET",
      "/status",
      Effect.map(health.get, (state) => HttpServerResponse.jsonUnsafe(statusOf(state, health.live, Date.now())))
    )
    yield* router.add(
      "GET",
      "/metrics",
      Effect.gen(function*() {
        yield* refreshScrapeGauges
        const body = yield* PrometheusMetrics.format()
        return HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
      })
    )
  })
)

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

/** Serves the endpoints (a cluster runner's: cluster/RunnerHttp.ts) on host:port; a no-op layer when listening is disabled. */
export const httpServerLayer = (
  http: HttpSettings,
  routes: Layer.Layer<never, never, HttpRouter.HttpRouter> = routesLayer
): Layer.Layer<never, HttpListenError> => {
  const listen = http.listen
  if (listen === undefined) return Layer.empty
  const address = `${listen.host}:${listen.port}`
  return HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
    // Probes and scrapes every few seconds are not traces anyone wants (a host embedding the routes decides for itself).
    Layer.provide(Layer.succeed(HttpMiddleware.TracerDisabledWhen)(() => true)),
    Layer.provide(
      NodeHttpServer.layer(createServer, { host: listen.host, port: listen.port, gracefulShutdownTimeout: "2 seconds" })
    ),
    // A port already in use is a startup failure the operator must see.
    Layer.catchTag("ServeError", (e) => Layer.effectDiscard(Effect.fail(new HttpListenError({ address, reason: reasonOf(e.cause) }))))
  )
}
