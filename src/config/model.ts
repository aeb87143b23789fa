/**
 * The decoded, typed configuration. `src/config/` turns `outboxx.toml` plus the
 * environment into this shape; every other module reads only this.
 * TOML keys are snake_case; fields here are their camelCase names.
 */
import type * as Duration from "effect/Duration"
import type * as Redacted from "effect/Redacted"

export type SnapshotMode = "initial" | "never" | "always" | "initial_only"
export type PublicationMode = "filtered" | "existing"
export type Compression = "none" | "gzip" | "snappy" | "lz4"
export type Delivery = "at-least-once" | "exactly-once"
/** Which Kafka client library the producer runs on (see docs/kafka.md). */
export type KafkaClientKind = "auto" | "platformatic" | "kafkajs"
export type Operation = "insert" | "update" | "delete" | "truncate"
/** The `format` a stream names; each is a module in src/event/formats/. */
export type FormatName = "outboxx" | "debezium"
export type LogLevel = "debug" | "info" | "warn" | "error"
export type LogFormat = "json" | "pretty"
/** What to do when the slot vanished while the journal holds a checkpoint. */
export type OnSlotLost = "fail" | "resnapshot"
/** What a stream does with a change Kafka rejects for good (e.g. over the size limit). */
export type OnError = "fail" | "dead_letter"

/** A table a stream captures; a bare name in the config means `public.<name>`. */
export interface TableRef {
  readonly schema: string
  readonly name: string
}

export interface PostgresSettings {
  readonly url: Redacted.Redacted<string>
  readonly slot: string
  readonly publication: string
  readonly publicationMode: PublicationMode
  readonly snapshot: SnapshotMode
  /** Rows per snapshot chunk (one keyset query, one journal entry). */
  readonly snapshotChunkSize: number
  /** Tables read at once, each on its own connection. */
  readonly snapshotParallelism: number
  /** Duration.zero disables the heartbeat. */
  readonly heartbeatInterval: Duration.Duration
  readonly statusInterval: Duration.Duration
  /** No bytes from the server for this long = the connection is lost (frozen peer). */
  readonly livenessTimeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
  /** Absent = "fail": refuse to start when the slot is gone but the journal holds a checkpoint. */
  readonly onSlotLost?: OnSlotLost
}

export interface KafkaSaslSettings {
  readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512"
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

export interface KafkaTlsSettings {
  readonly enabled: boolean
  /** Paths to PEM files. */
  readonly ca: string | undefined
  readonly cert: string | undefined
  readonly key: string | undefined
  readonly rejectUnauthorized: boolean
}

export interface KafkaSettings {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  /** The producer's client library; topic administration always uses kafkajs. */
  readonly client: KafkaClientKind
  readonly compression: Compression
  readonly delivery: Delivery
  /** Upper bound of one produce request, in bytes. */
  readonly batchMaxBytes: number
  /** How long a batch may wait to fill. */
  readonly linger: Duration.Duration
  /** Create missing topics through the admin API (else a missing topic is an error). */
  readonly createTopics: boolean
  readonly topicPartitions: number
  /** -1 = the broker's default. */
  readonly topicReplicationFactor: number
  readonly sasl: KafkaSaslSettings | undefined
  readonly tls: KafkaTlsSettings | undefined
}

export interface StateSettings {
  readonly dir: string
}

export interface HttpSettings {
  /** undefined when `listen = ""` (disabled). */
  readonly listen: { readonly host: string; readonly port: number } | undefined
}

export interface TracingSettings {
  readonly otlpEndpoint: string | undefined
  readonly sampleRatio: number
}

export interface LogSettings {
  readonly level: LogLevel
  readonly format: LogFormat
}

export interface StreamSettings {
  readonly name: string
  readonly tables: ReadonlyArray<TableRef>
  /** Template with `{schema}`, `{table}`, `{stream}` placeholders. */
  readonly topic: string
  readonly format: FormatName
  readonly operations: ReadonlySet<Operation>
  /** Kafka key columns; undefined = the replica identity / primary key. */
  readonly key: ReadonlyArray<string> | undefined
  readonly includeColumns: ReadonlyArray<string> | undefined
  readonly excludeColumns: ReadonlyArray<string>
  readonly tombstones: boolean
  readonly snapshot: boolean
  /** Absent = "fail". */
  readonly onError?: OnError
  /** Where "dead_letter" sends rejected changes; absent = `outboxx.dead_letter.<stream name>`. */
  readonly deadLetterTopic?: string
}

export interface OutboxxSettings {
  /** Absolute path of the file these settings came from. */
  readonly configPath: string
  readonly postgres: PostgresSettings
  readonly kafka: KafkaSettings
  readonly state: StateSettings
  readonly http: HttpSettings
  readonly tracing: TracingSettings
  readonly log: LogSettings
  readonly streams: ReadonlyArray<StreamSettings>
}
