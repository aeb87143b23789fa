/**
 * What one stream does with one table, computed once per Relation message:
 * which operations it emits, which columns its events carry, the Kafka key
 * columns and topic, and the stream's format for the table (which alone
 * knows what the events look like). A new Relation message (after ALTER
 * TABLE) replaces the plan, so events carry the new shape from then on.
 */
import { Effect, Schema } from "effect"
import { deadLetterTopicOf, renderTopic } from "../config/topic.js"
import type { Operation, OutboxxSettings, StreamSettings } from "../config/model.js"
import type { Relation } from "../decode/messages.js"
import { type ColumnFacts, type EventFormat, FormatError, type Op, type TableFormat } from "../event/EventFormat.js"
import { makeFormat } from "../event/formats/index.js"
import { outboxTableFormat } from "../event/formats/outboxTable.js"
import { outboxTableProblem } from "../outbox/table.js"
import type { TypeRegistry } from "../event/values/TypeRegistry.js"
import { StreamTransactions } from "../event/TransactionMetadata.js"

/** The configuration asks for something the table does not have. */
export class TablePlanError extends Schema.TaggedError<TablePlanError>()("TablePlanError", {
  stream: Schema.String,
  table: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `stream "${this.stream}", table ${this.table}: ${this.reason}`
  }
}

export interface TablePlan {
  readonly streamIndex: number
  readonly stream: StreamSettings
  readonly topic: string
  readonly emits: Readonly<Record<Operation, boolean>>
  readonly tombstones: boolean
  /** Columns the events carry (include_columns / exclude_columns): what the size check counts. */
  readonly includeMask: ReadonlyArray<boolean>
  /** Kafka key columns (configured, else the primary key, else the replica identity). */
  readonly keyIndexes: ReadonlyArray<number>
  /** `keyIndexes`' column names, for errors. */
  readonly keyNames: ReadonlyArray<string>
  /** `schema.table`, for errors. */
  readonly table: string
  /** Keys of RouterStats.events for this stream and table, per op (computed once, not per row). */
  readonly statKeys: Readonly<Record<Op, string>>
  /** The stream's format for this table: the only code that knows what the events look like. */
  readonly format: TableFormat
  /** The stream's transaction metadata (shared by its plans), when `transaction_topic` is set. */
  readonly transactions: StreamTransactions | undefined
}

export interface RelationEntry {
  readonly relation: Relation
  readonly qualifiedName: string
  /** One plan per stream that captures this table; empty when none does. */
  readonly plans: ReadonlyArray<TablePlan>
  /** `plans[i]`'s topic's record limit in bytes (Infinity = none), set by the Router when a limit is known. */
  recordLimits?: ReadonlyArray<number>
}

const statKeysFor = (stream: string, table: string): Record<Op, string> => {
  const key = (op: Op) => `${stream}\u0000${table}\u0000${op}`
  return { c: key("c"), u: key("u"), d: key("d"), r: key("r"), t: key("t") }
}

const tableName = (relation: Relation) => `${relation.schema}.${relation.name}`

const columnIndexes = (
  relation: Relation,
  names: ReadonlyArray<string>,
  stream: StreamSettings,
  what: string
): Array<number> | TablePlanError => {
  const indexes: Array<number> = []
  for (const name of names) {
    const index = relation.columns.findIndex((c) => c.name === name)
    if (index < 0) {
      return new TablePlanError({
        stream: stream.name,
        table: tableName(relation),
        reason: `${what} names column "${name}", which the table does not have (columns: ${
          relation.columns.map((c) => c.name).join(", ")
        })`
      })
    }
    indexes.push(index)
  }
  return indexes
}

/** One format instance per stream, shared by the stream's tables (`planRelation`'s `formats`). */
export const streamFormats = (settings: OutboxxSettings, database: string): ReadonlyArray<EventFormat> =>
  settings.streams.map((stream) => {
    const context = {
      stream: stream.name,
      database,
      schemaRegistry: settings.kafka.schemaRegistry,
      cloudEventsMode: stream.cloudeventsMode,
      debezium: stream.debezium,
      messagesTopic: stream.messagesTopic,
      transactions: stream.transactionTopic === undefined
        ? undefined
        : new StreamTransactions(stream.transactionTopic, stream.format === "debezium" ? "debezium" : "outboxx")
    }
    // An outbox stream's rows are the events: no change format applies.
    return stream.kind === "outbox"
      ? outboxTableFormat({ ...context, outboxTable: stream.outbox, deadLetterTopic: deadLetterTopicOf(stream) })
      : makeFormat(stream.format, context)
  })

