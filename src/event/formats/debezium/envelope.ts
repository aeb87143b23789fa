/**
 * The "debezium" event format: Debezium's PostgreSQL change event envelope
 * as Kafka Connect's JsonConverter writes it with schemas enabled,
 * `{"schema": ..., "payload": {before, after, source, transaction, op, ts_ms}}`,
 * and the key likewise. The schemas depend only on the table and the stream,
 * so they are rendered once per Relation message (a DebeziumPlan on the
 * TablePlan) and every event is concatenation.
 */
import { utf8Bytes } from "../../record/JsonBytes.js"
import { type ByteWriter, byteWriterFor } from "../../values/byteWriters.js"
import { jsonString } from "../../values/jsonString.js"
import type { Relation } from "../../../decode/messages.js"
import type { TypeRegistry } from "../../values/TypeRegistry.js"
import type { JsonWriter } from "../../values/writers.js"
import type { ColumnFacts, FormatContext, Op, TableShape } from "../../EventFormat.js"
import { type ConnectSchema, debeziumColumnType, type DebeziumModes, defaultModes } from "./types.js"
import { defaultConstant } from "./values.js"

/**
 * `source.version`: which producer wrote the event. Debezium writes its own
 * release here; consumers that branch on it see Outboxx for what it is.
 */
export const SOURCE_VERSION = "outboxx"

export interface DebeziumPlan {
  /** Per column of the relation: the Debezium value writer. */
  readonly writers: ReadonlyArray<JsonWriter>
  /** Per column: the writer on bytes, for events written into the Router's slabs. */
  readonly byteWriters: ReadonlyArray<ByteWriter>
  /** `placeholders` and `nulls` as UTF-8. */
  readonly placeholderBytes: ReadonlyArray<Uint8Array>
  readonly nullBytes: ReadonlyArray<Uint8Array>
  /** Per column: its bytes straight from the text, for `bytes` columns that have it (DebeziumColumnType.bytes). */
  readonly bytes: ReadonlyArray<((text: string) => Buffer | null) | undefined>
  /** Per column: the fragment for an unchanged TOASTed value that cannot be filled in. */
  readonly placeholders: ReadonlyArray<string>
  /**
   * Per column: what a null value is written as. A column with a constant
   * default is written with the default, as Kafka Connect's JsonConverter
   * does for Debezium (it serialises a null field by its schema's default).
   */
  readonly nulls: ReadonlyArray<string>
  /** `{"schema":<key schema>,"payload":` — followed by the key object and `keySuffix`; "" without schemas. */
  readonly keyPrefix: string
  readonly keySuffix: string
  /** `{"schema":<envelope schema>,"payload":{"before":`, or `{"before":` without schemas; the value ends with `valueSuffix`. */
  readonly valuePrefix: string
  readonly valueSuffix: string
  /** `keyPrefix` and `valuePrefix` as UTF-8, for events written into the Router's slabs. */
  readonly keyPrefixBytes: Uint8Array
  readonly valuePrefixBytes: Uint8Array
  /** The Connect schemas of the key and the envelope (what JsonConverter writes; the avro format converts them). */
  readonly keySchema: ConnectSchema
  readonly valueSchema: ConnectSchema
  /** `source` up to `ts_ms`, then `db` and the start of `sequence`, then `schema`, `table` up to `txId`: fields in Debezium's order. */
  readonly sourcePrefix: string
  readonly sourceMiddle: string
  readonly sourceTable: string
}

/** Connect schema names allow letters, digits, `_` and `.` (Avro-compatible): anything else becomes `_`. */
export const schemaName = (name: string): string => name.replace(/[^A-Za-z0-9_.]/g, "_")

