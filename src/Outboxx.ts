/**
 * Outboxx embedded in an Effect application: one Layer that streams the
 * configured tables into Kafka for the life of its scope, and the operator
 * endpoints as routes for the host's own HTTP server.
 *
 * ```ts
 * const app = Effect.gen(function*() {
 *   const outboxx = yield* Outboxx
 *   yield* Effect.log("outboxx ready:", yield* outboxx.health)
 * })
 * app.pipe(Effect.provide(Outboxx.layerFromFile("outboxx.toml")))
 * ```
 *
 * The layer never installs a logger, a tracer or a metrics exporter and never
 * calls runMain: what the host installs, outboxx logs, traces and counts
 * into (its spans join the host's traces). Closing the layer's scope is the
 * graceful shutdown: drain, flush, final status update. `examples/embedded`
 * is a complete host.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as HttpRouter from "effect/http/HttpRouter"
import type { ConfigError } from "./config/ConfigError.js"
import type { OutboxxSettings } from "./config/model.js"
import { loadSettings, Settings } from "./config/Settings.js"
import type { Environment } from "./config/interpolate.js"
import type { KafkaConfigError } from "./deliver/kafka/errors.js"
import { HealthState, type HealthStateShape, type Status, statusOf } from "./observability/HealthState.js"
import { routesLayer } from "./observability/http.js"
import { pipelineLayer } from "./pipeline/commands.js"
import { Pipeline } from "./pipeline/Pipeline.js"
import type { StreamingError } from "./pipeline/Streaming.js"
import type { StateStoreError } from "./state/StateStoreError.js"

export class Outboxx extends Context.Service<Outboxx, {
  readonly settings: OutboxxSettings
  /** The pipeline's health as `/status` shows it (lag computed at the moment of asking). */
  readonly health: Effect.Effect<Status>
  /**
   * Fails when the pipeline stops for good (a permanent error, already
   * logged); succeeds only when it has nothing left to do (`snapshot =
   * "initial_only"` after the snapshot). Transient failures never end it.
   */
  readonly awaitStopped: Effect.Effect<void, StreamingError>
  /** @internal the state the routes read */
  readonly healthState: HealthStateShape
}>()("outboxx/Outboxx") {
  /** Outboxx from decoded settings (see `decodeSettings`, `loadSettings`). */
  static readonly layer = (settings: OutboxxSettings): Layer.Layer<Outboxx, KafkaConfigError | StateStoreError> =>
    Layer.effect(
      Outboxx,
      Effect.gen(function*() {
        const pipeline = yield* Pipeline
        const healthState = yield* HealthState
        const health = Effect.map(healthState.get, (h) => statusOf(h, healthState.live, Date.now()))
        return Outboxx.of({ settings, health, awaitStopped: pipeline.awaitStopped, healthState })
      })
    ).pipe(
      Layer.provide(pipelineLayer(settings)),
      Layer.provide(Settings.layer(settings)),
      Layer.provide(HealthState.layer(settings.postgres.slot, settings.postgres.publication))
    )

  /** Outboxx from a TOML file, `${VAR}` references resolved from `env` (the process environment by default). */
  static readonly layerFromFile = (
    path: string,
    env?: Environment
  ): Layer.Layer<Outboxx, ConfigError | KafkaConfigError | StateStoreError> =>
    Layer.unwrap(Effect.map(loadSettings(path, env), Outboxx.layer))

  /**
   * `GET /healthz`, `/readyz`, `/status` and `/metrics` for the host's
   * HttpRouter (`HttpRouter.serve(Layer.mergeAll(Outboxx.routes, myRoutes))`).
   */
  static readonly routes: Layer.Layer<never, never, HttpRouter.HttpRouter | Outboxx> = Layer.unwrap(
    Effect.map(Outboxx, (outboxx) => routesLayer.pipe(Layer.provide(Layer.succeed(HealthState, outboxx.healthState))))
  )
}
