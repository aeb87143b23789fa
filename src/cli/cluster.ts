/**
 * Cluster mode of `outboxx run` (a runner file with a `[cluster]` table, see
 * cluster/settings.ts and docs/cluster.md).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { runnerLayer, runnerName } from "../cluster/Runner.js"
import { loadClusterSettings } from "../cluster/settings.js"
import { loggingLayer } from "../observability/logging.js"
import { tracingLayer } from "../observability/tracing.js"
import { version } from "../version.js"

/** Runs this process as a cluster runner until SIGTERM/SIGINT (its pipelines hand over gracefully). */
export const runCluster = Effect.fnUntraced(function*(path: string) {
  const settings = yield* loadClusterSettings(path)
  const runner = runnerName(settings)
  const telemetry = Layer.mergeAll(
    loggingLayer(settings.log),
    tracingLayer(settings.tracing, { serviceName: "outboxx", serviceVersion: version, runner })
  )
  yield* Effect.gen(function*() {
    yield* Effect.logInfo("outboxx cluster runner starting", {
      version,
      config: settings.configPath,
      runner,
      pipelines: settings.pipelines.map((p) => p.name)
    })
    return yield* Layer.launch(runnerLayer(settings))
  }).pipe(Effect.provide(telemetry))
})