const sourceSchema = {
  type: "struct",
  fields: [
    { type: "string", optional: false, field: "version" },
    { type: "string", optional: false, field: "connector" },
    { type: "string", optional: false, field: "name" },
    { type: "int64", optional: false, field: "ts_ms" },
    {
      type: "string",
      optional: true,
      name: "io.debezium.data.Enum",
      version: 1,
      parameters: { allowed: "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental" },
      default: "false",
      field: "snapshot"
    },
    { type: "string", optional: false, field: "db" },
    { type: "string", optional: true, field: "sequence" },
    { type: "int64", optional: true, field: "ts_us" },
    { type: "int64", optional: true, field: "ts_ns" },
    { type: "string", optional: false, field: "schema" },
    { type: "string", optional: false, field: "table" },
    { type: "int64", optional: true, field: "txId" },
    { type: "int64", optional: true, field: "lsn" },
    { type: "int64", optional: true, field: "xmin" },
    { type: "string", optional: true, field: "origin" },
    { type: "int64", optional: true, field: "origin_lsn" }
  ],
  optional: false,
  name: "io.debezium.connector.postgresql.Source",
  version: 1,
  field: "source"
}

const transactionSchema = {
  type: "struct",
  fields: [
    { type: "string", optional: false, field: "id" },
    { type: "int64", optional: false, field: "total_order" },
    { type: "int64", optional: false, field: "data_collection_order" }
  ],
  optional: true,
  name: "event.block",
  version: 1,
  field: "transaction"
}

/** A field's schema in JsonConverter's key order: type, fields / items / keys and values, optional, the rest, field. */
const fieldSchema = (schema: ConnectSchema, name: string, optional: boolean) => {
  const { type, fields, items, keys, values, ...rest } = schema
  return {
    type,
    ...(fields === undefined ? {} : { fields }),
    ...(items === undefined ? {} : { items }),
    ...(keys === undefined ? {} : { keys, values }),
    optional,
    ...rest,
    field: name
  }
}

/**
 * Renders the key and value schemas of one (table, stream). `includeMask`
 * and `keyIndexes` are the TablePlan's; key columns are required fields,
 * every other column optional (pgoutput does not say which are NOT NULL).
 * `name` is the schema name prefix (the topic, like Debezium's
 * `<topic.prefix>.<schema>.<table>`); `server` goes in `source.name`.
 */
export const debeziumPlan = (options: {
  readonly relation: Relation
  readonly registry: TypeRegistry
  readonly includeMask: ReadonlyArray<boolean>
  readonly keyIndexes: ReadonlyArray<number>
  readonly name: string
  readonly server: string
  readonly database: string
  readonly columnFacts?: ReadonlyMap<string, ColumnFacts> | undefined
  /** false: payloads only, as JsonConverter with schemas.enable=false (the avro format reads them so). */
  readonly schemas?: boolean
  readonly modes?: DebeziumModes | undefined
}): DebeziumPlan => {
  const schemas = options.schemas ?? true
  const { relation, includeMask, keyIndexes } = options
  const types = relation.columns.map((c) => debeziumColumnType(options.registry, c.typeOid, c.typeMod, options.modes ?? defaultModes))
  const base = schemaName(options.name)
  const keySet = new Set(keyIndexes)
  // NOT NULL columns are required fields; a constant default goes into the schema as its value.
  const facts = relation.columns.map((c) => options.columnFacts?.get(c.name))
  const defaults = relation.columns.map((_, i) => {
    const expression = facts[i]?.defaultExpression
    const constant = expression === null || expression === undefined ? undefined : defaultConstant(expression)
    if (constant === undefined) return undefined
    try {
      return types[i]!.writer(constant)
    } catch {
      return undefined // a constant the column's writer does not read: no default, as Debezium when it cannot parse one
    }
  })
  const rowFields = relation.columns.flatMap((c, i) => {
    if (!includeMask[i]) return []
    const field = fieldSchema(types[i]!.schema, c.name, !keySet.has(i) && facts[i]?.notNull !== true)
    const fragment = defaults[i]
    if (fragment === undefined) return [field]
    const { field: fieldName, ...rest } = field
    return [{ ...rest, default: JSON.parse(fragment) as unknown, field: fieldName }]
  })
  const rowSchema = { type: "struct", fields: rowFields, optional: true, name: `${base}.Value` }
  const envelope = {
    type: "struct",
    fields: [
      { ...rowSchema, field: "before" },
      { ...rowSchema, field: "after" },
      sourceSchema,
      transactionSchema,
      { type: "string", optional: false, field: "op" },
      { type: "int64", optional: true, field: "ts_ms" },
      { type: "int64", optional: true, field: "ts_us" },
      { type: "int64", optional: true, field: "ts_ns" }
    ],
    optional: false,
    name: `${base}.Envelope`,
    version: 2
  }
  const keySchema = {
    type: "struct",
    fields: keyIndexes.map((i) => fieldSchema(types[i]!.schema, relation.columns[i]!.name, false)),
    optional: false,
    name: `${base}.Key`
  }
  return {
    writers: types.map((t) => t.writer),
    byteWriters: types.map((t) => t.byteWriter ?? byteWriterFor(t.writer)),
    placeholderBytes: types.map((t) => utf8Bytes(t.placeholder)),
    nullBytes: defaults.map((d) => utf8Bytes(d ?? "null")),
    bytes: types.map((t) => t.bytes),
    placeholders: types.map((t) => t.placeholder),
    nulls: defaults.map((d) => d ?? "null"),
    keyPrefix: schemas ? `{"schema":${JSON.stringify(keySchema)},"payload":` : "",
    keyPrefixBytes: Buffer.from(schemas ? `{"schema":${JSON.stringify(keySchema)},"payload":` : "", "utf8"),
    valuePrefixBytes: Buffer.from(schemas ? `{"schema":${JSON.stringify(envelope)},"payload":{"before":` : `{"before":`, "utf8"),
    keySuffix: schemas ? "}" : "",
    valuePrefix: schemas ? `{"schema":${JSON.stringify(envelope)},"payload":{"before":` : `{"before":`,
    valueSuffix: schemas ? "}}" : "}",
    keySchema,
    valueSchema: envelope,
    sourcePrefix: `{"version":"${SOURCE_VERSION}","connector":"postgresql","name":${jsonString(options.server)},"ts_ms":`,
    sourceMiddle: `,"db":${jsonString(options.database)},"sequence":"[`,
    sourceTable: `,"schema":${jsonString(relation.schema)},"table":${jsonString(relation.name)},"txId":`
  }
}

