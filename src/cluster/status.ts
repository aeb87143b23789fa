/**
 * `outboxx cluster status`: the cluster as the servers see it, not as any
 * runner believes it. Runners come from effect/cluster's runner table; a
 * pipeline's owner is whoever holds its shared state's advisory lock right
 * now (pg_locks, not the holder row, which a dead runner leaves behind); its
 * state, reader and lag come from its own database's pg_replication_slots
 * and pg_stat_replication. `outboxx cluster status` renders it (cli/clusterCommand.ts).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { slotInfo } from "../postgres/catalog.js"
import { connectClient, type PostgresError, queryRows } from "../postgres/Postgres.js"
import { quoteIdent } from "../postgres/quote.js"
import { stateLockClass } from "../state/PostgresJournal.js"
import { clusterTablePrefix } from "./tables.js"
import type { ClusterPipeline, ClusterSettings } from "./settings.js"

export interface RunnerStatus {
  readonly address: string
  readonly healthy: boolean
  /** Seconds since the runner last refreshed its registration. */
  readonly heartbeatAgeS: number
  readonly pipelines: ReadonlyArray<string>
}

export type PipelineState =
  /** A runner holds it and its walsender reads the slot. */
  | "streaming"
  /** A runner holds it and is starting (snapshot, slot wait, Kafka). */
  | "starting"
  /** No runner holds it: no runner alive, or the pipeline keeps failing. */
  | "unowned"
  /** Its database could not be asked. */
  | "unknown"

export interface PipelineStatus {
  readonly name: string
  readonly slot: string
  /** The runner holding the pipeline's state now, or null. */
  readonly runner: string | null
  readonly since: string | null
  readonly state: PipelineState
  /** The application_name of the walsender reading the slot ("outboxx <runner>"), or null. */
  readonly reader: string | null
  readonly lagBytes: number | null
  readonly confirmedLsn: string | null
  readonly error?: string
}

export interface ClusterStatus {
  readonly control: string
  readonly runners: ReadonlyArray<RunnerStatus>
  readonly pipelines: ReadonlyArray<PipelineStatus>
}

const connectTimeoutMs = 5_000

/** Holder of each pipeline's state that holds its lock now (a held session advisory lock). */
const owners = (client: Parameters<typeof queryRows>[0], schema: string) =>
  queryRows<{ pipeline: string; instance: string; since: string; held: boolean }>(
    client,
    `SELECT h.pipeline, h.instance, h.since::text AS since,
            EXISTS (
              SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                 AND l.classid = $1::int::oid
                 AND l.objid = ((hashtext($2 || '.' || h.pipeline)::bigint + 4294967296) % 4294967296)::text::oid
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            ) AS held
       FROM ${quoteIdent(schema)}.holder h`,
    [stateLockClass, schema]
  )

const pipelineSide = (pipeline: ClusterPipeline) =>
  Effect.scoped(Effect.gen(function*() {
    const settings = pipeline.settings
    const client = yield* connectClient(settings.postgres.url, {
      applicationName: "outboxx cluster status",
      connectTimeoutMs: Math.min(connectTimeoutMs, Math.max(1, Duration.toMillis(settings.postgres.connectTimeout)))
    })
    const slot = yield* slotInfo(client, settings.postgres.slot)
    const [reader] = slot?.activePid == null
      ? []
      : yield* queryRows<{ application_name: string }>(
        client,
        "SELECT application_name FROM pg_stat_replication WHERE pid = $1",
        [slot.activePid]
      )
    return { slot, reader: reader?.application_name ?? null }
  }))

export const collectClusterStatus = (settings: ClusterSettings): Effect.Effect<ClusterStatus, PostgresError> =>
  Effect.scoped(Effect.gen(function*() {
    const control = yield* connectClient(settings.cluster.url, { applicationName: "outboxx cluster status", connectTimeoutMs })
    const runnersTable = quoteIdent(`${clusterTablePrefix}_runners`)
    const [tables] = yield* queryRows<{ runners: string | null; holder: string | null }>(
      control,
      "SELECT to_regclass($1) AS runners, to_regclass($2) AS holder",
      [runnersTable, `${quoteIdent(settings.cluster.stateSchema)}.holder`]
    )
    const runnerRows = tables?.runners == null ? [] : yield* queryRows<{ address: string; healthy: boolean; age: string }>(
      control,
      `SELECT address, healthy, extract(epoch FROM (now()::timestamp - last_heartbeat))::text AS age
         FROM ${runnersTable} ORDER BY address`
    )
    const held = tables?.holder == null ? [] : yield* owners(control, settings.cluster.stateSchema)
    const ownerOf = new Map(held.filter((h) => h.held).map((h) => [h.pipeline, h]))
    const pipelines: Array<PipelineStatus> = []
    for (const pipeline of settings.pipelines) {
      const owner = ownerOf.get(pipeline.name)
      const runner = owner === undefined ? null : owner.instance.replace(/^runner /, "")
      const side = yield* Effect.result(pipelineSide(pipeline))
      if (side._tag === "Failure") {
        pipelines.push({
          name: pipeline.name,
          slot: pipeline.settings.postgres.slot,
          runner,
          since: owner?.since ?? null,
          state: "unknown",
          reader: null,
          lagBytes: null,
          confirmedLsn: null,
          error: side.failure.message
        })
        continue
      }
      const { reader, slot } = side.success
      pipelines.push({
        name: pipeline.name,
        slot: pipeline.settings.postgres.slot,
        runner,
        since: owner?.since ?? null,
        state: runner === null ? "unowned" : reader === `outboxx ${runner}` ? "streaming" : "starting",
        reader,
        lagBytes: slot?.lagBytes ?? null,
        confirmedLsn: slot?.confirmedFlushLsn ?? null
      })
    }
    const runners = runnerRows.map((r) => ({
      address: r.address,
      healthy: r.healthy,
      heartbeatAgeS: Math.max(0, Math.round(Number(r.age))),
      pipelines: pipelines.filter((p) => p.runner === r.address).map((p) => p.name)
    }))
    return { control: describeControl(settings), runners, pipelines }
  }))

/** The control database as host:port/database, without credentials. */
const describeControl = (settings: ClusterSettings): string => {
  try {
    const u = new URL(Redacted.value(settings.cluster.url))
    return `${u.hostname}:${u.port || "5432"}/${u.pathname.slice(1)}`
  } catch {
    return "(unparsable url)"
  }
}
