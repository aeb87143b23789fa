/**
 * The events the pipeline's actors append to the state journal. The durable
 * state is nothing but the fold of these (see JournalState.ts); the file holds
 * their JSON encoding, one per line (see journalLine.ts).
 *
 * Timestamps are ISO-8601 strings and LSNs PostgreSQL's text form, so an
 * operator can read the journal with `jq` and compare it with the server.
 */
import * as Schema from "effect/Schema"
import { formatLsn, lsnPattern } from "../postgres/lsn.js"

const Timestamp = Schema.String
const LsnText = Schema.String.check(Schema.isPattern(lsnPattern))
const Rows = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** Which replication slot (on which cluster) the journaled positions belong to. */
export const SlotIdentified = Schema.TaggedStruct("SlotIdentified", {
  /** `IDENTIFY_SYSTEM`'s systemid: tells clusters apart even when names repeat. */
  systemId: Schema.String,
  timeline: Schema.Int,
  database: Schema.String,
  slot: Schema.String,
  /** When outboxx created (or first saw) the slot. */
  createdAt: Timestamp
})
export type SlotIdentified = typeof SlotIdentified.Type

/** Everything up to `lsn` is delivered to Kafka and confirmed to PostgreSQL. */
export const CheckpointCommitted = Schema.TaggedStruct("CheckpointCommitted", {
  lsn: LsnText,
  at: Timestamp
})
export type CheckpointCommitted = typeof CheckpointCommitted.Type

/** A (re-)snapshot of one table began; progress restarts from zero. */
export const SnapshotStarted = Schema.TaggedStruct("SnapshotStarted", {
  table: Schema.String,
  at: Timestamp
})
export type SnapshotStarted = typeof SnapshotStarted.Type

/**
 * One chunk of a table's snapshot is delivered. Key bounds are the chunk's
 * key values as JSON (`null` lower bound = from the start); a resumed snapshot
 * continues after `highKey`.
 */
export const SnapshotChunkDone = Schema.TaggedStruct("SnapshotChunkDone", {
  table: Schema.String,
  lowKey: Schema.NullOr(Schema.Json),
  highKey: Schema.Json,
  rows: Rows
})
export type SnapshotChunkDone = typeof SnapshotChunkDone.Type

/** A table's snapshot is complete; `rows` is its total. */
export const SnapshotTableDone = Schema.TaggedStruct("SnapshotTableDone", {
  table: Schema.String,
  rows: Rows,
  at: Timestamp
})
export type SnapshotTableDone = typeof SnapshotTableDone.Type

/** A whole snapshot run (initial or on demand) is complete. */
export const SnapshotFinished = Schema.TaggedStruct("SnapshotFinished", {
  tables: Schema.Array(Schema.String),
  at: Timestamp
})
export type SnapshotFinished = typeof SnapshotFinished.Type

export const Role = Schema.Literals(["active", "standby"])
export type Role = typeof Role.Type

export const RoleChanged = Schema.TaggedStruct("RoleChanged", {
  role: Role,
  instance: Schema.String,
  at: Timestamp
})
export type RoleChanged = typeof RoleChanged.Type

/** The slot vanished or was invalidated: journaled positions no longer apply. */
export const SlotLost = Schema.TaggedStruct("SlotLost", {
  reason: Schema.String,
  at: Timestamp
})
export type SlotLost = typeof SlotLost.Type

export const JournalEvent = Schema.Union([
  SlotIdentified,
  CheckpointCommitted,
  SnapshotStarted,
  SnapshotChunkDone,
  SnapshotTableDone,
  SnapshotFinished,
  RoleChanged,
  SlotLost
])
export type JournalEvent = typeof JournalEvent.Type

/** A checkpoint event from a numeric LSN (the hot path's representation). */
export const checkpointCommitted = (lsn: number, at: string): CheckpointCommitted =>
  CheckpointCommitted.make({ lsn: formatLsn(lsn), at })
