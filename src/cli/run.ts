/**
 * `outboxx run` (the daemon) and `outboxx tail` (change events as JSON lines
 * on stdout, no Kafka). Both hand over to the pipeline through
 * `pipelineSeam.ts`, with the settings, telemetry and HealthState provided.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Command from "effect/cli/Command"
import { Settings } from "../config/Settings.js"
import type { OutboxxSettings } from "../config/model.js"
import { Telemetry } from "../observability/Telemetry.js"
import { type PipelineServices, runDaemon, runTail } from "./pipelineSeam.js"
import { configPath, loadConfiguredSettings } from "./root.js"
import { version } from "../version.js"
import { readFile } from "node:fs/promises"
import { isClusterConfig } from "../cluster/settings.js"
import { ConfigError, ConfigIssue } from "../config/ConfigError.js"
import { StateStore } from "../state/StateStore.js"

const withServices = <R extends PipelineServices | Telemetry | StateStore>(
  settings: OutboxxSettings,
  options: { readonly tail: boolean },
  program: Effect.Effect<void, unknown, R>
) =>
  program.pipe(
    Effect.provide(
      Layer.mergeAll(
        Settings.layer(settings),
        Telemetry.layer(settings, { serviceVersion: version, logsToStderr: options.tail, http: !options.tail })
      )
    )
  )

/** Whether the file at `path` is a cluster runner's; an unreadable file is left to the normal loader to report. */
const isClusterFile = (path: string) => Effect.promise(() => readFile(path, "utf8").then(isClusterConfig, () => false))

export const runCommand = Command.make(
  "run",
  {},
  Effect.fnUntraced(function*() {
    const path = yield* configPath
    if (yield* isClusterFile(path)) {
      // Loaded only in cluster mode: effect/cluster and its SQL driver stay out of a single pipeline's memory.
      const cluster = yield* Effect.promise(() => import("./cluster.js"))
      return yield* cluster.runCluster(path)
    }
    const settings = yield* loadConfiguredSettings
    if (settings.postgres.shards > 1) {
      return yield* new ConfigError({
        file: path,
        issues: [new ConfigIssue({
          path: "postgres.shards",
          message: `expected 1 outside cluster mode, found ${settings.postgres.shards}: each shard runs as a pipeline of a cluster (docs/cluster.md)`
        })]
      })
    }
    yield* withServices(
      settings,
      { tail: false },
      Effect.gen(function*() {
        const telemetry = yield* Telemetry
        yield* Effect.logInfo("outboxx starting", {
          version,
          config: path,
          slot: settings.postgres.slot,
          http: telemetry.http ?? "off",
          tracing: telemetry.tracing ?? "off"
        })
        return yield* runDaemon(settings)
      })
    ).pipe(
      // Built first: the lock on the state directory before the HTTP port (runDaemon).
      Effect.provide(StateStore.layerFor(settings))
    )
  })
).pipe(Command.withDescription("Run the daemon in the foreground (logs to stdout); SIGTERM/SIGINT stop it cleanly"))

export const tailCommand = Command.make(
  "tail",
  {},
  Effect.fnUntraced(function*() {
    const settings = yield* loadConfiguredSettings
    yield* withServices(settings, { tail: true }, runTail(settings))
  })
).pipe(Command.withDescription("Stream change events as JSON lines to stdout (no Kafka); logs go to stderr"))
