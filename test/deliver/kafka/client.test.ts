import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import type { KafkaSettings } from "../../../src/config/model.js"
import { KafkaClient, resolveClient, tlsOptions } from "../../../src/deliver/kafka/KafkaClient.js"
import { resolveCompression } from "../../../src/deliver/kafka/kafkajs/client.js"
import { safeExtras } from "../../../src/deliver/kafka/kafkajs/log.js"

const settings = (overrides: Partial<KafkaSettings> = {}): KafkaSettings => ({
  brokers: ["127.0.0.1:9"],
  clientId: "t",
  client: "kafkajs",
  compression: "none",
  delivery: "at-least-once",
  batchMaxBytes: 1_048_576,
  linger: Duration.millis(5),
  createTopics: true,
  topicPartitions: 1,
  topicReplicationFactor: -1,
  sasl: undefined,
  tls: undefined,
  ...overrides
})

const buildError = (s: KafkaSettings) =>
  Effect.flip(
    Effect.gen(function*() {
      return yield* KafkaClient
    }).pipe(Effect.provide(KafkaClient.layerWith(s)))
  )

describe("KafkaClient", () => {
  it.effect("accepts none and gzip, refuses snappy and lz4 naming the package", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* resolveCompression("none"), 0)
      assert.strictEqual(yield* resolveCompression("gzip"), 1)
      const snappy = yield* Effect.flip(resolveCompression("snappy"))
      assert.strictEqual(snappy.path, "kafka.compression")
      assert.include(snappy.reason, "kafkajs-snappy")
      const lz4 = yield* Effect.flip(resolveCompression("lz4"))
      assert.include(lz4.reason, "kafkajs-lz4")
    }))

  it.effect("needs no codec package for snappy/lz4 when the producer is @platformatic/kafka", () =>
    Effect.gen(function*() {
      for (const compression of ["snappy", "lz4"] as const) {
        const client = yield* KafkaClient.pipe(
          Effect.provide(KafkaClient.layerWith(settings({ client: "platformatic", compression })))
        )
        assert.strictEqual(client.settings.compression, compression)
      }
      const refused = yield* buildError(settings({ client: "kafkajs", compression: "snappy" }))
      assert.strictEqual(refused.path, "kafka.compression")
    }))

  it.effect("accepts exactly-once and refuses an empty broker list at startup", () =>
    Effect.gen(function*() {
      const eos = yield* KafkaClient.pipe(Effect.provide(KafkaClient.layerWith(settings({ delivery: "exactly-once" }))))
      assert.strictEqual(eos.settings.delivery, "exactly-once")
      const none = yield* buildError(settings({ brokers: [] }))
      assert.strictEqual(none.path, "kafka.brokers")
    }))

  it.effect("reports an unreadable TLS file with its key path, and cert without key", () =>
    Effect.gen(function*() {
      const tls = { enabled: true, ca: "/nonexistent/ca.pem", cert: undefined, key: undefined, rejectUnauthorized: true }
      const missing = yield* Effect.flip(tlsOptions(tls))
      assert.strictEqual(missing.path, "kafka.tls.ca")
      assert.include(missing.reason, "/nonexistent/ca.pem")
      const disabled = yield* tlsOptions({ ...tls, enabled: false })
      assert.isUndefined(disabled)
      const half = yield* Effect.flip(tlsOptions({ ...tls, ca: undefined, cert: "/proc/self/cmdline" }))
      assert.strictEqual(half.path, "kafka.tls")
    }))
})

describe("kafkajs log fields", () => {
  it("keeps scalar context and drops anything that could be a secret", () => {
    const extras = safeExtras({
      timestamp: "t",
      message: "m",
      broker: "127.0.0.1:9092",
      retryCount: 2,
      sasl: { password: "pw" } as never,
      password: "pw",
      ssl: true,
      stack: "Error: ...",
      nested: { a: 1 } as never
    })
    assert.deepStrictEqual(extras, { broker: "127.0.0.1:9092", retryCount: 2 })
  })
})

describe("kafka.client resolution", () => {
  it.effect("auto takes platformatic where it runs, else kafkajs", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* resolveClient("auto", "24.21.0"), "platformatic")
      assert.strictEqual(yield* resolveClient("auto", "22.22.0"), "platformatic")
      assert.strictEqual(yield* resolveClient("auto", "22.19.0"), "kafkajs")
      assert.strictEqual(yield* resolveClient("auto", "24.5.0"), "kafkajs")
      assert.strictEqual(yield* resolveClient("kafkajs", "24.21.0"), "kafkajs")
    }))

  it.effect("auto falling back to kafkajs warns, naming the Node version; a chosen client does not", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: unknown }> = []
      const capture = Logger.layer([Logger.make((o) => void logs.push({ level: o.logLevel, message: o.message }))])
      yield* resolveClient("auto", "20.20.2").pipe(Effect.provide(capture))
      const warnings = logs.filter((l) => l.level === "Warn")
      assert.strictEqual(warnings.length, 1)
      assert.include(JSON.stringify(warnings[0]!.message), "Node 20.20.2")
      assert.include(JSON.stringify(warnings[0]!.message), "kafkajs is used")
      logs.length = 0
      yield* resolveClient("auto", "24.21.0").pipe(Effect.provide(capture))
      yield* resolveClient("kafkajs", "20.20.2").pipe(Effect.provide(capture))
      assert.deepStrictEqual(logs.filter((l) => l.level === "Warn"), [])
    }))

  it.effect("an explicit platformatic on a Node too old for it is a configuration error naming the key", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolveClient("platformatic", "22.19.0"))
      assert.strictEqual(error.path, "kafka.client")
      assert.include(error.reason, "22.19.0")
    }))
})
