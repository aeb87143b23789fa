/**
 * `outboxx cluster status [--json]`: runners, pipelines, their owner, state
 * and lag, read from the control database and each pipeline's database
 * (cluster/status.ts). `-c` names the runner file, as for `outboxx run`.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import { loadClusterSettings } from "../cluster/settings.js"
import { type ClusterStatus, collectClusterStatus } from "../cluster/status.js"
import { formatBytes } from "./check/postgresChecks.js"
import { configPath, jsonFlag } from "./root.js"

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")
}

const renderClusterStatus = (status: ClusterStatus): string => {
  const runners = status.runners.length === 0
    ? "no runner registered"
    : table([
      ["RUNNER", "HEALTHY", "HEARTBEAT", "PIPELINES"],
      ...status.runners.map((r) => [r.address, r.healthy ? "yes" : "no", `${r.heartbeatAgeS}s ago`, r.pipelines.join(", ") || "-"])
    ])
  const pipelines = table([
    ["PIPELINE", "RUNNER", "STATE", "SLOT", "LAG", "CONFIRMED LSN"],
    ...status.pipelines.map((p) => [
      p.name,
      p.runner ?? "-",
      p.error === undefined ? p.state : `${p.state} (${p.error})`,
      p.slot,
      p.lagBytes === null ? "-" : formatBytes(p.lagBytes),
      p.confirmedLsn ?? "-"
    ])
  ])
  return `control database ${status.control}\n\n${runners}\n\n${pipelines}`
}

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
