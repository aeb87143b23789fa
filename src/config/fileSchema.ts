/**
 * The schema of `outboxx.toml` itself: snake_case keys exactly as written in
 * the file, so that schema issue paths are the user's key paths. Defaults are
 * applied here; `settingsFromFile` then renames to the camelCase model.
 *
 * Messages returned by filters have the form "expected <what>, found <what>"
 * and are shown to users as they are. Rules spanning several keys live in
 * crossChecks.ts, which runs on the raw tree so they are reported even when
 * some other key of the same stream is wrong.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { durationHint, formatDuration, parseDuration } from "./duration.js"
import { formatTable, parseTableName, tableNameHint } from "./tableName.js"
import { checkTopicTemplate } from "./topic.js"

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

const expecting = <T>(what: string, ok: (value: T) => boolean) =>
  Schema.makeFilter<T>((value) => ok(value) ? undefined : `expected ${what}, found ${describeValue(value)}`)

const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => (self: S) =>
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

const NonEmptyString = Schema.String.check(expecting("a non-empty string", (s: string) => s.length > 0))

const nonEmptyList = <S extends Schema.Top>(item: S, what: string) =>
  Schema.Array(item).check(
    Schema.makeFilter((items: ReadonlyArray<unknown>) =>
      items.length > 0 ? undefined : `expected at least one ${what}, found an empty list`
    )
  )

const DurationString = Schema.String.check(expecting(durationHint, (s: string) => parseDuration(s) !== undefined)).pipe(
  Schema.decodeTo(
    Schema.Duration,
    SchemaTransformation.transform({
      decode: (s: string) => parseDuration(s) ?? Duration.zero,
      encode: formatDuration
    })
  )
)

/**
 * A duration within [min, max] (`allowZero`: "0s" too, meaning "off").
 * Zero or absurd values are configuration errors: a zero liveness timeout is a
 * reconnect storm, a linger of years a snapshot never sent.
 */
