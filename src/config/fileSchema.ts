/**
 * The one definition of the configuration: what `outboxx.toml` may hold
 * (snake_case keys, as the file has them: `Schema.encodeKeys` maps each to
 * its camelCase field, so issue paths are the user's key paths), its
 * defaults and rules, and the decoded shape every other module reads
 * (`typeof OutboxxFile.Type`; model.ts names its parts). decode.ts adds only
 * what needs the file's location (configPath, state.dir) and the default
 * dead-letter topic, which depends on the stream's name.
 *
 * Messages returned by filters have the form "expected <what>, found <what>"
 * and are shown to users as they are. Rules spanning several keys live in
 * crossChecks.ts, which runs on the raw tree so they are reported even when
 * some other key of the same stream is wrong.
 */
import { hostUrls, targetSessionAttrs } from "../postgres/connection.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { durationHint, formatDuration, parseDuration } from "./duration.js"
import { formatTable, parseTableName, type TableRef, tableNameHint } from "./tableName.js"
import { checkTopicName, checkTopicTemplate } from "./topic.js"

/** How a value is shown after "found" in messages. Never used for secrets. */
export const describeValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (value === null) return "null"
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list"
  if (value instanceof Date) return "a date-time"
  if (typeof value === "object") return "a table"
  return typeof value
}

export const expecting = <T>(what: string, ok: (value: T) => boolean) =>
  Schema.makeFilter<T>((value) => ok(value) ? undefined : `expected ${what}, found ${describeValue(value)}`)

export const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => (self: S) =>
  self.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

// A string check first, so a wrong value gets an "expected one of ..., found ..." message.
const oneOf = <const L extends ReadonlyArray<string>>(values: L) =>
  Schema.String.check(
    expecting(`one of ${values.map((v) => JSON.stringify(v)).join(", ")}`, (s: string) => values.includes(s))
  ).pipe(
    Schema.decodeTo(
      Schema.Literals(values),
      SchemaTransformation.transform({ decode: (s: string) => s as L[number], encode: (s: L[number]): string => s })
    )
  )

export const NonEmptyString = Schema.String.check(expecting("a non-empty string", (s: string) => s.length > 0))

const nonEmptyList = <S extends Schema.Top>(item: S, what: string) =>
  Schema.Array(item).check(
    Schema.makeFilter((items: ReadonlyArray<unknown>) =>
      items.length > 0 ? undefined : `expected at least one ${what}, found an empty list`
    )
  )

const toDuration = SchemaTransformation.transform({
  decode: (s: string) => parseDuration(s) ?? Duration.zero,
  encode: formatDuration
})

/**
 * A duration within [min, max] (`allowZero`: "0s" too, meaning "off").
 * Zero or absurd values are configuration errors: a zero liveness timeout is a
 * reconnect storm, a linger of years a snapshot never sent. Checked on the
 * text, before it becomes a Duration, so an issue names the file's key.
 */
export const BoundedDuration = (min: string, max: string, allowZero = false) => {
  const lo = Duration.toMillis(parseDuration(min)!)
  const hi = Duration.toMillis(parseDuration(max)!)
  return Schema.String.check(
    expecting(durationHint, (s: string) => parseDuration(s) !== undefined),
    Schema.makeFilter((s: string) => {
      const d = parseDuration(s)
      if (d === undefined) return undefined // reported by the check above
      const ms = Duration.toMillis(d)
      if (allowZero && ms === 0) return undefined
      return ms >= lo && ms <= hi
        ? undefined
        : `expected a duration from ${min} to ${max}${allowZero ? ` (or "0s" to disable)` : ""}, found "${formatDuration(d)}"`
    })
  ).pipe(Schema.decodeTo(Schema.Duration, toDuration))
}

const Table = Schema.String.check(
  Schema.makeFilter((s: string) => {
    const parsed = parseTableName(s)
    return typeof parsed === "string" ? `expected ${tableNameHint}, found ${JSON.stringify(s)}: ${parsed}` : undefined
  })
).pipe(
  Schema.decodeTo(
    Schema.Struct({ schema: Schema.String, name: Schema.String }),
    SchemaTransformation.transform({
      decode: (s: string) => parseTableName(s) as TableRef,
      encode: formatTable
    })
  )
)

