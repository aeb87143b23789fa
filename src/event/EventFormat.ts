/**
 * The contract between routing and the output formats.
 *
 * The Router (route/) is a transaction state machine: it decides which
 * changes a stream emits, in which order, with which Kafka semantics
 * (tombstones, key changes as delete + create, oversized changes). What the
 * bytes of an event look like is the stream's EventFormat's business alone;
 * no code outside `event/formats/` knows a format. A new format (Avro,
 * CloudEvents, ...) is one new module under `formats/` and one line in
 * `formats/index.ts`.
 *
 * Formats read changes as the decoder hands them (`Tuple`: cells read in
 * place from the replication message) and write records (`OutRecord`); they
 * never see a database connection, the catalog or a Kafka client.
 */
import { Schema } from "effect"
import type { CloudEventsMode, DebeziumSettings, SchemaRegistrySettings } from "../config/model.js"
import type { LogicalMessage, Relation } from "../decode/messages.js"
import type { Tuple } from "../decode/tuple.js"
import type { JsonBytes } from "./record/JsonBytes.js"
import type { OutRecord } from "./record/OutRecord.js"
import type { StreamTransactions } from "./TransactionMetadata.js"
import type { TypeRegistry } from "./values/TypeRegistry.js"

/** Debezium's operation codes: create, update, delete, read (snapshot), truncate. */
export type Op = "c" | "u" | "d" | "r" | "t"

/**
 * The transaction a change belongs to. One object per transaction, so a
 * format may cache text that depends only on the transaction by identity.
 */
export interface Transaction {
  readonly xid: number
  /** The commit record's LSN (pgoutput Begin's final LSN). */
  readonly commitLsn: number
  readonly commitTimeMs: number
  /**
   * The end LSN of the previous transaction's commit in this stream, 0 for
   * the first one since streaming started (Debezium's `sequence` starts with
   * it, null then); absent for snapshot rows.
   */
  readonly previousCommitEndLsn?: number
  /** The same in microseconds since the Unix epoch, as the server sent it (absent: commitTimeMs x 1000). */
  readonly commitTimeUs?: number
  /** The commit time as ISO 8601 with microseconds. */
  readonly commitTs: string
}

/**
 * How a snapshot row was read: "initial" under the slot's exported snapshot
 * (its LSN is the consistent point, its Transaction a stand-in with xid 0
 * and the snapshot's start as commit time), or "incremental" inside the
 * watermark window's transaction (docs/snapshots.md).
 */
export type SnapshotKind = "initial" | "incremental"

/** One row as PostgreSQL's output functions print it, in the table's column order; null for SQL NULL. */
export type TextRow = ReadonlyArray<string | null>

/** What one stream takes of one table, computed once per Relation message (route/TablePlan.ts). */
/** What the catalog says of a column beyond the Relation message (formats with schemas use it). */
export interface ColumnFacts {
  readonly notNull: boolean
  /** The column default's expression as pg_get_expr prints it (`'a'::text`, `7`, `now()`), null when none. */
  readonly defaultExpression: string | null
}

export interface TableShape {
  readonly relation: Relation
  /** By column name; absent when not loaded (columns then count as nullable without defaults). */
  readonly columnFacts?: ReadonlyMap<string, ColumnFacts> | undefined
  readonly types: TypeRegistry
  readonly topic: string
  /** Columns that go into `before`/`after` (include_columns / exclude_columns). */
  readonly includeMask: ReadonlyArray<boolean>
  /** Included replica-identity columns: what `before` holds when the server sent only the key. */
  readonly identityMask: ReadonlyArray<boolean>
  /** Kafka key columns; the Router has checked a tuple holds them before a format sees it. */
  readonly keyIndexes: ReadonlyArray<number>
}

/**
 * A format for one table of one stream. Every method returns the record of
 * one event; formats that write bytes write them into `out`, whose slabs the
 * Router hands to the stream's outbox (event/record/SlabPool.ts).
 */
