/**
 * What one stream does with one table, computed once per Relation message:
 * which columns go into `before`/`after`, their JSON key prefixes and value
 * writers, the Kafka key columns, the topic and the `source` prefix. A new
 * Relation message (after ALTER TABLE) replaces the plan, so events carry the
 * new shape from then on.
 */
import { Schema } from "effect"
import { renderTopic } from "../config/topic.js"
import type { Operation, OutboxxSettings, StreamSettings } from "../config/model.js"
import { type DebeziumPlan, debeziumPlan } from "../event/formats/debezium/envelope.js"
import { type Op, sourcePrefix } from "../event/formats/outboxx.js"
import type { Relation } from "../decode/messages.js"
import { byteWriterFor, type ByteWriter } from "../event/values/byteWriters.js"
import { utf8Bytes } from "../event/record/JsonBytes.js"
import { keyPrefixBytes, keyPrefixes } from "../event/values/rowJson.js"
import type { TypeRegistry } from "../event/values/TypeRegistry.js"
import type { JsonWriter } from "../event/values/writers.js"

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
  readonly prefixes: ReadonlyArray<string>
  readonly writers: ReadonlyArray<JsonWriter>
  /** `prefixes` as UTF-8 and `writers` on bytes: the streaming path of format "outboxx". */
  readonly prefixBytes: ReadonlyArray<Uint8Array>
  readonly byteWriters: ReadonlyArray<ByteWriter>
  /** Columns that go into `before`/`after` (include_columns / exclude_columns). */
  readonly includeMask: ReadonlyArray<boolean>
  /** Included replica-identity columns: what `before` holds when the server sent only the key. */
  readonly identityMask: ReadonlyArray<boolean>
  /** Kafka key columns (configured, else the primary key, else the replica identity). */
  readonly keyIndexes: ReadonlyArray<number>
  readonly keyPrefixes: ReadonlyArray<string>
  readonly keyPrefixBytes: ReadonlyArray<Uint8Array>
  /** Keys of RouterStats.events for this stream and table, per op (computed once, not per row). */
  readonly statKeys: Readonly<Record<Op, string>>
  /** `{"db":..,"schema":..,"table":..,"lsn":"` */
  readonly source: string
  /** `,"source":` and `source` as UTF-8: what the byte path writes before the change's LSN. */
  readonly sourceBytes: Uint8Array
  /**
   * Set for streams with format "debezium": its schemas and value writers
   * (`writers` then holds Debezium's writers too). Undefined for "outboxx",
   * so that path costs one property check.
   */
  readonly debezium: DebeziumPlan | undefined
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

/**
 * Plans every stream that captures `relation`. `primaryKey` is the table's
 * primary key column names (from the catalog), empty when it has none.
 * The registry must already know the relation's column types.
 */
export const planRelation = (
  relation: Relation,
  settings: OutboxxSettings,
  registry: TypeRegistry,
  primaryKey: ReadonlyArray<string>,
  database: string
): RelationEntry | TablePlanError => {
  const plans: Array<TablePlan> = []
  const prefixes = keyPrefixes(relation.columns.map((c) => c.name))
  const writers = relation.columns.map((c) => registry.writerOrString(c.typeOid))
  const prefixBytes = keyPrefixBytes(relation.columns.map((c) => c.name))
  const byteWriters = writers.map(byteWriterFor)
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
    const keyNames = stream.key ??
      (primaryKey.length > 0
        ? primaryKey
        : relation.replicaIdentity === "full"
        ? []
        : relation.columns.filter((c) => c.isKey).map((c) => c.name))
    const keyIndexes = columnIndexes(relation, keyNames, stream, "key")
    if (keyIndexes instanceof TablePlanError) return keyIndexes
    const topic = renderTopic(stream.topic, { schema: relation.schema, table: relation.name, stream: stream.name })
    const debezium = stream.format === "debezium"
      ? debeziumPlan({ relation, registry, includeMask, keyIndexes, name: topic, server: stream.name, database })
      : undefined
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
      prefixes,
      writers: debezium === undefined ? writers : debezium.writers,
      prefixBytes,
      byteWriters,
      includeMask,
      identityMask: relation.columns.map((c, i) => c.isKey && includeMask[i]!),
      keyIndexes,
      keyPrefixes: keyIndexes.map((i) => prefixes[i]!),
      keyPrefixBytes: keyIndexes.map((i) => prefixBytes[i]!),
      statKeys: statKeysFor(stream.name, tableName(relation)),
      source: sourcePrefix(database, relation.schema, relation.name),
      sourceBytes: utf8Bytes(`,"source":${sourcePrefix(database, relation.schema, relation.name)}`),
      debezium
    })
  }
  return { relation, qualifiedName: tableName(relation), plans }
}
