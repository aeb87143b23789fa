/**
 * A cluster runner's operator endpoints on `http.listen`:
 *   GET /healthz  200 "ok" while the process is live
 *   GET /readyz   200 once the runner is in the cluster and every pipeline
 *                 it runs streams; else 503 + JSON reasons per pipeline
 *   GET /status   JSON: the runner and, per pipeline it runs, what a single
 *                 pipeline's /status shows
 *   GET /metrics  Prometheus text; each pipeline's series carry `pipeline`
 *                 and `runner` labels (pipelineSingleton.ts sets them)
 *
 * The pipelines a runner runs change as shards move: each singleton
 * registers its HealthState here for as long as it runs.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { HealthState, type HealthStateShape, notReadyReason, statusOf } from "../observability/HealthState.js"
import { refreshPipelineGauges } from "../observability/http.js"
import * as Metrics from "../observability/metrics.js"
import { refreshProcessMetrics } from "../observability/processMetrics.js"
import { version } from "../version.js"

/** The pipelines running on this runner now, by name. */
export interface RunnerPipelines {
  readonly runner: string
  readonly running: Map<string, HealthStateShape>
}

export const makeRunnerPipelines = (runner: string): RunnerPipelines => ({ runner, running: new Map() })

/** Lists `health` as pipeline `name` of this runner for the life of the scope. */
export const registerPipeline = (
  pipelines: RunnerPipelines,
  name: string,
  health: HealthStateShape
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => void pipelines.running.set(name, health)),
    () => Effect.sync(() => void (pipelines.running.get(name) === health && pipelines.running.delete(name)))
  )

const sorted = (pipelines: RunnerPipelines) => [...pipelines.running.entries()].sort(([a], [b]) => a.localeCompare(b))

export const runnerRoutes = (pipelines: RunnerPipelines): Layer.Layer<never, never, HttpRouter.HttpRouter> =>
  HttpRouter.use(
    Effect.fnUntraced(function*(router) {
      yield* Metric.update(Metric.withAttributes(Metrics.buildInfo, { version, node_version: process.version }), 1)
      yield* router.add("GET", "/healthz", HttpServerResponse.text("ok"))
      yield* router.add(
        "GET",
        "/readyz",
        Effect.gen(function*() {
          const reasons: Record<string, string> = {}
          for (const [name, health] of sorted(pipelines)) {
            const reason = notReadyReason(yield* health.get)
            if (reason !== undefined) reasons[name] = reason
          }
          if (Object.keys(reasons).length > 0) {
            return HttpServerResponse.jsonUnsafe({ ready: false, runner: pipelines.runner, pipelines: reasons }, { status: 503 })
          }
          return HttpServerResponse.text(`ready (${pipelines.running.size} pipelines)`)
        })
      )
      yield* router.add(
        "GET",
        "/status",
        Effect.gen(function*() {
          const now = Date.now()
          const running: Record<string, unknown> = {}
          for (const [name, health] of sorted(pipelines)) running[name] = statusOf(yield* health.get, health.live, now)
          return HttpServerResponse.jsonUnsafe({ runner: pipelines.runner, version, pipelines: running })
        })
      )
      yield* router.add(
        "GET",
        "/metrics",
        Effect.gen(function*() {
          for (const [name, health] of sorted(pipelines)) {
            yield* refreshPipelineGauges.pipe(
              Effect.provideService(HealthState, health),
              Effect.provideService(Metric.CurrentMetricAttributes, { pipeline: name, runner: pipelines.runner })
            )
          }
          yield* refreshProcessMetrics
          const body = yield* PrometheusMetrics.format()
          return HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
        })
      )
    })
  )