/** The plan of one table of one stream, from what the format layer knows of them (formats debezium and avro). */
export const debeziumPlanFor = (context: FormatContext, shape: TableShape, schemas: boolean): DebeziumPlan =>
  debeziumPlan({
    relation: shape.relation,
    registry: shape.types,
    includeMask: shape.includeMask,
    keyIndexes: shape.keyIndexes,
    name: shape.topic,
    columnFacts: shape.columnFacts,
    server: context.stream,
    database: context.database,
    schemas,
    modes: context.debezium
  })

/** `snapshot` values Debezium uses: "false" for streamed changes, "true" (or "incremental") for snapshot reads. */
export type SnapshotMarker = "false" | "true" | "incremental"

/**
 * The `source` object, fields in the order of Debezium's schema. `lsn` is
 * the change's own WAL position; `sequence` is `["<previous>","<lsn>"]`
 * where `previous` is the end of the previous transaction's commit, null for
 * the first transaction after streaming started (`previous` 0), as
 * Debezium's (measured side by side). `tsUs` is the commit time in microseconds (`ts_ms`,
 * `ts_us`, `ts_ns` are all derived from it). `txId` null for snapshot rows.
 */
export const debeziumSource = (
  plan: DebeziumPlan,
  snapshot: SnapshotMarker,
  tsUs: number,
  txId: number | null,
  previous: number,
  lsn: number
): string => {
  const [head, middle, tail] = debeziumSourceParts(plan, snapshot, tsUs, txId, previous)
  return head + lsn + middle + lsn + tail
}

/**
 * `source` around the change's LSN, which it holds twice (in `sequence` and
 * `lsn`): everything else depends on the table and the transaction, so
 * events written as bytes encode these parts once per transaction.
 */
export const debeziumSourceParts = (
  plan: DebeziumPlan,
  snapshot: SnapshotMarker,
  tsUs: number,
  txId: number | null,
  previous: number
): readonly [string, string, string] => [
  plan.sourcePrefix + Math.floor(tsUs / 1000) + ",\"snapshot\":\"" + snapshot + "\"" + plan.sourceMiddle +
  (previous === 0 ? "null,\\\"" : "\\\"" + previous + "\\\",\\\""),
  "\\\"]\",\"ts_us\":" + tsUs + ",\"ts_ns\":" + tsUs + "000" + plan.sourceTable + txId + ",\"lsn\":",
  ",\"xmin\":null,\"origin\":null,\"origin_lsn\":null}"
]

