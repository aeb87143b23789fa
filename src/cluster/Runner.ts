/**
 * An Outboxx cluster runner: effect/cluster's Sharding on the control
 * database, with every pipeline registered as a singleton. Runners register
 * in `outboxx_cluster_runners`, own shards through advisory locks recorded in
 * `outboxx_cluster_locks` (SqlRunnerStorage), check each other's health over
 * their socket (RunnerHealth.layerPing), and rebalance when one joins or
 * leaves. No membership or election of our own.
 *
 * The layers are those of NodeClusterSocket.layer, composed here so that the
 * sharding settings come from the runner file only (that layer also reads
 * HOST, PORT and other bare environment variables), and without message
 * storage: singletons exchange no messages.
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Effect, Layer, Option } from "effect"
import * as MessageStorage from "effect/cluster/MessageStorage"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Sharding from "effect/cluster/Sharding"
import * as Singleton from "effect/cluster/Singleton"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import { httpServerLayer } from "../observability/http.js"
import { runPipelineSingleton, singletonName } from "./pipelineSingleton.js"
import { makeRunnerPipelines, runnerRoutes } from "./RunnerHttp.js"
import type { ClusterSettings } from "./settings.js"
import { clusterTablePrefix } from "./tables.js"

/** This runner as logs, metrics and the shared state's holder name it. */
export const runnerName = (settings: ClusterSettings): string => `${settings.cluster.runner.host}:${settings.cluster.runner.port}`

export const shardingConfig = (settings: ClusterSettings): Partial<ShardingConfig.ShardingConfig["Service"]> => {
  const { runner, listen, lockExpiration, weight } = settings.cluster
  return {
    runnerAddress: Option.some(RunnerAddress.make(runner.host, runner.port)),
    runnerListenAddress: listen === undefined ? Option.none() : Option.some(RunnerAddress.make(listen.host, listen.port)),
    runnerShardWeight: weight,
    shardLockExpiration: lockExpiration,
    // A third of the expiration leaves two refreshes' worth of slack before
    // the server ends the lock session.
    shardLockRefreshInterval: Duration.divideUnsafe(lockExpiration, 3),
    // A dead runner is noticed by its peers' pings; every 10 s instead of a minute.
    runnerHealthCheckInterval: Duration.seconds(10)
  }
}

/** Sharding, Runners and the runner's socket server, on the control database. */
export const clusterLayer = (settings: ClusterSettings) =>
  SocketRunner.layer.pipe(
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(
      RunnerHealth.layerPing.pipe(
        Layer.provide(Runners.layerRpc),
        Layer.provide(NodeClusterSocket.layerClientProtocol)
      )
    ),
    Layer.provide(MessageStorage.layerNoop),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layerWith({ prefix: clusterTablePrefix }))),
    Layer.provide(ShardingConfig.layer(shardingConfig(settings))),
    Layer.provide(RpcSerialization.layerSchemaBinary()),
    Layer.provide(
      PgClient.layer({
        url: settings.cluster.url,
        applicationName: `outboxx cluster runner ${runnerName(settings)}`
      })
    )
  )

/**
 * Every pipeline as a singleton on the cluster, and the runner's endpoints on
 * `http.listen` (served once the runner has joined); launch it to run the runner.
 */
export const runnerLayer = (settings: ClusterSettings) => {
  const pipelines = makeRunnerPipelines(runnerName(settings))
  const singletons = settings.pipelines.map((pipeline) =>
    Singleton.make(singletonName(pipeline.name), runPipelineSingleton(pipeline, pipelines, settings.cluster.lockExpiration))
  )
  const all = singletons.reduce<Layer.Layer<never, never, Sharding.Sharding>>((all, one) => Layer.merge(all, one), Layer.empty)
  // Built after Sharding: the endpoints answer once the runner has registered.
  const http = httpServerLayer(settings.http, runnerRoutes(pipelines)).pipe(
    Layer.provide(Layer.effectDiscard(Effect.asVoid(Sharding.Sharding)))
  )
  return Layer.merge(all, http).pipe(
    Layer.provide(clusterLayer(settings))
  )
}