const secret = (inner: Schema.Codec<string>) =>
  inner.pipe(
    Schema.decodeTo(
      Schema.Redacted(Schema.String),
      SchemaTransformation.transform({ decode: (s: string) => Redacted.make(s), encode: Redacted.value })
    )
  )

const postgresUrl = /^postgres(?:ql)?:\/\//
/** libpq's sslmode values (docs/configuration.md says what each does here). */
export const sslModes: ReadonlyArray<string> = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
export const PostgresUrl = secret(
  Schema.String.check(
    // The URL may hold a password: the message names only its scheme.
    Schema.makeFilter((s: string) => {
      if (!postgresUrl.test(s)) {
        const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(s)?.[0]
        return `expected a URL starting with postgres:// or postgresql://, found ${
          scheme === undefined ? "a value without a scheme" : `a URL starting with ${scheme}`
        }`
      }
      // Several hosts (libpq: h1:5432,h2:5433): each must make a valid one-host URL.
      const urls = hostUrls(s)
      if (!urls.every((one) => URL.canParse(one))) return "expected a valid postgres:// URL, found one that does not parse"
      const params = new URL(urls[0]!).searchParams
      const sslmode = params.get("sslmode")
      if (sslmode !== null && !sslModes.includes(sslmode)) {
        return `expected sslmode to be one of ${sslModes.join(", ")} (as libpq), found sslmode=${JSON.stringify(sslmode)}`
      }
      const attrs = params.get("target_session_attrs")
      return attrs === null || (targetSessionAttrs as ReadonlyArray<string>).includes(attrs)
        ? undefined
        : `expected target_session_attrs to be one of ${targetSessionAttrs.join(", ")} (as libpq), found ${JSON.stringify(attrs)}`
    })
  )
)

/** host:port with a port in 1..65535; IPv6 hosts in brackets. */
export const parseHostPort = (text: string, allowPortZero: boolean): { host: string; port: number } | undefined => {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(text)
  if (match === null) return undefined
  const port = Number(match[2])
  if (port > 65535 || (port === 0 && !allowPortZero)) return undefined
  return { host: match[1].startsWith("[") ? match[1].slice(1, -1) : match[1], port }
}

const Broker = Schema.String.check(
  expecting(`a broker as "host:port"`, (s: string) => parseHostPort(s, false) !== undefined)
)

const HttpListen = Schema.String.check(
  expecting(`"host:port" (or "" to disable)`, (s: string) => s === "" || parseHostPort(s, true) !== undefined)
)

const slotName = /^[a-z0-9_]{1,63}$/
const publicationName = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/
const streamName = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/

/** Defined here (not with PositiveInt below) because the Postgres struct uses it first. */
const SnapshotCount = Schema.Number.check(
  expecting("a positive integer", (n: number) => Number.isSafeInteger(n) && n > 0)
)

