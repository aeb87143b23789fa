/**
 * `outboxx snapshot --table public.orders`: asks the pipeline streaming the
 * configured slot to re-snapshot a table, incrementally, while it streams.
 *
 * The request travels as a logical decoding message (prefix `outboxx-signal`,
 * pg_logical_emit_message) that the daemon reads from its own replication
 * stream: no extra port, works with http disabled, and it waits in the slot's
 * WAL when no pipeline is running right now (the next `outboxx run` serves
 * it). The request is signed with the pipeline's signal key (signalKey.ts).
 * See docs/snapshots.md.
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { parseTableName, tableNameHint } from "../config/tableName.js"
import type { OutboxxSettings } from "../config/model.js"
import { slotInfo } from "../postgres/catalog.js"
import { connectClient, queryRows } from "../postgres/Postgres.js"
import { encodeSignal, signalPrefix } from "../snapshot/messages.js"
import { loadSignalKey, signalMac } from "../snapshot/signalKey.js"
import { CommandFailed, UsageError } from "./errors.js"
import { loadConfiguredSettings } from "./root.js"

export const requestSnapshot = Effect.fn("requestSnapshot")(function*(settings: OutboxxSettings, tableText: string) {
  const parsed = parseTableName(tableText)
  if (typeof parsed === "string") return yield* new UsageError({ message: `--table: ${parsed}; expected ${tableNameHint}` })
  const table = `${parsed.schema}.${parsed.name}`
  const streams = settings.streams.filter((s) => s.tables.some((t) => t.schema === parsed.schema && t.name === parsed.name))
  if (streams.length === 0) {
    return yield* new UsageError({ message: `--table ${table}: no configured stream captures it (add it to a stream's tables)` })
  }
  if (!streams.some((s) => s.snapshot)) {
    return yield* new UsageError({
      message: `--table ${table}: every stream that captures it has snapshot = false (${streams.map((s) => s.name).join(", ")})`
    })
  }
  const client = yield* connectClient(settings.postgres.url, {
    applicationName: "outboxx snapshot",
    connectTimeoutMs: Math.max(1, Duration.toMillis(settings.postgres.connectTimeout))
  })
  const slot = yield* slotInfo(client, settings.postgres.slot)
  if (slot === undefined) {
    return yield* new CommandFailed({
      message: `replication slot "${settings.postgres.slot}" does not exist: start outboxx run first ` +
        `(with postgres.snapshot = "initial" its initial snapshot covers ${table})`
    })
  }
  const key = yield* loadSignalKey(settings, { create: false }).pipe(
    Effect.mapError((e) => new CommandFailed({ message: e.message }))
  )
  const signal = { type: "snapshot" as const, slot: settings.postgres.slot, tables: [table], requestedAt: new Date().toISOString() }
  const rows = yield* queryRows<{ lsn: string }>(client, "SELECT pg_logical_emit_message(true, $1, $2)::text AS lsn", [
    signalPrefix,
    encodeSignal({ ...signal, mac: signalMac(key, signal) })
  ]).pipe(Effect.mapError((e) => new CommandFailed({ message: `cannot write the snapshot request: ${e.message}` })))
  const who = slot.active
    ? `the running pipeline (walsender pid ${slot.activePid ?? "?"}) picks it up from its stream`
    : "no pipeline is streaming the slot right now: the next outboxx run picks it up"
  return `requested an incremental snapshot of ${table} on slot "${settings.postgres.slot}" at ${rows[0]?.lsn ?? "?"}; ${who}. ` +
    "Follow it with outboxx status or GET /status."
}, Effect.scoped)

export const snapshotCommand = Command.make(
  "snapshot",
  {
    table: Flag.String("table").pipe(Flag.withDescription("The table to re-snapshot, e.g. public.orders"))
  },
  Effect.fn("cli.snapshot")(function*({ table }) {
    const settings = yield* loadConfiguredSettings
    yield* Console.log(yield* requestSnapshot(settings, table))
  })
).pipe(Command.withDescription("Ask the running pipeline to re-snapshot a table (incrementally, while it streams)"))
