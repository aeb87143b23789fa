import { describe, expect, it } from "vitest"
import { decodeError, kafkaSection, minimal, postgresSection, streamSection } from "./fixtures.js"

interface BadCase {
  readonly name: string
  readonly text: string
  readonly env?: Record<string, string>
  readonly path: string
  readonly message: string
}

const withPostgres = (lines: string) => `${postgresSection}${lines}\n${kafkaSection}${streamSection}`
const withKafka = (lines: string) => `${postgresSection}${kafkaSection}${lines}\n${streamSection}`
const withStream = (lines: string) => `${postgresSection}${kafkaSection}${streamSection}${lines}\n`
const twoStreams = (second: string) => `${minimal()}[[streams]]\n${second}\n`

const cases: ReadonlyArray<BadCase> = [
  {
    name: "format avro without a schema registry",
    text: withStream(`format = "avro"`),
    path: "streams[0].format",
    message: "needs a [kafka.schema_registry] section"
  },
  {
    name: "a schema registry URL with credentials in it",
    text: withKafka(`[kafka.schema_registry]\nurl = "https://user:secret@registry.example:8081"`),
    path: "kafka.schema_registry.url",
    message: "without credentials"
  },
  {
    name: "unknown key in [postgres] with a hint",
    text: withPostgres(`statu_interval = "10s"`),
    path: "postgres.statu_interval",
    message: "did you mean `status_interval`?"
  },
  {
    name: "unknown top-level table with a hint",
    text: `${minimal()}[kafak]\nbrokers = []\n`,
    path: "kafak",
    message: "did you mean `kafka`?"
  },
  {
    name: "unknown key in a stream with a hint",
    text: withStream(`tabels = ["x"]`),
    path: "streams[0].tabels",
    message: "did you mean `tables`?"
  },
  {
    name: "camelCase key hints the snake_case one",
    text: withKafka(`clientId = "x"`),
    path: "kafka.clientId",
    message: "did you mean `client_id`?"
  },
  {
    name: "unknown key without a close match lists the known keys",
    text: withKafka(`zzzzzzzz = 1`),
    path: "kafka.zzzzzzzz",
    message: "expected one of `brokers`, `client_id`"
  },
  {
    name: "wrong type",
    text: withKafka(`create_topics = "yes"`),
    path: "kafka.create_topics",
    message: "expected true or false, found \"yes\""
  },
  {
    name: "enum value lists the allowed ones",
    text: withKafka(`compression = "zstd"`),
    path: "kafka.compression",
    message: "expected one of \"none\", \"gzip\", \"snappy\", \"lz4\", found \"zstd\""
  },
  {
    name: "snapshot mode enum",
    text: withPostgres(`snapshot = "sometimes"`),
    path: "postgres.snapshot",
    message: "expected one of \"initial\", \"never\", \"always\", \"initial_only\""
  },
  {
    name: "empty tables",
    text: `${postgresSection}${kafkaSection}[[streams]]\nname = "orders"\ntables = []\n`,
    path: "streams[0].tables",
    message: "expected at least one table, found an empty list"
  },
  {
    name: "no streams at all",
    text: `${postgresSection}${kafkaSection}`,
    path: "streams",
    message: "expected at least one [[streams]] table, found none"
  },
  {
    name: "empty streams list",
    text: `streams = []\n${postgresSection}${kafkaSection}`,
    path: "streams",
    message: "expected at least one stream"
  },
  {
    name: "duplicate stream names",
    text: twoStreams(`name = "orders"\ntables = ["public.customers"]`),
    path: "streams[1].name",
    message: "expected a unique stream name, found \"orders\" again"
  },
  {
    name: "duplicate table within a stream (bare name = public.<name>)",
    text: `${postgresSection}${kafkaSection}[[streams]]\nname = "orders"\ntables = ["public.orders", "orders"]\n`,
    path: "streams[0].tables[1]",
    message: "expected each table once, found public.orders again"
  },
  {
    name: "stream name syntax",
    text: twoStreams(`name = "my stream"\ntables = ["a"]`),
    path: "streams[1].name",
    message: "expected a stream name of 1 to 63 letters"
  },
  {
    name: "bad duration",
    text: withPostgres(`heartbeat_interval = "10 parsecs"`),
    path: "postgres.heartbeat_interval",
    message: "expected a duration like \"500ms\", \"10s\", \"5m\" or \"1h\", found \"10 parsecs\""
  },
  {
    name: "duration given as a number",
    text: withKafka(`linger = 5`),
    path: "kafka.linger",
    message: "expected a string, found 5"
  },
  {
    name: "unknown topic placeholder",
    text: twoStreams(`name = "s2"\ntables = ["a"]\ntopic = "cdc.{tabel}"`),
    path: "streams[1].topic",
    message: "unknown placeholder {tabel}"
  },
  {
    name: "topic template with characters Kafka forbids",
    text: withStream(`topic = "cdc/{table}"`),
    path: "streams[0].topic",
    message: "Kafka topic name rules"
  },
  {
    name: "topic invalid after substitution",
    text: `${postgresSection}${kafkaSection}[[streams]]\nname = "s"\ntables = ['"Weird Schema".orders']\n`,
    path: "streams[0].topic",
    message: "expected a valid Kafka topic name for table \"Weird Schema\".orders"
  },
  {
    name: "topic longer than 249 characters",
    text: withStream(`topic = "${"t".repeat(250)}"`),
    path: "streams[0].topic",
    message: "a topic name of 250 characters (Kafka allows 249)"
  },
  {
    name: "include and exclude columns together",
    text: withStream(`include_columns = ["a"]\nexclude_columns = ["b"]`),
    path: "streams[0].exclude_columns",
    message: "expected either include_columns or exclude_columns, found both"
  },
  {
    name: "empty brokers",
    text: `${postgresSection}[kafka]\nbrokers = []\n${streamSection}`,
    path: "kafka.brokers",
    message: "expected at least one broker, found an empty list"
  },
  {
    name: "broker without a port",
    text: `${postgresSection}[kafka]\nbrokers = ["127.0.0.1:9092", "localhost"]\n${streamSection}`,
    path: "kafka.brokers[1]",
    message: "expected a broker as \"host:port\", found \"localhost\""
  },
  {
    name: "broker port out of range",
    text: `${postgresSection}[kafka]\nbrokers = ["127.0.0.1:70000"]\n${streamSection}`,
    path: "kafka.brokers[0]",
    message: "expected a broker as \"host:port\""
  },
  {
    name: "bad http.listen",
    text: minimal(`[http]\nlisten = "9464"\n`),
    path: "http.listen",
    message: "expected \"host:port\" (or \"\" to disable), found \"9464\""
  },
  {
    name: "sample_ratio outside [0,1]",
    text: minimal(`[tracing]\nsample_ratio = 1.5\n`),
    path: "tracing.sample_ratio",
    message: "expected a number between 0 and 1, found 1.5"
  },
  {
    name: "postgres url with another scheme (and no secret in the message)",
    text: `[postgres]\nurl = "mysql://root:hunter2@127.0.0.1/shop"\n${kafkaSection}${streamSection}`,
    path: "postgres.url",
    message: "expected a URL starting with postgres:// or postgresql://, found a URL starting with mysql:"
  },
  {
    name: "missing postgres url",
    text: `[postgres]\nslot = "s"\n${kafkaSection}${streamSection}`,
    path: "postgres.url",
    message: "expected `url` to be set, found nothing"
  },
  {
    name: "slot name with uppercase letters",
    text: withPostgres(`slot = "Outboxx"`),
    path: "postgres.slot",
    message: "expected a slot name of 1 to 63 lowercase letters, digits or underscores, found \"Outboxx\""
  },
  {
    name: "slot name too long",
    text: withPostgres(`slot = "${"s".repeat(64)}"`),
    path: "postgres.slot",
    message: "expected a slot name of 1 to 63"
  },
  {
    name: "publication name syntax",
    text: withPostgres(`publication = "1pub"`),
    path: "postgres.publication",
    message: "expected a publication name"
  },
  {
    name: "missing environment variable",
    text: `[postgres]\nurl = "postgres://outboxx:\${PG_PASSWORD}@127.0.0.1/shop"\n${kafkaSection}${streamSection}`,
    path: "postgres.url",
    message: "environment variable PG_PASSWORD is not set"
  },
  {
    name: "missing environment variable inside an array",
    text: `${postgresSection}[kafka]\nbrokers = ["\${KAFKA_HOST}:9092"]\n${streamSection}`,
    path: "kafka.brokers[0]",
    message: "environment variable KAFKA_HOST is not set"
  },
  {
    name: "unknown operation",
    text: withStream(`operations = ["insert", "upsert"]`),
    path: "streams[0].operations[1]",
    message: "expected one of \"insert\", \"update\", \"delete\", \"truncate\", found \"upsert\""
  },
  {
    name: "empty operations",
    text: withStream(`operations = []`),
    path: "streams[0].operations",
    message: "expected at least one operation, found an empty list"
  },
  {
    name: "table name with too many dots",
    text: `${postgresSection}${kafkaSection}[[streams]]\nname = "s"\ntables = ["a.b.c"]\n`,
    path: "streams[0].tables[0]",
    message: "too many dots"
  },
  {
    name: "a table where a value belongs",
    text: withKafka(`[kafka.client_id]\nx = 1`),
    path: "kafka.client_id",
    message: "expected a string, found a table"
  },
  {
    name: "sasl without password, bad mechanism",
    text: minimal(`[kafka.sasl]\nmechanism = "md5"\nusername = "u"\n`),
    path: "kafka.sasl.mechanism",
    message: "expected one of \"plain\", \"scram-sha-256\", \"scram-sha-512\", found \"md5\""
  },
  {
    name: "tls key of the wrong type",
    text: minimal(`[kafka.tls]\nreject_unauthorized = "no"\n`),
    path: "kafka.tls.reject_unauthorized",
    message: "expected true or false"
  },
  {
    name: "replication factor of zero",
    text: withKafka(`topic_replication_factor = 0`),
    path: "kafka.topic_replication_factor",
    message: "expected a positive integer or -1"
  },
  {
    name: "log level enum",
    text: minimal(`[log]\nlevel = "verbose"\n`),
    path: "log.level",
    message: "expected one of \"debug\", \"info\", \"warn\", \"error\", found \"verbose\""
  },
  {
    name: "a zero liveness timeout (a reconnect storm)",
    text: withPostgres(`liveness_timeout = "0s"`),
    path: "postgres.liveness_timeout",
    message: `expected a duration from 1s to 1d, found "0ms"`
  },
  {
    name: "an absurd linger (the snapshot would never be sent)",
    text: withKafka(`linger = "99999999999d"`),
    path: "kafka.linger",
    message: `expected a duration from 1ms to 1m (or "0s" to disable)`
  },
  {
    name: "a zero status interval",
    text: withPostgres(`status_interval = "0s"`),
    path: "postgres.status_interval",
    message: "expected a duration from 10ms to 10m"
  },
  {
    name: "a dead-letter topic Kafka would reject",
    text: withStream(`on_error = "dead_letter"\ndead_letter_topic = "dead letters!"`),
    path: "streams[0].dead_letter_topic",
    message: "expected a valid Kafka topic name, found the topic name \"dead letters!\", which has characters Kafka does not allow"
  },
  {
    name: "an unknown sslmode",
    text: minimal().replace("postgres://outboxx@127.0.0.1:5432/shop", "postgres://outboxx@127.0.0.1:5432/shop?sslmode=verify"),
    path: "postgres.url",
    message: `expected sslmode to be one of disable, allow, prefer, require, verify-ca, verify-full (as libpq), found sslmode="verify"`
  }
]