const Postgres = Schema.Struct({
  url: PostgresUrl,
  slot: Schema.String.check(
    expecting("a slot name of 1 to 63 lowercase letters, digits or underscores", (s: string) => slotName.test(s))
  ).pipe(withDefault("outboxx")),
  publication: Schema.String.check(
    expecting(
      "a publication name of 1 to 63 letters, digits, _ or $, not starting with a digit",
      (s: string) => publicationName.test(s)
    )
  ).pipe(withDefault("outboxx")),
  publicationMode: oneOf(["filtered", "existing"]).pipe(withDefault("filtered")),
  snapshot: oneOf(["initial", "never", "always", "initial_only"]).pipe(withDefault("initial")),
  /** Rows per snapshot chunk (one keyset query, one journal entry). */
  snapshotChunkSize: SnapshotCount.pipe(withDefault(10000)),
  /** Tables read at once, each on its own connection. */
  snapshotParallelism: SnapshotCount.pipe(withDefault(4)),
  /** "0s" (Duration.zero) disables the heartbeat. */
  heartbeatInterval: BoundedDuration("100ms", "1d", true).pipe(withDefault("30s")),
  statusInterval: BoundedDuration("10ms", "10m").pipe(withDefault("10s")),
  /** No bytes from the server for this long = the connection is lost (frozen peer). */
  livenessTimeout: BoundedDuration("1s", "1d").pipe(withDefault("60s")),
  connectTimeout: BoundedDuration("100ms", "10m").pipe(withDefault("10s")),
  /** What to do when the slot vanished while the journal holds a checkpoint. */
  onSlotLost: oneOf(["fail", "resnapshot"]).pipe(withDefault("fail")),
  /**
   * PostgreSQL 18+: publish stored generated columns (the publication's
   * `publish_generated_columns = stored`), so events and snapshots carry them.
   */
  publishGeneratedColumns: Schema.Boolean.pipe(withDefault(false)),
  /**
   * PostgreSQL 17+: the slot is a failover slot (`FAILOVER true`), which a
   * physical standby with `sync_replication_slots = on` keeps in step, so
   * streaming continues on the promoted standby.
   */
  slotFailover: Schema.Boolean.pipe(withDefault(false)),
  /**
   * Cluster mode: split the pipeline over this many slots, each publishing
   * (and snapshotting) the rows whose key hashes to it (postgres/shardFilter.ts).
   */
  shards: Schema.Number.check(
    expecting("an integer from 1 to 64", (n: number) => Number.isSafeInteger(n) && n >= 1 && n <= 64)
  ).pipe(withDefault(1))
}).pipe(Schema.encodeKeys({
  slotFailover: "slot_failover",
  publishGeneratedColumns: "publish_generated_columns",
  publicationMode: "publication_mode",
  snapshotChunkSize: "snapshot_chunk_size",
  snapshotParallelism: "snapshot_parallelism",
  heartbeatInterval: "heartbeat_interval",
  statusInterval: "status_interval",
  livenessTimeout: "liveness_timeout",
  connectTimeout: "connect_timeout",
  onSlotLost: "on_slot_lost"
}))

const Sasl = Schema.Struct({
  mechanism: oneOf(["plain", "scram-sha-256", "scram-sha-512"]),
  username: Schema.String,
  password: secret(Schema.String)
})

const Tls = Schema.Struct({
  enabled: Schema.Boolean.pipe(withDefault(true)),
  ca: Schema.optional(NonEmptyString),
  cert: Schema.optional(NonEmptyString),
  key: Schema.optional(NonEmptyString),
  rejectUnauthorized: Schema.Boolean.pipe(withDefault(true))
}).pipe(Schema.encodeKeys({ rejectUnauthorized: "reject_unauthorized" }))

export const PositiveInt = Schema.Number.check(
  expecting("a positive integer", (n: number) => Number.isSafeInteger(n) && n > 0)
)

const RegistryTls = Schema.Struct({
  ca: Schema.optional(NonEmptyString),
  cert: Schema.optional(NonEmptyString),
  key: Schema.optional(NonEmptyString),
  rejectUnauthorized: Schema.Boolean.pipe(withDefault(true))
}).pipe(Schema.encodeKeys({ rejectUnauthorized: "reject_unauthorized" }))

