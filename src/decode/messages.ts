/**
 * pgoutput logical replication messages, protocol versions 1 to 4.
 * See PostgreSQL's "Logical Replication Message Formats".
 *
 * LSNs are plain numbers (exact below 2^53, i.e. 8 PiB of WAL); timestamps
 * are microseconds since 2000-01-01 UTC (PostgreSQL's epoch) as numbers.
 */
import type { Tuple } from "./tuple.js"

/** A TOASTed value the server did not send because it did not change ('u'). */
export const Unchanged: unique symbol = Symbol.for("outboxx/pgoutput/Unchanged")
export type Unchanged = typeof Unchanged

/**
 * One column of a TupleData: text form ('t'), binary ('b', a copied Buffer),
 * SQL NULL ('n') or an unchanged TOAST value ('u').
 */
export type TupleValue = string | null | Unchanged | Uint8Array

/** Values in the relation's column order, as bytes read in place (see tuple.ts). */
export type { Tuple }

export interface RelationColumn {
  /** Bit 1: the column is part of the replica identity key. */
  readonly isKey: boolean
  readonly name: string
  readonly typeOid: number
  readonly typeMod: number
}

export type ReplicaIdentity = "default" | "nothing" | "full" | "index"

export interface Begin { readonly tag: "Begin"; readonly finalLsn: number; readonly commitTime: number; readonly xid: number }
export interface Commit { readonly tag: "Commit"; readonly flags: number; readonly commitLsn: number; readonly endLsn: number; readonly commitTime: number }
export interface Origin { readonly tag: "Origin"; readonly originLsn: number; readonly name: string }
export interface Relation {
  readonly tag: "Relation"
  /** Set only inside a streamed transaction (protocol >= 2). */
  readonly xid: number | undefined
  readonly relationId: number
  readonly schema: string
  readonly name: string
  readonly replicaIdentity: ReplicaIdentity
  readonly columns: ReadonlyArray<RelationColumn>
}
export interface Type { readonly tag: "Type"; readonly xid: number | undefined; readonly typeOid: number; readonly schema: string; readonly name: string }
export interface Insert { readonly tag: "Insert"; readonly xid: number | undefined; readonly relationId: number; readonly newTuple: Tuple }
export interface Update {
  readonly tag: "Update"
  readonly xid: number | undefined
  readonly relationId: number
  /** "key" ('K'): the old replica identity key; "full" ('O'): the whole old row; undefined: not sent. */
  readonly oldKind: "key" | "full" | undefined
  readonly oldTuple: Tuple | undefined
  readonly newTuple: Tuple
}
export interface Delete {
  readonly tag: "Delete"
  readonly xid: number | undefined
  readonly relationId: number
  readonly oldKind: "key" | "full"
  readonly oldTuple: Tuple
}
export interface Truncate {
  readonly tag: "Truncate"
  readonly xid: number | undefined
  readonly cascade: boolean
  readonly restartIdentity: boolean
  readonly relationIds: ReadonlyArray<number>
}
export interface LogicalMessage {
  readonly tag: "Message"
  readonly xid: number | undefined
  readonly transactional: boolean
  readonly lsn: number
  readonly prefix: string
  /** A copy, safe to keep. */
  readonly content: Uint8Array
}
export interface StreamStart { readonly tag: "StreamStart"; readonly xid: number; readonly firstSegment: boolean }
export interface StreamStop { readonly tag: "StreamStop" }
export interface StreamCommit {
  readonly tag: "StreamCommit"; readonly xid: number; readonly flags: number
  readonly commitLsn: number; readonly endLsn: number; readonly commitTime: number
}
export interface StreamAbort {
  readonly tag: "StreamAbort"; readonly xid: number; readonly subXid: number
  /** Protocol 4 (parallel streaming) only. */
  readonly abortLsn: number | undefined
  readonly abortTime: number | undefined
}
export interface BeginPrepare {
  readonly tag: "BeginPrepare"; readonly prepareLsn: number; readonly endLsn: number
  readonly prepareTime: number; readonly xid: number; readonly gid: string
}
export interface Prepare {
  readonly tag: "Prepare"; readonly flags: number; readonly prepareLsn: number; readonly endLsn: number
  readonly prepareTime: number; readonly xid: number; readonly gid: string
}
export interface CommitPrepared {
  readonly tag: "CommitPrepared"; readonly flags: number; readonly commitLsn: number; readonly endLsn: number
  readonly commitTime: number; readonly xid: number; readonly gid: string
}
export interface RollbackPrepared {
  readonly tag: "RollbackPrepared"; readonly flags: number; readonly prepareEndLsn: number; readonly rollbackEndLsn: number
  readonly prepareTime: number; readonly rollbackTime: number; readonly xid: number; readonly gid: string
}
export interface StreamPrepare {
  readonly tag: "StreamPrepare"; readonly flags: number; readonly prepareLsn: number; readonly endLsn: number
  readonly prepareTime: number; readonly xid: number; readonly gid: string
}

export type PgoutputMessage =
  | Begin | Commit | Origin | Relation | Type | Insert | Update | Delete | Truncate | LogicalMessage
  | StreamStart | StreamStop | StreamCommit | StreamAbort
  | BeginPrepare | Prepare | CommitPrepared | RollbackPrepared | StreamPrepare
