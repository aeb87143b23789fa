/**
 * The decoded, typed configuration. `src/config/` turns `outboxx.toml` plus the
 * environment into this shape; every other module reads only this.
 * TOML keys are snake_case; fields here are their camelCase names.
 */
import type { KafkaFile, OutboxFile, OutboxTableFile, OutboxxFile, PostgresFile, SchemaRegistryFile, StreamFile } from "./fileSchema.js"

// The shapes are those the schema decodes to (fileSchema.ts, the one definition); these names are for readers.
export type PostgresSettings = PostgresFile
export type KafkaSettings = KafkaFile
export type KafkaSaslSettings = NonNullable<KafkaFile["sasl"]>
export type KafkaTlsSettings = NonNullable<KafkaFile["tls"]>
export type SchemaRegistrySettings = SchemaRegistryFile
export type StateSettings = OutboxxFile["state"]
export type HttpSettings = OutboxxFile["http"]
export type TracingSettings = OutboxxFile["tracing"]
export type LogSettings = OutboxxFile["log"]
export type StreamSettings = StreamFile
/** `[outbox]`: the WAL-message outbox (src/outbox/). */
export type OutboxSettings = OutboxFile
/** `[streams.outbox]`: an outbox table's columns (kind = "outbox"). */
export type OutboxTableSettings = OutboxTableFile
export type { TableRef } from "./tableName.js"

export type SnapshotMode = PostgresSettings["snapshot"]
export type PublicationMode = PostgresSettings["publicationMode"]
/** What to do when the slot vanished while the journal holds a checkpoint. */
export type OnSlotLost = PostgresSettings["onSlotLost"]
export type Compression = KafkaSettings["compression"]
export type Delivery = KafkaSettings["delivery"]
/** Which Kafka client library runs (see docs/kafka.md). */
export type KafkaClientKind = KafkaSettings["client"]
export type Operation = StreamSettings["operations"] extends ReadonlySet<infer O> ? O : never
/** The `format` a stream names; each is a module in src/event/formats/. */
export type FormatName = StreamSettings["format"]
/** Debezium's value-handling modes of a stream (formats "debezium" and "avro"). */
export type DebeziumSettings = StreamSettings["debezium"]
/** CloudEvents' content mode in Kafka (format "cloudevents"). */
export type CloudEventsMode = StreamSettings["cloudeventsMode"]
/** What a stream does with a change Kafka rejects for good (e.g. over the size limit). */
export type OnError = StreamSettings["onError"]
export type LogLevel = LogSettings["level"]
export type LogFormat = LogSettings["format"]

export interface OutboxxSettings extends OutboxxFile {
  /** Absolute path of the file these settings came from. */
  readonly configPath: string
}
