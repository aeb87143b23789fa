/**
 * `outboxx cluster status [--json]`: runners, pipelines, their owner, state
 * and lag, read from the control database and each pipeline's database
 * (cluster/status.ts). `-c` names the runner file, as for `outboxx run`.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import { loadClusterSettings } from "../cluster/settings.js"
import { collectClusterStatus, renderClusterStatus } from "../cluster/status.js"
import { configPath, jsonFlag } from "./root.js"

const statusCommand = Command.make(
  "status",
  { json: jsonFlag },
  Effect.fn("cli.cluster.status")(function*({ json }) {
    const settings = yield* loadClusterSettings(yield* configPath)
    const status = yield* collectClusterStatus(settings)
    yield* Console.log(json ? JSON.stringify(status, null, 2) : renderClusterStatus(status))
  })
).pipe(Command.withDescription("Show the cluster's runners and, per pipeline, its runner, state, slot and lag"))

export const clusterCommand = Command.make("cluster").pipe(
  Command.withSubcommands([statusCommand]),
  Command.withDescription("Cluster mode (a runner file with [cluster]; `outboxx run` runs a runner)")
)
