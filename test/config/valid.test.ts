import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { decodeOk, minimal } from "./fixtures.js"

const millis = (d: Duration.Duration) => Duration.toMillis(d)

describe("valid configurations", () => {
  it("fills every default from the interface sample", () => {
    const settings = decodeOk(minimal())
    const { kafka, postgres } = settings
    expect(settings.configPath).toBe("/etc/outboxx/outboxx.toml")
    expect(Redacted.value(postgres.url)).toBe("postgres://outboxx@127.0.0.1:5432/shop")
    expect(postgres.slot).toBe("outboxx")
    expect(postgres.publication).toBe("outboxx")
    expect(postgres.publicationMode).toBe("filtered")
    expect(postgres.snapshot).toBe("initial")
    expect(millis(postgres.heartbeatInterval)).toBe(30_000)
    expect(millis(postgres.statusInterval)).toBe(10_000)
    expect(millis(postgres.livenessTimeout)).toBe(60_000)
    expect(millis(postgres.connectTimeout)).toBe(10_000)
    expect(kafka.brokers).toEqual(["127.0.0.1:9092"])
    expect(kafka.clientId).toBe("outboxx")
    expect(kafka.compression).toBe("none")
    expect(kafka.delivery).toBe("at-least-once")
    expect(kafka.batchMaxBytes).toBe(1048576)
    expect(millis(kafka.linger)).toBe(0)
    expect(kafka.createTopics).toBe(true)
    expect(kafka.topicPartitions).toBe(1)
    expect(kafka.topicReplicationFactor).toBe(-1)
    expect(kafka.sasl).toBeUndefined()
    expect(kafka.tls).toBeUndefined()
    expect(settings.state.dir).toBe("/etc/outboxx/.outboxx")
    expect(settings.http.listen).toEqual({ host: "127.0.0.1", port: 9464 })
    expect(settings.tracing).toEqual({ otlpEndpoint: undefined, sampleRatio: 1 })
    expect(settings.log).toEqual({ level: "info", format: "json" })
    expect(settings.streams).toHaveLength(1)
    const [stream] = settings.streams
    expect(stream.name).toBe("orders")
    expect(stream.tables).toEqual([{ schema: "public", name: "orders" }])
    expect(stream.topic).toBe("outboxx.{schema}.{table}")
    expect(stream.format).toBe("outboxx")
    expect([...stream.operations].sort()).toEqual(["delete", "insert", "truncate", "update"])
    expect(stream.key).toBeUndefined()
    expect(stream.includeColumns).toBeUndefined()
    expect(stream.excludeColumns).toEqual([])
    expect(stream.tombstones).toBe(true)
    expect(stream.snapshot).toBe(true)
  })

  it("leaves truncates out of a Debezium format's default operations, as Debezium does, and keeps them when asked", () => {
    const stream = (lines: string) => decodeOk(minimal(lines)).streams[1]!
    const extra = (format: string, more = "") => `[[streams]]\nname = "x"\ntables = ["t"]\nformat = "${format}"\n${more}`
    expect([...stream(extra("debezium")).operations]).toEqual(["insert", "update", "delete"])
    expect([...stream(`[kafka.schema_registry]\nurl = "http://127.0.0.1:8081"\n` + extra("avro")).operations]).toEqual(["insert", "update", "delete"])
    expect([...stream(extra("debezium", `operations = ["insert", "truncate"]`)).operations]).toEqual(["insert", "truncate"])
    expect([...stream(extra("outboxx")).operations]).toEqual(["insert", "update", "delete", "truncate"])
    expect(stream(extra("debezium")).debezium).toEqual({
      decimalHandlingMode: "precise",
      timePrecisionMode: "adaptive",
      intervalHandlingMode: "numeric",
      hstoreHandlingMode: "json",
      binaryHandlingMode: "bytes",
      multidimensionalArrays: "null"
    })
  })

  it("decodes the root outboxx.toml cleanly", () => {
    const file = Path.resolve(import.meta.dirname, "../../outboxx.toml")
    const settings = decodeOk(readFileSync(file, "utf8"), {}, file)
    expect(settings.configPath).toBe(file)
    expect(settings.streams.map((s) => s.name)).toEqual(["orders"])
    expect(settings.streams[0].tables).toEqual([
      { schema: "public", name: "orders" },
      { schema: "public", name: "order_items" }
    ])
    expect(settings.streams[0].key).toEqual(["id"])
    expect(settings.streams[0].excludeColumns).toEqual(["card_number"])
    expect(settings.tracing.otlpEndpoint).toBe("http://127.0.0.1:4318")
    expect(settings.state.dir).toBe(Path.join(Path.dirname(file), ".outboxx"))
  })

  it("decodes every key when set explicitly", () => {
    const settings = decodeOk(`
[postgres]
url = "postgresql://u:pw@127.0.0.1:5433/db?sslmode=disable"
slot = "slot_2"
publication = "Pub_1"
publication_mode = "existing"
snapshot = "initial_only"
heartbeat_interval = "0s"
status_interval = "1.5s"
liveness_timeout = "2m"
connect_timeout = "500ms"

[kafka]
brokers = ["127.0.0.1:9092", "[::1]:9093", "kafka-1.local:19092"]
client_id = "shop-cdc"
compression = "lz4"
delivery = "exactly-once"
batch_max_bytes = 65536
linger = "0ms"
create_topics = false
topic_partitions = 6
topic_replication_factor = 3

[kafka.sasl]
mechanism = "scram-sha-512"
username = "cdc"
password = "s3cret"

[kafka.tls]
ca = "/etc/ssl/ca.pem"
reject_unauthorized = false

[state]
dir = "/var/lib/outboxx"

[http]
listen = ""

[tracing]
otlp_endpoint = "http://127.0.0.1:4318"
sample_ratio = 0.25

[log]
level = "debug"
format = "pretty"

[[streams]]
name = "orders"
tables = ["orders", "sales.Items", '"my.schema"."odd ""name"""', "MySchema.Orders"]
topic = "cdc_{stream}-all"
format = "debezium"
operations = ["insert", "delete"]
key = ["id", "tenant"]
include_columns = ["id", "status"]
tombstones = false
snapshot = false

[[streams]]
name = "audit"
tables = ["audit_log"]
exclude_columns = ["payload"]
`)
    const { kafka, postgres } = settings
    expect(Redacted.value(postgres.url)).toBe("postgresql://u:pw@127.0.0.1:5433/db?sslmode=disable")
    expect(postgres.slot).toBe("slot_2")
    expect(postgres.publication).toBe("Pub_1")
    expect(postgres.publicationMode).toBe("existing")
    expect(postgres.snapshot).toBe("initial_only")
    expect(Duration.isZero(postgres.heartbeatInterval)).toBe(true)
    expect(millis(postgres.statusInterval)).toBe(1_500)
    expect(millis(postgres.livenessTimeout)).toBe(120_000)
    expect(millis(postgres.connectTimeout)).toBe(500)
    expect(kafka.brokers).toEqual(["127.0.0.1:9092", "[::1]:9093", "kafka-1.local:19092"])
    expect(kafka.clientId).toBe("shop-cdc")
    expect(kafka.compression).toBe("lz4")
    expect(kafka.delivery).toBe("exactly-once")
    expect(kafka.batchMaxBytes).toBe(65536)
    expect(millis(kafka.linger)).toBe(0)
    expect(kafka.createTopics).toBe(false)
    expect(kafka.topicPartitions).toBe(6)
    expect(kafka.topicReplicationFactor).toBe(3)
    expect(kafka.sasl?.mechanism).toBe("scram-sha-512")
    expect(kafka.sasl?.username).toBe("cdc")
    expect(Redacted.value(kafka.sasl!.password)).toBe("s3cret")
    expect(kafka.tls).toEqual({
      enabled: true,
      ca: "/etc/ssl/ca.pem",
      cert: undefined,
      key: undefined,
      rejectUnauthorized: false
    })
    expect(settings.state.dir).toBe("/var/lib/outboxx")
    expect(settings.http.listen).toBeUndefined()
    expect(settings.tracing).toEqual({ otlpEndpoint: "http://127.0.0.1:4318", sampleRatio: 0.25 })
    expect(settings.log).toEqual({ level: "debug", format: "pretty" })
    const [orders, audit] = settings.streams
    expect(orders.tables).toEqual([
      { schema: "public", name: "orders" },
      { schema: "sales", name: "Items" },
      { schema: "my.schema", name: "odd \"name\"" },
      { schema: "MySchema", name: "Orders" }
    ])
    expect(orders.topic).toBe("cdc_{stream}-all")
    expect(orders.format).toBe("debezium")
    expect([...orders.operations]).toEqual(["insert", "delete"])
    expect(orders.key).toEqual(["id", "tenant"])
    expect(orders.includeColumns).toEqual(["id", "status"])
    expect(orders.excludeColumns).toEqual([])
    expect(orders.tombstones).toBe(false)
    expect(orders.snapshot).toBe(false)
    expect(audit.excludeColumns).toEqual(["payload"])
    expect(audit.includeColumns).toBeUndefined()
  })

  it("interpolates ${NAME} in every string value, including arrays, and keeps $${ literal", () => {
    const settings = decodeOk(
      `
[postgres]
url = "postgres://cdc:\${PG_PASSWORD}@\${PG_HOST}:5432/shop"
slot = "\${SLOT}"
[kafka]
brokers = ["\${KAFKA_HOST}:9092"]
client_id = "literal-$\${NOT_A_VAR}"
[[streams]]
name = "orders"
tables = ["\${SCHEMA}.orders"]
`,
      { PG_PASSWORD: "pw", PG_HOST: "127.0.0.1", SLOT: "slot_x", KAFKA_HOST: "127.0.0.1", SCHEMA: "sales" }
    )
    expect(Redacted.value(settings.postgres.url)).toBe("postgres://cdc:pw@127.0.0.1:5432/shop")
    expect(settings.postgres.slot).toBe("slot_x")
    expect(settings.kafka.brokers).toEqual(["127.0.0.1:9092"])
    expect(settings.kafka.clientId).toBe("literal-${NOT_A_VAR}")
    expect(settings.streams[0].tables).toEqual([{ schema: "sales", name: "orders" }])
  })

  it("lets OUTBOXX_POSTGRES_URL override postgres.url, even when the file has none", () => {
    const env = { OUTBOXX_POSTGRES_URL: "postgres://other@127.0.0.1:6543/db" }
    expect(Redacted.value(decodeOk(minimal(), env).postgres.url)).toBe("postgres://other@127.0.0.1:6543/db")
    const withoutUrl = `[postgres]\nslot = "s"\n[kafka]\nbrokers = ["127.0.0.1:9092"]\n[[streams]]\nname = "o"\ntables = ["o"]\n`
    expect(Redacted.value(decodeOk(withoutUrl, env).postgres.url)).toBe("postgres://other@127.0.0.1:6543/db")
  })

  it("the override also replaces a url whose variable is unset", () => {
    const text = minimal().replace("postgres://outboxx@127.0.0.1:5432/shop", "postgres://u:${PW}@127.0.0.1/shop")
    const settings = decodeOk(text, { PW: "x", OUTBOXX_POSTGRES_URL: "postgres://o@127.0.0.1/db" })
    expect(Redacted.value(settings.postgres.url)).toBe("postgres://o@127.0.0.1/db")
    // The variable is not needed at all when the override replaces the URL.
    const unset = decodeOk(text, { OUTBOXX_POSTGRES_URL: "postgres://o@127.0.0.1/db" })
    expect(Redacted.value(unset.postgres.url)).toBe("postgres://o@127.0.0.1/db")
  })

  it("resolves a relative state.dir against the config file's directory", () => {
    const settings = decodeOk(minimal(`[state]\ndir = "data/state"\n`), {}, "/srv/app/conf/outboxx.toml")
    expect(settings.state.dir).toBe("/srv/app/conf/data/state")
  })

  it("never shows secrets in String() or JSON", () => {
    const settings = decodeOk(
      minimal(`[kafka.sasl]\nmechanism = "plain"\nusername = "u"\npassword = "kafka-secret"\n`).replace(
        "postgres://outboxx@",
        "postgres://outboxx:pg-secret@"
      )
    )
    const shown = [
      String(settings.postgres.url),
      JSON.stringify(settings),
      String(settings.kafka.sasl?.password),
      `${settings.postgres.url}`
    ].join("\n")
    expect(shown).not.toContain("pg-secret")
    expect(shown).not.toContain("kafka-secret")
    expect(String(settings.postgres.url)).toBe("<redacted>")
  })

  it("accepts an http.listen port 0 (ephemeral) and IPv6 loopback", () => {
    expect(decodeOk(minimal(`[http]\nlisten = "127.0.0.1:0"\n`)).http.listen).toEqual({ host: "127.0.0.1", port: 0 })
    expect(decodeOk(minimal(`[http]\nlisten = "[::1]:9464"\n`)).http.listen).toEqual({ host: "::1", port: 9464 })
  })

  it("enables TLS with defaults when [kafka.tls] is present but empty", () => {
    const settings = decodeOk(minimal(`[kafka.tls]\n`))
    expect(settings.kafka.tls).toEqual({
      enabled: true,
      ca: undefined,
      cert: undefined,
      key: undefined,
      rejectUnauthorized: true
    })
  })
})
