/**
 * The durable state as a pure fold over journal events, and its inverse for
 * compaction: `foldEvents(stateToEvents(s))` equals `s`.
 *
 * Positions belong to a slot: when the journal learns of a different slot
 * (SlotIdentified with another identity) or that the slot is lost, the
 * checkpoint and snapshot progress of the old one are dropped, since resuming
 * from them against another slot would skip or repeat data silently.
 */
import type { Json } from "effect/Schema"
import {
  checkpointCommitted,
  type JournalEvent,
  type Role,
  type SlotIdentified
} from "./JournalEvent.js"
import { parseLsnOrUndefined } from "../postgres/lsn.js"

export interface SlotIdentity {
  readonly systemId: string
  readonly timeline: number
  readonly database: string
  readonly slot: string
  readonly createdAt: string
}

export interface Checkpoint {
  /** Commit end LSN, as a number (exact below 2^53). */
  readonly lsn: number
  readonly at: string
}

export interface TableSnapshotProgress {
  readonly status: "running" | "done"
  readonly startedAt: string
  /** Rows delivered so far (running) or in total (done). */
  readonly rows: number
  /** High key bound of the last delivered chunk; a resume continues after it. */
  readonly lastKey: Json | undefined
  readonly finishedAt: string | undefined
}

export interface RoleState {
  readonly role: Role
  readonly instance: string
  readonly at: string
}

export interface JournalState {
  readonly slot: SlotIdentity | undefined
  readonly checkpoint: Checkpoint | undefined
  /** Per table ("schema.name"), in the order the snapshots started. */
  readonly snapshots: Readonly<Record<string, TableSnapshotProgress>>
  /** The last complete snapshot run. */
  readonly snapshotFinished: { readonly tables: ReadonlyArray<string>; readonly at: string } | undefined
  readonly role: RoleState | undefined
  /** The last time a slot was lost (kept as history after a new slot appears). */
  readonly slotLost: { readonly reason: string; readonly at: string } | undefined
}

export const emptyJournalState: JournalState = {
  slot: undefined,
  checkpoint: undefined,
  snapshots: {},
  snapshotFinished: undefined,
  role: undefined,
  slotLost: undefined
}

/**
 * The timeline is not part of the identity: after a promotion the same
 * cluster (same system id) continues the same LSN space on a new timeline,
 * and a failover slot keeps its position, so our positions stay valid.
 */
const sameSlot = (a: SlotIdentity | undefined, b: SlotIdentified): boolean =>
  a !== undefined && a.systemId === b.systemId && a.database === b.database &&
  a.slot === b.slot && a.createdAt === b.createdAt

const withTable = (
  state: JournalState,
  table: string,
  progress: TableSnapshotProgress
): JournalState => ({ ...state, snapshots: { ...state.snapshots, [table]: progress } })

export const applyEvent = (state: JournalState, event: JournalEvent): JournalState => {
  switch (event._tag) {
    case "SlotIdentified": {
      const slot: SlotIdentity = {
        systemId: event.systemId,
        timeline: event.timeline,
        database: event.database,
        slot: event.slot,
        createdAt: event.createdAt
      }
      if (sameSlot(state.slot, event)) return { ...state, slot }
      return { ...state, slot, checkpoint: undefined, snapshots: {}, snapshotFinished: undefined }
    }
    case "CheckpointCommitted": {
      const lsn = parseLsnOrUndefined(event.lsn)
      // Never backwards: a stale checkpoint is ignored, not applied.
      if (lsn === undefined || (state.checkpoint !== undefined && lsn <= state.checkpoint.lsn)) return state
      return { ...state, checkpoint: { lsn, at: event.at } }
    }
    case "SnapshotStarted":
      return withTable(state, event.table, {
        status: "running",
        startedAt: event.at,
        rows: 0,
        lastKey: undefined,
        finishedAt: undefined
      })
    case "SnapshotChunkDone": {
      const current = state.snapshots[event.table]
      const base: TableSnapshotProgress = current ?? {
        status: "running",
        startedAt: "",
        rows: 0,
        lastKey: undefined,
        finishedAt: undefined
      }
      return withTable(state, event.table, { ...base, rows: base.rows + event.rows, lastKey: event.highKey })
    }
    case "SnapshotTableDone": {
      const current = state.snapshots[event.table]
      return withTable(state, event.table, {
        status: "done",
        startedAt: current?.startedAt ?? event.at,
        rows: event.rows,
        lastKey: current?.lastKey,
        finishedAt: event.at
      })
    }
    case "SnapshotFinished":
      return { ...state, snapshotFinished: { tables: event.tables, at: event.at } }
    case "RoleChanged":
      return { ...state, role: { role: event.role, instance: event.instance, at: event.at } }
    case "SlotLost":
      return {
        ...state,
        slot: undefined,
        checkpoint: undefined,
        snapshots: {},
        snapshotFinished: undefined,
        slotLost: { reason: event.reason, at: event.at }
      }
  }
}

export const foldEvents = (
  events: Iterable<JournalEvent>,
  initial: JournalState = emptyJournalState
): JournalState => {
  let state = initial
  for (const event of events) state = applyEvent(state, event)
  return state
}

/**
 * The shortest event sequence whose fold is `state`: what compaction writes.
 * Order matters: SlotLost clears, so it comes first; the slot identity before
 * the positions that belong to it.
 */
export const stateToEvents = (state: JournalState): Array<JournalEvent> => {
  const events: Array<JournalEvent> = []
  if (state.slotLost !== undefined) {
    events.push({ _tag: "SlotLost", reason: state.slotLost.reason, at: state.slotLost.at })
  }
  if (state.slot !== undefined) events.push({ _tag: "SlotIdentified", ...state.slot })
  if (state.checkpoint !== undefined) events.push(checkpointCommitted(state.checkpoint.lsn, state.checkpoint.at))
  for (const [table, progress] of Object.entries(state.snapshots)) {
    events.push({ _tag: "SnapshotStarted", table, at: progress.startedAt })
    if (progress.lastKey !== undefined) {
      events.push({ _tag: "SnapshotChunkDone", table, lowKey: null, highKey: progress.lastKey, rows: progress.rows })
    }
    if (progress.status === "done") {
      events.push({ _tag: "SnapshotTableDone", table, rows: progress.rows, at: progress.finishedAt ?? progress.startedAt })
    }
  }
  if (state.snapshotFinished !== undefined) {
    events.push({ _tag: "SnapshotFinished", tables: state.snapshotFinished.tables, at: state.snapshotFinished.at })
  }
  if (state.role !== undefined) events.push({ _tag: "RoleChanged", ...state.role })
  return events
}

/**
 * What an append actually writes. Checkpoints come every status interval, so
 * a checkpoint that does not advance the journaled one is dropped, and a run
 * of consecutive checkpoints in one batch keeps only its last (highest).
 * Returns the events to write and the state after them.
 */
export const planAppend = (
  state: JournalState,
  events: ReadonlyArray<JournalEvent>
): { readonly write: Array<JournalEvent>; readonly next: JournalState } => {
  const write: Array<JournalEvent> = []
  let next = state
  for (const event of events) {
    if (event._tag === "CheckpointCommitted") {
      const lsn = parseLsnOrUndefined(event.lsn)
      if (lsn === undefined || (next.checkpoint !== undefined && lsn <= next.checkpoint.lsn)) continue
      if (write.length > 0 && write[write.length - 1]!._tag === "CheckpointCommitted") write.pop()
    }
    write.push(event)
    next = applyEvent(next, event)
  }
  return { write, next }
}