describe("invalid configurations", () => {
  it("has at least 20 distinct cases", () => {
    expect(new Set(cases.map((c) => c.name)).size).toBeGreaterThanOrEqual(20)
  })

  it.each(cases)("$name -> $path", ({ env, message, path, text }) => {
    const error = decodeError(text, env ?? {})
    const matching = error.issues.filter((issue) => issue.path === path)
    expect(matching.map((issue) => issue.message), error.message).not.toHaveLength(0)
    expect(matching.some((issue) => issue.message.includes(message)), error.message).toBe(true)
    expect(error.message).toContain(`outboxx.toml: ${path}: `)
  })

  it("never puts the URL's password in the message", () => {
    const error = decodeError(`[postgres]\nurl = "mysql://root:hunter2@127.0.0.1/shop"\n${kafkaSection}${streamSection}`)
    expect(error.message).not.toContain("hunter2")
  })

  it("reports a TOML syntax error with line and column", () => {
    const error = decodeError(`[postgres]\nurl = \n`)
    expect(error.issues).toHaveLength(1)
    expect(error.issues[0].line).toBe(2)
    expect(error.issues[0].column).toBeGreaterThan(1)
    expect(error.message).toMatch(/^outboxx\.toml:2:\d+: invalid TOML: Expected a value$/)
  })

  it("collects every issue of the file in one error, in a line per issue", () => {
    const error = decodeError(`[postgres]
url = "http://x"
statu_interval = "10s"
heartbeat_interval = "soon"

[kafka]
brokers = []
compression = "zstd"

[kafak]

[[streams]]
name = "orders"
tables = []

[[streams]]
name = "orders"
tables = ["a"]
topic = "x.{tabel}"
`)
    const paths = error.issues.map((issue) => issue.path)
    // In the order the keys appear in the file.
    expect(paths).toEqual([
      "postgres.url",
      "postgres.statu_interval",
      "postgres.heartbeat_interval",
      "kafka.brokers",
      "kafka.compression",
      "kafak",
      "streams[0].tables",
      "streams[1].name",
      "streams[1].topic"
    ])
    const lines = error.message.split("\n")
    expect(lines).toHaveLength(error.issues.length)
    for (const line of lines) expect(line.startsWith("outboxx.toml: ")).toBe(true)
  })

  it("does not repeat a missing variable as a schema problem at the same key", () => {
    const error = decodeError(withStream(`topic = "\${TOPIC}"`))
    expect(error.issues.map((issue) => issue.path)).toEqual(["streams[0].topic"])
  })

  it("reports an unterminated ${ and accepts $${ as a literal", () => {
    const error = decodeError(withKafka(`client_id = "a\${b"`))
    expect(error.issues[0].path).toBe("kafka.client_id")
    expect(error.issues[0].message).toContain("unterminated `${`")
  })

  it("names the file in every line", () => {
    const error = decodeError(withKafka(`compression = "zstd"`), {}, "conf/prod.toml")
    expect(error.file).toBe("conf/prod.toml")
    expect(error.message).toBe(
      "conf/prod.toml: kafka.compression: expected one of \"none\", \"gzip\", \"snappy\", \"lz4\", found \"zstd\""
    )
  })

  it("is a tagged ConfigError", () => {
    const error = decodeError(withKafka(`compression = "zstd"`))
    expect(error._tag).toBe("ConfigError")
    expect(error).toBeInstanceOf(Error)
  })
})