/**
 * Runs each plan's format preparation (schema registration) before the first
 * event of the plan is built; a failure names the stream and table.
 */
export const prepareFormats = (entry: RelationEntry): Effect.Effect<void, FormatError> =>
  Effect.forEach(entry.plans, (plan) =>
    plan.format.prepare === undefined ? Effect.void : Effect.tryPromise({
      try: () => plan.format.prepare!(),
      catch: (cause) =>
        new FormatError({
          stream: plan.stream.name,
          table: plan.table,
          reason: cause instanceof Error ? cause.message : String(cause),
          retryable: typeof cause === "object" && cause !== null && (cause as { retryable?: unknown }).retryable === true
        })
    }), { discard: true })

/**
 * Plans every stream that captures `relation`. `primaryKey` is the table's
 * primary key column names (from the catalog), empty when it has none.
 * The registry must already know the relation's column types; `formats`
 * holds each stream's format (streamFormats).
 */
export const planRelation = (
  relation: Relation,
  settings: OutboxxSettings,
  registry: TypeRegistry,
  primaryKey: ReadonlyArray<string>,
  formats: ReadonlyArray<EventFormat>,
  columnFacts?: ReadonlyMap<string, ColumnFacts>
): RelationEntry | TablePlanError => {
  const plans: Array<TablePlan> = []
  for (let s = 0; s < settings.streams.length; s++) {
    const stream = settings.streams[s]!
    if (!stream.tables.some((t) => t.schema === relation.schema && t.name === relation.name)) continue
    let includeMask = relation.columns.map(() => true)
    if (stream.includeColumns !== undefined) {
      const included = columnIndexes(relation, stream.includeColumns, stream, "include_columns")
      if (included instanceof TablePlanError) return included
      includeMask = relation.columns.map((_, i) => included.includes(i))
    }
    for (const name of stream.excludeColumns) {
      const index = relation.columns.findIndex((c) => c.name === name)
      // Excluding a column the table does not have (any more) is harmless.
      if (index >= 0) includeMask[index] = false
    }
    // The Kafka key: `key`, else the primary key, else a REPLICA IDENTITY USING INDEX's columns. A
    // keyless table under REPLICA IDENTITY FULL flags every column as identity: keying on all of them
    // would turn each update into delete + tombstone + create, so it has no key (null, as Debezium).
    const topic = renderTopic(stream.topic, { schema: relation.schema, table: relation.name, stream: stream.name })
    if (stream.kind === "outbox") {
      const problem = outboxTableProblem(stream.outbox, topic, relation.columns)
      if (problem !== undefined) return new TablePlanError({ stream: stream.name, table: tableName(relation), reason: problem })
    }
    // An outbox stream's key is its key column's text, which its format writes: no key columns here.
    const keyNames = stream.kind === "outbox" ? [] : stream.key ??
      (primaryKey.length > 0
        ? primaryKey
        : relation.replicaIdentity === "full"
        ? []
        : relation.columns.filter((c) => c.isKey).map((c) => c.name))
    const keyIndexes = columnIndexes(relation, keyNames, stream, "key")
    if (keyIndexes instanceof TablePlanError) return keyIndexes
    const identityMask = relation.columns.map((c, i) => c.isKey && includeMask[i]!)
    const format = formats[s]!.table({ relation, columnFacts, types: registry, topic, includeMask, identityMask, keyIndexes })
    plans.push({
      streamIndex: s,
      stream,
      topic,
      emits: {
        insert: stream.operations.has("insert"),
        update: stream.operations.has("update"),
        delete: stream.operations.has("delete"),
        truncate: stream.operations.has("truncate")
      },
      // A tombstone deletes a key: a keyless table has none to delete.
      tombstones: stream.tombstones && keyIndexes.length > 0,
      includeMask,
      keyIndexes,
      keyNames: keyIndexes.map((i) => relation.columns[i]!.name),
      table: tableName(relation),
      statKeys: statKeysFor(stream.name, tableName(relation)),
      format,
      transactions: formats[s]!.transactions
    })
  }
  return { relation, qualifiedName: tableName(relation), plans }
}
