/**
 * Opening the replication slot for a streaming run: wait as a standby while
 * another process holds it, open the walsender connection, check the slot
 * against the state journal (replication/SlotGuard.ts), then either create
 * the slot (exporting a snapshot when an initial snapshot is wanted) or check
 * the existing one and pick the start LSN: the slot's confirmed_flush_lsn, or
 * the journaled checkpoint when that is ahead of it.
 */
import { Context, Effect, Schema, type Scope } from "effect"
import type pg from "pg"
import type { OutboxxSettings } from "../config/model.js"
import { slotInfo, unusableSlot } from "../postgres/catalog.js"
import { formatLsn, parseLsn } from "../postgres/lsn.js"
import { connectClient, type PostgresError, queryRows } from "../postgres/Postgres.js"
import {
  createSlot,
  createSlotExportingSnapshot,
  enableSlotFailover,
  identifySystem,
  type ReplicationError,
  type SystemIdentity
} from "./ReplicationSource.js"
import type { ServerSlotView, SlotGuard } from "./SlotGuard.js"
import { awaitSlotFree } from "../pipeline/Standby.js"
import { initialSnapshotWanted } from "../snapshot/Snapshotter.js"

/**
 * The walsender connection's application_name, as pg_stat_replication shows
 * it: "outboxx", or "outboxx <runner>" in cluster mode, so an operator (and
 * the cluster test) sees which runner reads a slot.
 */
export const ReplicationClientName = Context.Reference<string>("outboxx/ReplicationClientName", {
  defaultValue: () => "outboxx"
})

export class SlotError extends Schema.TaggedError<SlotError>()("SlotError", {
  slot: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message(): string {
    return `replication slot "${this.slot}": ${this.reason}`
  }
}

export interface OpenSlotOptions {
  /** `tail`: a TEMPORARY slot named after the configured one and this process. */
  readonly temporary: boolean
  readonly connectTimeoutMs: number
  readonly guard?: SlotGuard
  /** Walsender pids this process opened before (see Standby.awaitSlotFree). */
  readonly ownWalsenders?: Set<number>
  /** This run holds the shared state's exclusive claim (see Standby.awaitSlotFree). */
  readonly holdsClaim?: boolean
}

export interface OpenedSlot {
  readonly slot: string
  /** The walsender connection, idle, ready for START_REPLICATION. */
  readonly replication: pg.Client
  readonly identity: SystemIdentity
  readonly startLsn: number
  /** Set when the slot was created with an exported snapshot: the initial snapshot reads under it. */
  readonly exportedSnapshot: string | undefined
}

export const openSlot = Effect.fn("Pipeline.openSlot")(function*(
  settings: OutboxxSettings,
  catalog: pg.Client,
  options: OpenSlotOptions
): Effect.fn.Return<OpenedSlot, SlotError | PostgresError | ReplicationError, Scope.Scope> {
  const slot = options.temporary ? `${settings.postgres.slot}_tail_${process.pid}` : settings.postgres.slot
  // Standby: wait here while another instance streams from the slot.
  if (!options.temporary) {
    yield* awaitSlotFree(catalog, slot, { ownWalsenders: options.ownWalsenders, holdsClaim: options.holdsClaim })
  }
  const replication = yield* connectClient(settings.postgres.url, {
    replication: true,
    applicationName: options.temporary ? "outboxx-tail" : yield* ReplicationClientName,
    connectTimeoutMs: options.connectTimeoutMs
  })
  const identity = yield* identifySystem(replication)
  const walsenderPid = (replication as unknown as { processID?: number }).processID
  if (walsenderPid !== undefined) options.ownWalsenders?.add(walsenderPid)

  let startLsn: number
  /** Set when this start created the slot with an exported snapshot: the initial snapshot reads under it. */
  let exportedSnapshot: string | undefined
  let existing = options.temporary ? undefined : yield* slotInfo(catalog, slot)
  const slotView = (exists: boolean, walStatus: string | null): ServerSlotView => ({
    systemId: identity.systemId,
    timeline: identity.timeline,
    database: identity.dbname,
    slot,
    exists,
    walStatus
  })
  let journaled: number | undefined
  if (options.guard) {
    const verdict = yield* options.guard.check(slotView(existing !== undefined, existing?.walStatus ?? null)).pipe(
      Effect.mapError((reason) => new SlotError({ slot, reason, retryable: false }))
    )
    journaled = verdict.journaled
    if (verdict.dropSlot) {
      yield* queryRows(catalog, "SELECT pg_drop_replication_slot($1)", [slot])
      existing = undefined
    }
  }
  const failover = settings.postgres.slotFailover && !options.temporary
  if (failover) {
    const [row] = yield* queryRows<{ version: string }>(catalog, "SELECT current_setting('server_version_num') AS version")
    if (Number(row!.version) < 170000) {
      return yield* new SlotError({
        slot,
        reason: `postgres.slot_failover needs PostgreSQL 17 or later (this server is ${Math.floor(Number(row!.version) / 10000)}); ` +
          `before 17 a logical slot does not survive a failover: see docs/postgresql.md`,
        retryable: false
      })
    }
  }
  if (existing === undefined) {
    const created = !options.temporary && initialSnapshotWanted(settings)
      ? yield* createSlotExportingSnapshot(replication, slot, failover)
      : { consistentPoint: yield* createSlot(replication, slot, { temporary: options.temporary, failover }), snapshotName: undefined }
    exportedSnapshot = created.snapshotName
    const consistentPoint = created.consistentPoint
    startLsn = parseLsn(consistentPoint)
    yield* Effect.logInfo(`created replication slot "${slot}" at ${consistentPoint}`)
  } else {
    const row = existing
    const unusable = unusableSlot(row, identity.dbname)
    if (unusable !== undefined) {
      return yield* new SlotError({ slot, reason: `${unusable.reason} (${unusable.fix})`, retryable: false })
    }
    if (row.active) {
      return yield* new SlotError({ slot, reason: `is in use by another process (pid ${row.activePid}); is another outboxx running?`, retryable: true })
    }
    if (failover && row.failover === false) {
      yield* enableSlotFailover(replication, slot)
      yield* Effect.logInfo(`replication slot "${slot}" is now a failover slot (postgres.slot_failover)`)
    }
    startLsn = parseLsn(row.confirmedFlushLsn ?? identity.xlogpos)
    // Never past the server's WAL end (a restored backup keeps the system id but not our future).
    if (journaled !== undefined && journaled > startLsn && journaled <= parseLsn(identity.xlogpos)) {
      // PostgreSQL < 17 does not persist confirmed_flush_lsn at shutdown: after a server
      // restart the slot is behind what we confirmed and journaled. The server skips
      // transactions committed before the START_REPLICATION position, so no re-sends.
      yield* Effect.logInfo(
        `resuming at the journaled checkpoint ${formatLsn(journaled)}, ahead of the slot's confirmed_flush_lsn ${formatLsn(startLsn)}`
      )
      startLsn = journaled
    }
  }
  if (options.guard) yield* options.guard.identified(slotView(true, null))


  return { slot, replication, identity, startLsn, exportedSnapshot }
})
