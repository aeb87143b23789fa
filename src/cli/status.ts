/**
 * `outboxx status [--json]`: what PostgreSQL says about our slot and
 * publication, plus the running daemon's own view (GET /status on
 * http.listen) when one answers.
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import type { OutboxxSettings } from "../config/model.js"
import { formatTable } from "../config/tableName.js"
import { isManagedPublication, publicationInfo, serverInfo, slotInfo } from "../postgres/catalog.js"
import { connectClient } from "../postgres/Postgres.js"
import { configuredTables } from "../postgres/publication.js"
import { describeTarget, formatBytes } from "./check/postgresChecks.js"
import { jsonFlag, loadConfiguredSettings } from "./root.js"

export interface StatusReport {
  readonly postgres: { readonly target: string; readonly version: string; readonly database: string }
  readonly slot: {
    readonly name: string
    readonly exists: boolean
    readonly plugin: string | null
    readonly active: boolean
    readonly activePid: number | null
    readonly confirmedLsn: string | null
    readonly restartLsn: string | null
    readonly currentWalLsn: string | null
    readonly lagBytes: number | null
    readonly retainedBytes: number | null
    readonly walStatus: string | null
  }
  readonly publication: {
    readonly name: string
    readonly exists: boolean
    readonly managedByOutboxx: boolean
    readonly tables: ReadonlyArray<string>
  }
  readonly tables: ReadonlyArray<string>
  /** The running daemon's GET /status, or null when none answered on http.listen. */
  readonly daemon: unknown
}

/** GET /status of a daemon on http.listen; null when none answers within a second. */
const daemonStatus = (settings: OutboxxSettings): Effect.Effect<unknown> => {
  const listen = settings.http.listen
  if (listen === undefined) return Effect.succeed(null)
  const host = listen.host === "0.0.0.0" || listen.host === "" ? "127.0.0.1" : listen.host === "::" ? "::1" : listen.host
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${listen.port}/status`
  return Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]) })
      return response.ok ? ((await response.json()) as unknown) : null
    },
    catch: () => null
  }).pipe(Effect.orElseSucceed(() => null))
}

export const collectStatus = (settings: OutboxxSettings) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* connectClient(settings.postgres.url, {
      applicationName: "outboxx status",
      connectTimeoutMs: Math.max(1, Duration.toMillis(settings.postgres.connectTimeout))
    })
    const server = yield* serverInfo(client)
    const slot = yield* slotInfo(client, settings.postgres.slot)
    const publication = yield* publicationInfo(client, settings.postgres.publication)
    const daemon = yield* daemonStatus(settings)
    const report: StatusReport = {
      postgres: { target: describeTarget(settings), version: server.version.split(" ")[0] ?? "", database: server.database },
      slot: {
        name: settings.postgres.slot,
        exists: slot !== undefined,
        plugin: slot?.plugin ?? null,
        active: slot?.active ?? false,
        activePid: slot?.activePid ?? null,
        confirmedLsn: slot?.confirmedFlushLsn ?? null,
        restartLsn: slot?.restartLsn ?? null,
        currentWalLsn: slot?.currentWalLsn ?? null,
        lagBytes: slot?.lagBytes ?? null,
        retainedBytes: slot?.retainedBytes ?? null,
        walStatus: slot?.walStatus ?? null
      },
      publication: {
        name: settings.postgres.publication,
        exists: publication !== undefined,
        managedByOutboxx: publication !== undefined && isManagedPublication(publication),
        tables: publication === undefined ? [] : publication.allTables ? ["ALL TABLES"] : publication.tables.map(formatTable)
      },
      tables: configuredTables(settings).map(formatTable),
      daemon
    }
    return report
  }))

const bytes = (n: number | null): string => (n === null ? "-" : `${formatBytes(n)} (${n} bytes)`)

export const renderStatus = (report: StatusReport): string => {
  const { publication, slot } = report
  const slotLine = !slot.exists
    ? `"${slot.name}" does not exist (run creates it)`
    : `"${slot.name}" ${slot.active ? `active, held by pid ${slot.activePid ?? "?"}` : "inactive"}` +
      `${slot.plugin !== "pgoutput" ? ` (plugin ${slot.plugin ?? "none"})` : ""}` +
      `${slot.walStatus === "lost" ? " — WAL LOST, changes were missed" : ""}`
  const lines = [
    ["postgres", `${report.postgres.target} (PostgreSQL ${report.postgres.version})`],
    ["slot", slotLine],
    ...(slot.exists
      ? [
        ["confirmed lsn", slot.confirmedLsn ?? "-"],
        ["server lsn", slot.currentWalLsn ?? "-"],
        ["lag", bytes(slot.lagBytes)],
        ["retained wal", bytes(slot.retainedBytes)]
      ]
      : []),
    [
      "publication",
      publication.exists
        ? `"${publication.name}" (${publication.managedByOutboxx ? "managed by outboxx" : "not created by outboxx"}): ` +
          `${publication.tables.join(", ") || "no tables"}`
        : `"${publication.name}" does not exist`
    ],
    ["tables", report.tables.join(", ")],
    ["daemon", report.daemon === null ? "not answering on http.listen" : JSON.stringify(report.daemon)]
  ]
  return lines.map(([k, v]) => `${(k ?? "").padEnd(14)}${v}`).join("\n")
}

export const statusCommand = Command.make(
  "status",
  { json: jsonFlag },
  Effect.fn("cli.status")(function*({ json }) {
    const settings = yield* loadConfiguredSettings
    const report = yield* collectStatus(settings)
    yield* Console.log(json ? JSON.stringify(report, null, 2) : renderStatus(report))
  })
).pipe(Command.withDescription("Show the slot, confirmed LSN, lag, publication and the daemon's state"))
