/**
 * One pipeline as a cluster singleton: the effect `Singleton.make` starts on
 * the runner that owns the pipeline's shard and interrupts when the shard
 * moves (rebalance, SIGTERM) or the runner loses its lock. Interruption is
 * the pipeline's graceful shutdown: drain, flush Kafka, confirm the LSN,
 * release the shared state, so the next owner re-sends little.
 *
 * Three fences keep a pipeline from streaming on two runners at once:
 *   1. the shard lock (effect/cluster, an advisory lock on the control
 *      database whose session the server ends after `lock_expiration` when
 *      the runner stops refreshing it);
 *   2. the pipeline's shared state (state/PostgresJournal.ts): a session
 *      advisory lock every journal write goes through, taken before the slot,
 *      on a session the server also ends after `lock_expiration` of silence;
 *      its holder terminates a walsender left on the slot by the instance
 *      that lost it (pipeline/Standby.ts);
 *   3. the replication slot itself: PostgreSQL serves one walsender per slot;
 *   4. with exactly-once delivery, Kafka: the transactional id is the slot's,
 *      so the new owner's producer fences the old one's.
 */
import { type Duration, Effect, Layer, Metric, References, Schedule } from "effect"
import { Settings } from "../config/Settings.js"
import { HealthState, type HealthStateShape } from "../observability/HealthState.js"
import { pipelineLayer } from "../pipeline/commands.js"
import { Pipeline } from "../pipeline/Pipeline.js"
import { PipelineShard } from "../postgres/shardFilter.js"
import { ReplicationClientName } from "../replication/SlotStart.js"
import { StateStore } from "../state/StateStore.js"
import { registerPipeline, type RunnerPipelines } from "./RunnerHttp.js"
import type { ClusterPipeline } from "./settings.js"

/**
 * A pipeline that stopped on a permanent error (a dropped table, a refused
 * grant) starts again after this: the operator's fix is picked up without a
 * restart, and each attempt logs the error again, loudly.
 */
export const permanentFailureRetry = Schedule.min([Schedule.exponential("5 seconds", 2), Schedule.spaced("5 minutes")])

/** The singleton's name in the cluster: one per pipeline. */
export const singletonName = (pipeline: string): string => `outboxx/pipeline/${pipeline}`

/**
 * Runs `pipeline` until interrupted. Never fails: effect/cluster turns a
 * singleton's failure into a defect and does not start it again.
 */
export const runPipelineSingleton = (
  pipeline: ClusterPipeline,
  pipelines: RunnerPipelines,
  holdExpiration: Duration.Duration
) => {
  const settings = pipeline.settings
  const runner = pipelines.runner
  const attempt = (health: HealthStateShape) => Effect.gen(function*() {
    yield* Effect.logInfo(`pipeline ${pipeline.name} starts on runner ${runner}`)
    const running = yield* Pipeline
    return yield* running.awaitStopped
  }).pipe(
    Effect.provide(
      pipelineLayer(
        settings,
        StateStore.layerFor(settings, { pipeline: pipeline.name, instance: `runner ${runner}`, holdExpiration })
      ).pipe(
        Layer.provide(Settings.layer(settings)),
        Layer.provide(Layer.succeed(HealthState, health))
      )
    ),
    Effect.onInterrupt(() => Effect.logInfo(`pipeline ${pipeline.name} leaves runner ${runner}`)),
    Effect.tapError((error) =>
      Effect.logError(`pipeline ${pipeline.name} stopped: ${error.message}; starting it again after a pause`)
    )
  )
  return Effect.gen(function*() {
    // One HealthState for the pipeline's stay on this runner, listed in the runner's /status and /metrics.
    const health = yield* HealthState.make(settings.postgres.slot, settings.postgres.publication)
    yield* registerPipeline(pipelines, pipeline.name, health)
    return yield* attempt(health).pipe(Effect.retry(permanentFailureRetry))
  }).pipe(
    Effect.scoped,
    Effect.catchCause((cause) => Effect.logError(`pipeline ${pipeline.name} cannot run`, cause)),
    Effect.annotateLogs({ pipeline: pipeline.name, runner }),
    Effect.provideService(Metric.CurrentMetricAttributes, { pipeline: pipeline.name, runner }),
    Effect.provideService(ReplicationClientName, `outboxx ${runner}`),
    Effect.provideService(PipelineShard, pipeline.shard),
    // Every span of the pipeline's traces names it and its runner.
    Effect.provideServiceEffect(
      References.TracerSpanAnnotations,
      Effect.map(Effect.service(References.TracerSpanAnnotations), (annotations) => ({
        ...annotations,
        "outboxx.pipeline": pipeline.name,
        "outboxx.runner": runner
      }))
    )
  )
}