const opSuffix: Record<Op, string> = {
  c: `,"op":"c","ts_ms":`,
  u: `,"op":"u","ts_ms":`,
  d: `,"op":"d","ts_ms":`,
  r: `,"op":"r","ts_ms":`,
  t: `,"op":"t","ts_ms":`
}

/** The event value; `before`/`after` are the row payload object texts or "null"; `tsMs` the processing time. */
export const debeziumValue = (plan: DebeziumPlan, op: Op, before: string, after: string, source: string, tsMs: number): string =>
  plan.valuePrefix + before + ",\"after\":" + after + ",\"source\":" + source + ",\"transaction\":null" + debeziumValueTail(plan, op, tsMs)

/** The event value after `source` and `transaction`: the op and the processing time (`tsMs`). */
export const debeziumValueTail = (plan: DebeziumPlan, op: Op, tsMs: number): string =>
  opSuffix[op] + tsMs + ",\"ts_us\":" + tsMs + "000,\"ts_ns\":" + tsMs + "000000" + plan.valueSuffix

/** The Kafka key around the key columns' payload object text. */
export const debeziumKey = (plan: DebeziumPlan, payload: string): string => plan.keyPrefix + payload + plan.keySuffix

/** What Debezium's transaction metadata counts message events under (its own name carries a per-run object hash after `@`). */
export const DEBEZIUM_MESSAGE_COLLECTION = "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId"

const messageKeySchema = JSON.stringify({
  type: "struct",
  fields: [{ type: "string", optional: true, field: "prefix" }],
  optional: false,
  name: "io.debezium.connector.postgresql.MessageKey",
  version: 1
})

const messageValueSchema = JSON.stringify({
  type: "struct",
  fields: [
    { type: "string", optional: false, field: "op" },
    { type: "int64", optional: true, field: "ts_ms" },
    sourceSchema,
    transactionSchema,
    {
      type: "struct",
      fields: [
        { type: "string", optional: true, field: "prefix" },
        { type: "bytes", optional: true, field: "content" }
      ],
      optional: false,
      name: "io.debezium.connector.postgresql.Message",
      version: 1,
      field: "message"
    }
  ],
  optional: false,
  name: "io.debezium.connector.postgresql.MessageValue",
  version: 1
})

/**
 * A logical decoding message as Debezium's PostgreSQL connector writes it
 * (`message.prefix.include.list`), measured side by side: key `{prefix}`,
 * value `{op: "m", ts_ms, source, transaction, message: {prefix, content}}`
 * with `content` its bytes (base64 in JSON), under JsonConverter's schemas.
 * A non-transactional message's `source` has no txId, the last commit's
 * time, and its own LSN twice in `sequence`, as Debezium's.
 */
export const debeziumMessage = (options: {
  readonly server: string
  readonly database: string
  readonly prefix: string
  readonly content: Uint8Array
  readonly lsn: number
  /** The `sequence`'s first element: the previous commit's end, or (non-transactional) the message's own LSN. */
  readonly previous: number
  readonly tsUs: number
  readonly txId: number | null
  /** The `transaction` block, or "null". */
  readonly transaction: string
  readonly nowMs: number
}): { readonly key: string; readonly value: string } => {
  const prefix = jsonString(options.prefix)
  const source = `{"version":"${SOURCE_VERSION}","connector":"postgresql","name":${jsonString(options.server)},"ts_ms":${Math.floor(options.tsUs / 1000)},` +
    `"snapshot":"false","db":${jsonString(options.database)},"sequence":"[${options.previous === 0 ? "null" : `\\"${options.previous}\\"`},\\"${options.lsn}\\"]",` +
    `"ts_us":${options.tsUs},"ts_ns":${options.tsUs}000,"schema":"","table":"","txId":${options.txId},"lsn":${options.lsn},"xmin":null,"origin":null,"origin_lsn":null}`
  return {
    key: `{"schema":${messageKeySchema},"payload":{"prefix":${prefix}}}`,
    value: `{"schema":${messageValueSchema},"payload":{"op":"m","ts_ms":${options.nowMs},"source":${source},` +
      `"transaction":${options.transaction},"message":{"prefix":${prefix},"content":"${Buffer.from(options.content).toString("base64")}"}}}`
  }
}