export interface TableFormat {
  /**
   * An insert (`op` "c", `before` undefined) or an update ("u"): `before` is
   * the old row when the server sent it, whole (`beforeIsFull`) or its
   * replica identity only.
   */
  readonly row: (
    out: JsonBytes,
    op: "c" | "u",
    before: Tuple | undefined,
    beforeIsFull: boolean,
    after: Tuple,
    lsn: number,
    tx: Transaction,
    nowMs: number
  ) => OutRecord
  readonly delete: (
    out: JsonBytes,
    before: Tuple,
    beforeIsFull: boolean,
    lsn: number,
    tx: Transaction,
    nowMs: number
  ) => OutRecord
  /**
   * A primary-key change, as the delete of the old key and the create of the
   * new one (formats without it get `delete` + `row`): a format that marks
   * the pair (Debezium's `__debezium.newkey` / `oldkey` headers) builds both.
   */
  readonly keyChange?: (
    out: JsonBytes,
    before: Tuple,
    beforeIsFull: boolean,
    after: Tuple,
    lsn: number,
    tx: Transaction,
    nowMs: number
  ) => readonly [deleted: OutRecord, created: OutRecord]
  readonly truncate: (out: JsonBytes, lsn: number, tx: Transaction, nowMs: number) => OutRecord
  /**
   * A snapshot row (`op` "r"), read with COPY into the same cell layout as a
   * streamed row (snapshot/copyRows.ts): every cell text or null.
   */
  readonly snapshot: (out: JsonBytes, row: Tuple, kind: SnapshotKind, lsn: number, tx: Transaction, nowMs: number) => OutRecord
  /** The Kafka key of a row as text (a dead letter's key, for one); null when the table has no key columns. */
  readonly keyText: (tuple: Tuple) => string | null
  /**
   * Work to do once per plan before the first event (the avro format
   * registers its schemas); a rejection is a FormatFailure-shaped error
   * (`retryable` says whether trying again later can succeed).
   */
  readonly prepare?: () => Promise<void>
}

/** A format could not get ready for a table (its schema registry refused or did not answer). */
export class FormatError extends Schema.TaggedError<FormatError>()("FormatError", {
  stream: Schema.String,
  table: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message(): string {
    return `stream "${this.stream}", table ${this.table}: ${this.reason}`
  }
}

/** A format for one stream: keeps what it reuses across the stream's tables (scratch arrays, per-transaction text). */
export interface EventFormat {
  readonly table: (shape: TableShape) => TableFormat
  /**
   * A logical decoding message the stream forwards (`messages`), as an
   * `op: "m"` event on its messages topic; `tx` undefined for a
   * non-transactional message, `lastCommitted` the last transaction
   * committed before it. Formats without it cannot forward messages (the
   * configuration refuses them). With transaction metadata, a transactional
   * message counts itself and carries its block, as a change event does.
   */
  readonly message?: (
    message: LogicalMessage,
    lsn: number,
    tx: Transaction | undefined,
    nowMs: number,
    lastCommitted: Transaction | undefined
  ) => OutRecord
  /** The stream's transaction metadata (`transaction_topic`), when on: the Router starts and ends its transactions. */
  readonly transactions?: StreamTransactions | undefined
}

/** What a format may put in an event about where it comes from. */
export interface FormatContext {
  readonly stream: string
  readonly database: string
  /** Where formats with registered schemas (avro) register them. */
  readonly schemaRegistry?: SchemaRegistrySettings | undefined
  /** CloudEvents' content mode (format "cloudevents"). */
  readonly cloudEventsMode?: CloudEventsMode | undefined
  /** Debezium's value-handling modes (formats "debezium" and "avro"). */
  readonly debezium?: DebeziumSettings | undefined
  /** Transaction metadata (`transaction_topic`): each change event counts itself and carries its `transaction` block. */
  readonly transactions?: StreamTransactions | undefined
  /** Where the stream's message events go (`messages_topic`). */
  readonly messagesTopic?: string | undefined
}