const BoundedDuration = (min: string, max: string, allowZero = false) => {
  const lo = Duration.toMillis(parseDuration(min)!)
  const hi = Duration.toMillis(parseDuration(max)!)
  return DurationString.check(
    Schema.makeFilter((d: Duration.Duration) => {
      const ms = Duration.toMillis(d)
      if (allowZero && ms === 0) return undefined
      return ms >= lo && ms <= hi
        ? undefined
        : `expected a duration from ${min} to ${max}${allowZero ? ` (or "0s" to disable)` : ""}, found "${formatDuration(d)}"`
    })
  )
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
      decode: (s: string) => parseTableName(s) as { schema: string; name: string },
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
const PostgresUrl = secret(
  Schema.String.check(
    // The URL may hold a password: the message names only its scheme.
    Schema.makeFilter((s: string) => {
      if (!postgresUrl.test(s)) {
        const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(s)?.[0]
        return `expected a URL starting with postgres:// or postgresql://, found ${
          scheme === undefined ? "a value without a scheme" : `a URL starting with ${scheme}`
        }`
      }
      if (!URL.canParse(s)) return "expected a valid postgres:// URL, found one that does not parse"
      const sslmode = new URL(s).searchParams.get("sslmode")
      return sslmode === null || sslModes.includes(sslmode)
        ? undefined
        : `expected sslmode to be one of ${sslModes.join(", ")} (as libpq), found sslmode=${JSON.stringify(sslmode)}`
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
  publication_mode: oneOf(["filtered", "existing"]).pipe(withDefault("filtered")),
  snapshot: oneOf(["initial", "never", "always", "initial_only"]).pipe(withDefault("initial")),
  snapshot_chunk_size: SnapshotCount.pipe(withDefault(10000)),
  snapshot_parallelism: SnapshotCount.pipe(withDefault(4)),
  heartbeat_interval: BoundedDuration("100ms", "1d", true).pipe(withDefault("30s")),
  status_interval: BoundedDuration("10ms", "10m").pipe(withDefault("10s")),
  liveness_timeout: BoundedDuration("1s", "1d").pipe(withDefault("60s")),
  connect_timeout: BoundedDuration("100ms", "10m").pipe(withDefault("10s")),
  on_slot_lost: oneOf(["fail", "resnapshot"]).pipe(withDefault("fail"))
})

const Sasl = Schema.Struct({
  mechanism: oneOf(["plain", "scram-sha-256", "scram-sha-512"]),
  username: Schema.String,
  password: secret(Schema.String)
})

const Tls = Schema.Struct({
  enabled: Schema.Boolean.pipe(withDefault(true)),
  ca: Schema.optionalKey(NonEmptyString),
  cert: Schema.optionalKey(NonEmptyString),
  key: Schema.optionalKey(NonEmptyString),
  reject_unauthorized: Schema.Boolean.pipe(withDefault(true))
})

const PositiveInt = Schema.Number.check(
  expecting("a positive integer", (n: number) => Number.isSafeInteger(n) && n > 0)
)

const Kafka = Schema.Struct({
  brokers: nonEmptyList(Broker, "broker"),
  client_id: NonEmptyString.pipe(withDefault("outboxx")),
  client: oneOf(["auto", "platformatic", "kafkajs"]).pipe(withDefault("auto")),
  compression: oneOf(["none", "gzip", "snappy", "lz4"]).pipe(withDefault("none")),
  delivery: oneOf(["at-least-once", "exactly-once"]).pipe(withDefault("at-least-once")),
  batch_max_bytes: PositiveInt.pipe(withDefault(1048576)),
  linger: BoundedDuration("1ms", "1m", true).pipe(withDefault("0ms")),
  create_topics: Schema.Boolean.pipe(withDefault(true)),
  topic_partitions: PositiveInt.pipe(withDefault(1)),
  topic_replication_factor: Schema.Number.check(
    expecting("a positive integer or -1 (the broker's default)", (n: number) =>
      Number.isSafeInteger(n) && (n > 0 || n === -1))
  ).pipe(withDefault(-1)),
  sasl: Schema.optionalKey(Sasl),
  tls: Schema.optionalKey(Tls)
})

const State = Schema.Struct({ dir: NonEmptyString.pipe(withDefault(".outboxx")) })

const Http = Schema.Struct({ listen: HttpListen.pipe(withDefault("127.0.0.1:9464")) })

const Tracing = Schema.Struct({
  otlp_endpoint: Schema.optionalKey(
    Schema.String.check(
      expecting("an http:// or https:// URL", (s: string) => /^https?:\/\//.test(s) && URL.canParse(s))
    )
  ),
  sample_ratio: Schema.Number.check(
    expecting("a number between 0 and 1", (n: number) => Number.isFinite(n) && n >= 0 && n <= 1)
  ).pipe(withDefault(1))
})

const Log = Schema.Struct({
  level: oneOf(["debug", "info", "warn", "error"]).pipe(withDefault("info")),
  format: oneOf(["json", "pretty"]).pipe(withDefault("json"))
})

const ColumnList = Schema.Array(NonEmptyString)

const Stream = Schema.Struct({
  name: Schema.String.check(
    expecting(
      "a stream name of 1 to 63 letters, digits, _ or -, starting with a letter or digit",
      (s: string) => streamName.test(s)
    )
  ),
  tables: nonEmptyList(Table, "table"),
  topic: Schema.String.check(
    Schema.makeFilter((template: string) => {
      const problems = checkTopicTemplate(template)
      return problems.length === 0
        ? undefined
        : `expected a topic template using {schema}, {table} and {stream}, found ${JSON.stringify(template)} with ${
          problems.join(" and ")
        }`
    })
  ).pipe(withDefault("outboxx.{schema}.{table}")),
  format: oneOf(["outboxx", "debezium"]).pipe(withDefault("outboxx")),
  operations: nonEmptyList(oneOf(["insert", "update", "delete", "truncate"]), "operation").pipe(
    withDefault(["insert", "update", "delete", "truncate"])
  ),
  key: Schema.optionalKey(nonEmptyList(NonEmptyString, "key column")),
  include_columns: Schema.optionalKey(ColumnList),
  exclude_columns: Schema.optionalKey(ColumnList),
  tombstones: Schema.Boolean.pipe(withDefault(true)),
  snapshot: Schema.Boolean.pipe(withDefault(true)),
  on_error: oneOf(["fail", "dead_letter"]).pipe(withDefault("fail")),
  dead_letter_topic: Schema.optionalKey(NonEmptyString)
})

export const OutboxxFile = Schema.Struct({
  postgres: Postgres,
  kafka: Kafka,
  state: State.pipe(withDefault({})),
  http: Http.pipe(withDefault({})),
  tracing: Tracing.pipe(withDefault({})),
  log: Log.pipe(withDefault({})),
  streams: nonEmptyList(Stream, "stream ([[streams]])")
})

export type OutboxxFile = typeof OutboxxFile.Type
