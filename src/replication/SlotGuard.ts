/**
 * SlotGuard: compares what the state journal remembers about the slot with
 * what the server reports, before streaming starts.
 *
 * - A different system id: the configuration points at another cluster (or a
 *   restored copy); the journaled positions mean nothing there → refuse.
 * - The slot is gone (dropped, or a failover to a server without it) or
 *   invalidated (`wal_status = 'lost'`) while the journal holds a checkpoint:
 *   changes between that checkpoint and a new slot's start would be lost
 *   silently → refuse, unless `postgres.on_slot_lost = "resnapshot"`, which
 *   journals the loss (clearing positions and snapshot progress, so an
 *   `initial` snapshot runs again) and creates a new slot.
 * - Otherwise the slot's identity is journaled when it is new to the journal.
 *
 * The decision is a pure function (`decideSlot`) so every case is unit-tested.
 */
import { Effect } from "effect"
import type { JournalEvent } from "../state/JournalEvent.js"
import type { JournalState } from "../state/JournalState.js"
import type { StateStoreShape } from "../state/StateStore.js"
import { formatLsn } from "../postgres/lsn.js"

export type OnSlotLost = "fail" | "resnapshot"

/** What the server says about the cluster and the configured slot. */
export interface ServerSlotView {
  readonly systemId: string
  readonly timeline: number
  readonly database: string
  readonly slot: string
  readonly exists: boolean
  /** `pg_replication_slots.wal_status`; "lost" = invalidated, cannot stream any more. */
  readonly walStatus: string | null
}

export type SlotDecision =
  | { readonly _tag: "Proceed" }
  | { readonly _tag: "Refuse"; readonly reason: string }
  /** Journal `events`, drop the invalidated slot when `dropSlot`, then create a new one. */
  | { readonly _tag: "Resnapshot"; readonly events: ReadonlyArray<JournalEvent>; readonly dropSlot: boolean; readonly warning: string }

export const decideSlot = (
  journal: JournalState,
  server: ServerSlotView,
  onSlotLost: OnSlotLost,
  journalLocation: string,
  now: string
): SlotDecision => {
  const known = journal.slot
  if (known !== undefined && known.systemId !== server.systemId) {
    return {
      _tag: "Refuse",
      reason: `the state journal ${journalLocation} belongs to PostgreSQL system id ${known.systemId}, ` +
        `but the server reports ${server.systemId}: postgres.url points at another cluster. ` +
        "Fix postgres.url, or use another state.dir (or move the journal aside) to start afresh against this server"
    }
  }
  const sameSlot = known !== undefined && known.slot === server.slot && known.database === server.database
  const checkpoint = journal.checkpoint
  const lost = !server.exists || server.walStatus === "lost"
  if (!lost || !sameSlot || checkpoint === undefined) return { _tag: "Proceed" }
  const what = server.exists
    ? `replication slot "${server.slot}" was invalidated by the server (wal_status = lost, e.g. max_slot_wal_keep_size)`
    : `replication slot "${server.slot}" is gone (dropped, or a failover to a server without it)`
  const gap = `while the state journal ${journalLocation} holds checkpoint ${formatLsn(checkpoint.lsn)}: ` +
    "changes after it are no longer in any slot"
  if (onSlotLost === "fail") {
    return {
      _tag: "Refuse",
      reason: `${what} ${gap}. Refusing to start, since a new slot would skip them silently. ` +
        `Set postgres.on_slot_lost = "resnapshot" to create a new slot and snapshot the tables again`
    }
  }
  return {
    _tag: "Resnapshot",
    events: [{ _tag: "SlotLost", reason: `${what}; last checkpoint ${formatLsn(checkpoint.lsn)}`, at: now }],
    dropSlot: server.exists,
    warning: `${what} ${gap}; postgres.on_slot_lost = "resnapshot": creating a new slot, the snapshot runs again`
  }
}

/** The hooks Streaming calls around slot lookup/creation, backed by the journal. */
export interface SlotGuard {
  /**
   * Before the slot is created or streamed: fails with the refusal reason.
   * `journaled` is the journal's checkpoint for this very slot: PostgreSQL
   * before 17 does not persist a logical slot's confirmed_flush_lsn at a
   * shutdown checkpoint, so after a server restart the slot may be behind
   * what we confirmed (and journaled); resuming from the journal then avoids
   * re-sending everything since the last server checkpoint.
   */
  readonly check: (server: ServerSlotView) => Effect.Effect<{ readonly dropSlot: boolean; readonly journaled: number | undefined }, string>
  /** Once the slot exists (found or created): journals its identity when new. */
  readonly identified: (server: ServerSlotView) => Effect.Effect<void>
}

export const makeSlotGuard = (state: StateStoreShape, onSlotLost: OnSlotLost): SlotGuard => ({
  check: (server) =>
    Effect.gen(function*() {
      const journal = yield* state.state
      const decision = decideSlot(journal, server, onSlotLost, state.location, new Date().toISOString())
      switch (decision._tag) {
        case "Proceed": {
          const known = journal.slot
          const same = known !== undefined && known.systemId === server.systemId && known.slot === server.slot &&
            known.database === server.database
          return { dropSlot: false, journaled: same && server.exists ? journal.checkpoint?.lsn : undefined }
        }
        case "Refuse":
          return yield* Effect.fail(decision.reason)
        case "Resnapshot":
          yield* Effect.logWarning(decision.warning)
          yield* state.append(decision.events).pipe(Effect.mapError((e) => e.message))
          return { dropSlot: decision.dropSlot, journaled: undefined }
      }
    }),
  identified: (server) =>
    Effect.gen(function*() {
      const journal = yield* state.state
      const known = journal.slot
      if (
        known !== undefined && known.systemId === server.systemId && known.slot === server.slot &&
        known.database === server.database && known.timeline === server.timeline
      ) return
      // Same slot on a new timeline (a promotion) keeps its createdAt, so positions stay.
      const createdAt = known !== undefined && known.systemId === server.systemId && known.slot === server.slot &&
          known.database === server.database
        ? known.createdAt
        : new Date().toISOString()
      yield* state.append([{
        _tag: "SlotIdentified",
        systemId: server.systemId,
        timeline: server.timeline,
        database: server.database,
        slot: server.slot,
        createdAt
      }]).pipe(Effect.catch((e) => Effect.logWarning(`cannot journal the slot identity: ${e.message}`)))
    })
})