/** A Confluent-compatible schema registry (format "avro"; docs/formats.md). */
const SchemaRegistry = Schema.Struct({
  /** The API root: Confluent's, or Apicurio's `/apis/ccompat/v7`. May carry no credentials. */
  url: Schema.String.check(
    expecting("an http:// or https:// URL without credentials (use username and password)", (s: string) =>
      /^https?:\/\//.test(s) && URL.canParse(s) && new URL(s).username === "" && new URL(s).password === "")
  ),
  username: Schema.optional(NonEmptyString),
  password: Schema.optional(secret(Schema.String)),
  /** How subjects are named, as Confluent's serializers: TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy. */
  subjectNameStrategy: oneOf(["topic", "record", "topic_record"]).pipe(withDefault("topic")),
  requestTimeout: BoundedDuration("100ms", "10m").pipe(withDefault("30s")),
  tls: Schema.optional(RegistryTls)
}).pipe(Schema.encodeKeys({ subjectNameStrategy: "subject_name_strategy", requestTimeout: "request_timeout" }))

const Kafka = Schema.Struct({
  brokers: nonEmptyList(Broker, "broker"),
  clientId: NonEmptyString.pipe(withDefault("outboxx")),
  /** The client library (docs/kafka.md). */
  client: oneOf(["auto", "platformatic", "kafkajs"]).pipe(withDefault("auto")),
  compression: oneOf(["none", "gzip", "snappy", "lz4"]).pipe(withDefault("none")),
  delivery: oneOf(["at-least-once", "exactly-once"]).pipe(withDefault("at-least-once")),
  /** Upper bound of one produce request, in bytes. */
  batchMaxBytes: PositiveInt.pipe(withDefault(1048576)),
  /** How long a batch may wait to fill. */
  linger: BoundedDuration("1ms", "1m", true).pipe(withDefault("0ms")),
  /** Create missing topics through the admin API (else a missing topic is an error). */
  createTopics: Schema.Boolean.pipe(withDefault(true)),
  topicPartitions: PositiveInt.pipe(withDefault(1)),
  /** -1 = the broker's default. */
  topicReplicationFactor: Schema.Number.check(
    expecting("a positive integer or -1 (the broker's default)", (n: number) =>
      Number.isSafeInteger(n) && (n > 0 || n === -1))
  ).pipe(withDefault(-1)),
  sasl: Schema.optional(Sasl),
  tls: Schema.optional(Tls),
  /** Where format "avro" registers its schemas. */
  schemaRegistry: Schema.optional(SchemaRegistry)
}).pipe(Schema.encodeKeys({
  schemaRegistry: "schema_registry",
  clientId: "client_id",
  batchMaxBytes: "batch_max_bytes",
  createTopics: "create_topics",
  topicPartitions: "topic_partitions",
  topicReplicationFactor: "topic_replication_factor"
}))

const sqlIdentifier = /^[a-z_][a-z0-9_]{0,62}$/
const State = Schema.Struct({
  dir: NonEmptyString.pipe(withDefault(".outboxx")),
  /**
   * "file": the journal in `dir`, for one instance. "postgres": a table every
   * instance of the pipeline reaches, so a standby resumes where the active
   * one stopped (state/PostgresJournal.ts).
   */
  backend: oneOf(["file", "postgres"]).pipe(withDefault("file")),
  /** The server holding the "postgres" backend's table; default postgres.url (it must be writable). */
  url: Schema.optional(PostgresUrl),
  /** The schema of the "postgres" backend's table (created when missing). */
  schema: Schema.String.check(
    expecting("a schema name of 1 to 63 lowercase letters, digits or underscores", (s: string) => sqlIdentifier.test(s))
  ).pipe(withDefault("outboxx_state"))
})

export const Http = Schema.Struct({
  /** undefined when `listen = ""` (disabled). */
  listen: HttpListen.pipe(
    Schema.decodeTo(
      Schema.UndefinedOr(Schema.Struct({ host: Schema.String, port: Schema.Number })),
      SchemaTransformation.transform({
        decode: (s: string) => (s === "" ? undefined : parseHostPort(s, true)),
        encode: (listen) => (listen === undefined ? "" : `${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${listen.port}`)
      })
    ),
    withDefault("127.0.0.1:9464")
  )
})

export const Tracing = Schema.Struct({
  otlpEndpoint: Schema.optional(
    Schema.String.check(
      expecting("an http:// or https:// URL", (s: string) => /^https?:\/\//.test(s) && URL.canParse(s))
    )
  ),
  sampleRatio: Schema.Number.check(
    expecting("a number between 0 and 1", (n: number) => Number.isFinite(n) && n >= 0 && n <= 1)
  ).pipe(withDefault(1))
}).pipe(Schema.encodeKeys({ otlpEndpoint: "otlp_endpoint", sampleRatio: "sample_ratio" }))

export const Log = Schema.Struct({
  level: oneOf(["debug", "info", "warn", "error"]).pipe(withDefault("info")),
  format: oneOf(["json", "pretty"]).pipe(withDefault("json"))
})

const ColumnList = Schema.Array(NonEmptyString)

/** Debezium's value-handling modes, named as its connector properties (formats "debezium" and "avro"). */
const DebeziumModes = Schema.Struct({
  decimalHandlingMode: oneOf(["precise", "double", "string"]).pipe(withDefault("precise")),
  timePrecisionMode: oneOf(["adaptive", "adaptive_time_microseconds", "connect"]).pipe(withDefault("adaptive")),
  intervalHandlingMode: oneOf(["numeric", "string"]).pipe(withDefault("numeric")),
  hstoreHandlingMode: oneOf(["json", "map"]).pipe(withDefault("json")),
  binaryHandlingMode: oneOf(["bytes", "base64", "base64-url-safe", "hex"]).pipe(withDefault("bytes")),
  /** A value of more than one dimension under Debezium's one-dimensional array schema: "null" per sub-array (Debezium) or "fail". */
  multidimensionalArrays: oneOf(["null", "fail"]).pipe(withDefault("null"))
}).pipe(Schema.encodeKeys({
  multidimensionalArrays: "multidimensional_arrays",
  decimalHandlingMode: "decimal_handling_mode",
  timePrecisionMode: "time_precision_mode",
  intervalHandlingMode: "interval_handling_mode",
  hstoreHandlingMode: "hstore_handling_mode",
  binaryHandlingMode: "binary_handling_mode"
}))

/** `[streams.outbox]`: which columns of an outbox table make the event; the defaults are Debezium EventRouter's. */
const OutboxTable = Schema.Struct({
  /** The event id, sent as the header `id` (consumers deduplicate on it). */
  id: NonEmptyString.pipe(withDefault("id")),
  /** The Kafka key. */
  key: NonEmptyString.pipe(withDefault("aggregateid")),
  /** The Kafka value: json/jsonb as its JSON text, text as UTF-8, bytea as its bytes. */
  payload: NonEmptyString.pipe(withDefault("payload")),
  /** More columns sent as headers (header name = column name). */
  headers: Schema.Array(NonEmptyString).pipe(withDefault([]))
})

const operations = ["insert", "update", "delete", "truncate"] as const
type Operation = (typeof operations)[number]

const Stream = Schema.Struct({
  name: Schema.String.check(
    expecting(
      "a stream name of 1 to 63 letters, digits, _ or -, starting with a letter or digit",
      (s: string) => streamName.test(s)
    )
  ),
  tables: nonEmptyList(Table, "table"),
  /**
   * Template with `{schema}`, `{table}`, `{stream}` placeholders; an outbox
   * stream's may name columns too (`{aggregatetype}`), so which placeholders
   * are known is checked with the stream's kind (crossChecks.ts).
   */
  topic: Schema.String.check(
    Schema.makeFilter((template: string) => {
      const problems = checkTopicTemplate(template, "columns")
      return problems.length === 0
        ? undefined
        : `expected a topic template using {schema}, {table} and {stream}, found ${JSON.stringify(template)} with ${
          problems.join(" and ")
        }`
    })
  ).pipe(withDefault("outboxx.{schema}.{table}")),
  /** "changes": change events of the tables; "outbox": each insert into an outbox table is an event (Debezium's EventRouter). */
  kind: oneOf(["changes", "outbox"]).pipe(withDefault("changes")),
  /** `[streams.outbox]`: an outbox table's columns (kind = "outbox"). */
  outbox: OutboxTable.pipe(withDefault({})),
  format: oneOf(["outboxx", "debezium", "avro", "cloudevents"]).pipe(withDefault("outboxx")),
  /** CloudEvents Kafka binding content mode (format "cloudevents"). */
  cloudeventsMode: oneOf(["structured", "binary"]).pipe(withDefault("structured")),
  /** `[streams.debezium]`: Debezium's value-handling modes (formats "debezium" and "avro"). */
  debezium: DebeziumModes.pipe(withDefault({})),
  operations: nonEmptyList(oneOf(operations), "operation").pipe(
    Schema.decodeTo(
      Schema.ReadonlySet(Schema.Literals(operations)),
      SchemaTransformation.transform({
        decode: (list: ReadonlyArray<Operation>): ReadonlySet<Operation> => new Set(list),
        encode: (set: ReadonlySet<Operation>): ReadonlyArray<Operation> => [...set]
      })
    ),
    withDefault([...operations])
  ),
  /** Kafka key columns; absent = the primary key / replica identity. */
  key: Schema.optional(nonEmptyList(NonEmptyString, "key column")),
  includeColumns: Schema.optional(ColumnList),
  excludeColumns: ColumnList.pipe(withDefault([])),
  tombstones: Schema.Boolean.pipe(withDefault(true)),
  snapshot: Schema.Boolean.pipe(withDefault(true)),
  /**
   * Transaction metadata: a BEGIN and an END event on this topic for every
   * source transaction with events of the stream, and a `transaction` block
   * in each of its change events; absent = off.
   */
  transactionTopic: Schema.optional(
    Schema.String.check(expecting("a Kafka topic name", (s: string) => checkTopicName(s) === undefined))
  ),
  /**
   * Logical decoding messages (pg_logical_emit_message) whose prefix is one
   * of these names or globs become `op: "m"` events on `messages_topic`;
   * default none.
   */
  messages: Schema.Array(NonEmptyString).pipe(withDefault([])),
  /** Where the stream's message events go; decode.ts fills in `outboxx.messages.<stream name>`. */
  messagesTopic: Schema.optional(
    Schema.String.check(expecting("a Kafka topic name", (s: string) => checkTopicName(s) === undefined))
  ),
  /** What the stream does with a change Kafka rejects for good (e.g. over the size limit). */
  onError: oneOf(["fail", "dead_letter"]).pipe(withDefault("fail")),
  /** Where "dead_letter" sends rejected changes; decode.ts fills in `outboxx.dead_letter.<stream name>`. */
  deadLetterTopic: Schema.optional(NonEmptyString)
}).pipe(Schema.encodeKeys({
  includeColumns: "include_columns",
  excludeColumns: "exclude_columns",
  onError: "on_error",
  deadLetterTopic: "dead_letter_topic",
  transactionTopic: "transaction_topic",
  messagesTopic: "messages_topic",
  cloudeventsMode: "cloudevents_mode"
}))

/** A topic name or a glob of them (`*` any run of characters, `?` one), for `[outbox] topics`. */
const TopicGlob = Schema.String.check(
  expecting(
    "a topic name or glob: letters, digits, \".\", \"_\", \"-\", and \"*\" or \"?\" as wildcards",
    (s: string) => /^[A-Za-z0-9._*?-]{1,249}$/.test(s)
  )
)

/** `[outbox]`: the WAL-message outbox (`outboxx.publish`); absent = this pipeline does not deliver published messages. */
const Outbox = Schema.Struct({
  /** The destinations a published message may name; any other goes to the dead-letter topic. */
  topics: Schema.Array(TopicGlob).pipe(withDefault([])),
  deadLetterTopic: Schema.String.check(
    expecting("a Kafka topic name", (s: string) => checkTopicName(s) === undefined)
  ).pipe(withDefault("outboxx.dead_letter.outbox"))
}).pipe(Schema.encodeKeys({ deadLetterTopic: "dead_letter_topic" }))

export const OutboxxFile = Schema.Struct({
  postgres: Postgres,
  kafka: Kafka,
  state: State.pipe(withDefault({})),
  http: Http.pipe(withDefault({})),
  tracing: Tracing.pipe(withDefault({})),
  log: Log.pipe(withDefault({})),
  outbox: Schema.optional(Outbox),
  streams: nonEmptyList(Stream, "stream ([[streams]])")
})

export type OutboxxFile = typeof OutboxxFile.Type
export type PostgresFile = typeof Postgres.Type
export type KafkaFile = typeof Kafka.Type
export type StreamFile = typeof Stream.Type
export type OutboxFile = typeof Outbox.Type
export type OutboxTableFile = typeof OutboxTable.Type
export type SchemaRegistryFile = typeof SchemaRegistry.Type
