/**
 * KafkaProducer and TopicAdmin against the real dev broker (dev/up.sh), for
 * both producer backends (`kafka.client`).
 */
import { createServer } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import { Consumer, stringDeserializers } from "@platformatic/kafka"
import kafkajs from "kafkajs"
import type { KafkaSettings } from "../../src/config/model.js"
import type { KafkaSendError } from "../../src/deliver/kafka/errors.js"
import { KafkaClient } from "../../src/deliver/kafka/KafkaClient.js"
import { KafkaProducer, type OutRecord } from "../../src/deliver/kafka/KafkaProducer.js"
import { keyPartition } from "../../src/deliver/kafka/platformatic/murmur2.js"
import { TopicAdmin } from "../../src/deliver/kafka/TopicAdmin.js"
import { kafkaSettings } from "../support/kafkaSettings.js"
import { SlabRecord } from "../../src/event/record/SlabRecord.js"
import { kafkaBrokers, readTopic, uniqueName } from "../support/servers.js"

/** Lists topics with a plain kafkajs admin (independent of the code under test). */
const listTopics = () =>
  Effect.promise(async () => {
    const admin = new kafkajs.Kafka({ brokers: kafkaBrokers(), logLevel: kafkajs.logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      return await admin.listTopics()
    } finally {
      await admin.disconnect()
    }
  })

/**
 * Reads a topic with @platformatic/kafka's consumer: the kafkajs-based readTopic
 * has no snappy/lz4 codec and would see nothing.
 */
const readValuesWithPlatformatic = (topic: string, count: number) =>
  Effect.promise(async () => {
    const consumer = new Consumer({
      groupId: uniqueName("outboxx-kp-reader"),
      clientId: "outboxx-test-reader",
      bootstrapBrokers: kafkaBrokers(),
      deserializers: stringDeserializers
    })
    const values: Array<string | undefined> = []
    try {
      const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false })
      const deadline = setTimeout(() => void stream.close(), 30_000)
      for await (const message of stream) {
        values.push(message.value)
        if (values.length >= count) break
      }
      clearTimeout(deadline)
      await stream.close()
    } finally {
      await consumer.close(true)
    }
    return values
  })

/** A loopback port nobody listens on. */
const unusedPort = () =>
  Effect.promise(
    () =>
      new Promise<number>((resolve, reject) => {
        const server = createServer()
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          server.close(() => resolve(port))
        })
      })
  )

/** The send error of a failed send (the layer itself must have built). */
const sendError = (error: { readonly _tag: string }): KafkaSendError => {
  assert.strictEqual(error._tag, "KafkaSendError", String(error))
  return error as KafkaSendError
}

const sendWith = (settings: KafkaSettings, records: ReadonlyArray<OutRecord>) =>
  Effect.gen(function*() {
    const producer = yield* KafkaProducer
    return yield* producer.send(records)
  }).pipe(Effect.provide(KafkaProducer.layerWith(settings)))

describe.each(["platformatic", "kafkajs"] as const)("KafkaProducer on %s", (client) => {
  it.live("sends 10,000 records across 2 new topics and keeps per-key order", () =>
    Effect.gen(function*() {
      const topics = [uniqueName("outboxx-kp-a"), uniqueName("outboxx-kp-b")]
      const keys = 50
      const records: Array<OutRecord> = []
      for (let i = 0; i < 10_000; i++) {
        records.push({
          topic: topics[i % 2]!,
          key: `{"id":${i % keys}}`,
          value: JSON.stringify({ seq: i, pad: "p".repeat(200) })
        })
      }
      // Small requests so the send spans many produce requests.
      yield* sendWith(kafkaSettings(client, { batchMaxBytes: 64 * 1024 }), records)

      for (const topic of topics) {
        const read = yield* Effect.promise(() => readTopic(topic, { count: 5_000, timeoutMs: 60_000 }))
        assert.strictEqual(read.length, 5_000, topic)
        const lastSeqPerKey = new Map<string, number>()
        const partitionPerKey = new Map<string, number>()
        for (const message of read) {
          const key = message.key!
          const seq = (JSON.parse(message.value!) as { seq: number }).seq
          const previous = lastSeqPerKey.get(key) ?? -1
          assert.isAbove(seq, previous, `order of key ${key}`)
          lastSeqPerKey.set(key, seq)
          const partition = partitionPerKey.get(key) ?? message.partition
          assert.strictEqual(message.partition, partition, `key ${key} stays on one partition`)
          // The Java client's murmur2 partition, whichever backend wrote it.
          assert.strictEqual(message.partition, keyPartition(Buffer.from(key), 3), `partition of key ${key}`)
          partitionPerKey.set(key, partition)
        }
        assert.strictEqual(lastSeqPerKey.size, keys / 2)
        // More than one partition in use: the topic was created with topicPartitions = 3.
        assert.isAbove(new Set(partitionPerKey.values()).size, 1)
      }
    }), 120_000)

  it.live("round-trips headers, null values and Buffer keys", () =>
    Effect.gen(function*() {
      const topic = uniqueName("outboxx-kp-headers")
      yield* sendWith(kafkaSettings(client, { topicPartitions: 1 }), [
        { topic, key: "k1", value: "v1", headers: { "outboxx.lsn": "0/16B3748", "content-type": "application/json" } },
        { topic, key: Buffer.from("k2"), value: null }
      ])
      const read = yield* Effect.promise(() => readTopic(topic, { count: 2, timeoutMs: 30_000 }))
      assert.strictEqual(read.length, 2)
      assert.strictEqual(read[0]!.key, "k1")
      assert.strictEqual(read[0]!.value, "v1")
      const headers = read[0]!.headers as Record<string, unknown>
      assert.strictEqual(String(headers["outboxx.lsn"]), "0/16B3748")
      assert.strictEqual(String(headers["content-type"]), "application/json")
      assert.strictEqual(read[1]!.key, "k2")
      assert.isNull(read[1]!.value)
    }), 60_000)

  it.live("delivers large slab records intact (their bytes are referenced in the batch, not copied) beside small ones", () =>
    Effect.gen(function*() {
      const topic = uniqueName("outboxx-kp-large")
      // Two values over the 64 KB past which the batch references a record's bytes, inside one slab.
      const slab = Buffer.alloc(700_000)
      for (let i = 0; i < slab.length; i++) slab[i] = 97 + (i % 26)
      const records = [
        SlabRecord.make(topic, Buffer.from("k1"), 0, 2, slab, 0, 300_000),
        SlabRecord.make(topic, Buffer.from("k2"), 0, 2, slab, 10, 20),
        SlabRecord.make(topic, Buffer.from("k3"), 0, 2, slab, 300_000, 400_000)
      ]
      yield* sendWith(kafkaSettings(client, { topicPartitions: 1 }), records)
      const read = yield* Effect.promise(() => readTopic(topic, { count: 3, timeoutMs: 30_000 }))
      assert.deepStrictEqual(read.map((r) => r.key), ["k1", "k2", "k3"])
      assert.strictEqual(read[0]!.value, slab.toString("latin1", 0, 300_000))
      assert.strictEqual(read[1]!.value, slab.toString("latin1", 10, 30))
      assert.strictEqual(read[2]!.value, slab.toString("latin1", 300_000, 700_000))
    }), 60_000)

  it.live("with create_topics off, a missing topic fails clearly, is not retryable and nothing is sent", () =>
    Effect.gen(function*() {
      const topic = uniqueName("outboxx-kp-missing")
      const error = sendError(
        yield* Effect.flip(sendWith(kafkaSettings(client, { createTopics: false }), [{ topic, key: "k", value: "v" }]))
      )
      assert.isFalse(error.retryable)
      assert.deepStrictEqual(error.topics, [topic])
      assert.strictEqual(error.acknowledged, 0)
      assert.include(error.message, topic)
      assert.include(error.message, "kafka.create_topics = true")
      // The broker has auto.create.topics.enable=true; the topic must still not exist.
      const topics = yield* listTopics()
      assert.notInclude(topics, topic)
    }), 60_000)

  it.live("an unreachable broker fails retryable within a bounded time", () =>
    Effect.gen(function*() {
      const port = yield* unusedPort()
      const started = Date.now()
      const error = sendError(
        yield* Effect.flip(
          sendWith(kafkaSettings(client, { brokers: [`127.0.0.1:${port}`] }), [{ topic: "never", key: "k", value: "v" }])
        )
      )
      const elapsed = Date.now() - started
      assert.isTrue(error.retryable)
      assert.match(error.reason, /unreachable|ECONNREFUSED|connect/i)
      assert.isBelow(elapsed, 30_000)
    }), 60_000)

  it.live("the produce request itself fails retryable within a bounded time when the broker is gone", () =>
    Effect.gen(function*() {
      // Past TopicAdmin (which fails first in the test above): the backend's own retries must be bounded too.
      const port = yield* unusedPort()
      const settings = kafkaSettings(client, { brokers: [`127.0.0.1:${port}`] })
      const started = Date.now()
      const cause = yield* Effect.gen(function*() {
        const transport = (yield* KafkaClient).backend.transport()
        const result = yield* Effect.tryPromise({
          try: () => transport.produce([{ topic: "never", key: "k", value: "v" }]),
          catch: (cause) => cause
        }).pipe(Effect.flip)
        yield* transport.close
        return transport.classify(result, { createTopics: true })
      }).pipe(Effect.provide(KafkaClient.layerWith(settings)))
      assert.isBelow(Date.now() - started, 30_000)
      assert.isTrue(cause.retryable, cause.reason)
      assert.match(cause.reason, /unreachable|ECONNREFUSED|connect/i)
    }), 60_000)

  it.live("the produce request itself fails not retryable when SASL meets a plaintext listener", () =>
    Effect.gen(function*() {
      const settings = kafkaSettings(client, {
        sasl: { mechanism: "scram-sha-512", username: "u", password: Redacted.make("s3cr3t-pw") }
      })
      const started = Date.now()
      const failure = yield* Effect.gen(function*() {
        const transport = (yield* KafkaClient).backend.transport()
        const cause = yield* Effect.tryPromise({
          try: () => transport.produce([{ topic: "never", key: "k", value: "v" }]),
          catch: (cause) => cause
        }).pipe(Effect.flip)
        yield* transport.close
        return transport.classify(cause, { createTopics: true })
      }).pipe(Effect.provide(KafkaClient.layerWith(settings)))
      assert.isBelow(Date.now() - started, 30_000)
      assert.isFalse(failure.retryable, failure.reason)
      assert.include(failure.reason, "SASL")
      assert.notInclude(failure.reason, "s3cr3t-pw")
    }), 60_000)

  it.live("a record over the broker's max.message.bytes fails not retryable with a clear message", () =>
    Effect.gen(function*() {
      const topic = uniqueName("outboxx-kp-large")
      const settings = kafkaSettings(client, { topicPartitions: 1 })
      const error = sendError(
        yield* Effect.flip(
          sendWith(settings, [
            { topic, key: "small", value: "fits" },
            { topic, key: "big", value: "x".repeat(2 * 1024 * 1024) }
          ])
        )
      )
      assert.isFalse(error.retryable)
      assert.strictEqual(error.code, "MESSAGE_TOO_LARGE")
      assert.include(error.reason, "max.message.bytes")
      // The first request (the small record) was acknowledged before the big one failed.
      assert.strictEqual(error.acknowledged, 1)
      const read = yield* Effect.promise(() => readTopic(topic, { count: 1, idleMs: 2_000, timeoutMs: 30_000 }))
      assert.deepStrictEqual(read.map((m) => m.key), ["small"])
    }), 60_000)

  it.live.skipIf(client !== "kafkajs")("fails at startup when a codec package is missing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(sendWith(kafkaSettings(client, { compression: "snappy" }), []))
      assert.strictEqual(error._tag, "KafkaConfigError")
      assert.include(error.message, "kafka.compression")
      assert.include(error.message, "kafkajs-snappy")
    }))

  it.live.skipIf(client !== "platformatic")("snappy and lz4 compression work without codec packages", () =>
    Effect.gen(function*() {
      for (const compression of ["snappy", "lz4"] as const) {
        const topic = uniqueName(`outboxx-kp-${compression}`)
        const records = Array.from({ length: 100 }, (_, i) => ({ topic, key: `k${i}`, value: `value ${i} `.repeat(20) }))
        yield* sendWith(kafkaSettings(client, { compression, topicPartitions: 1 }), records)
        const values = yield* readValuesWithPlatformatic(topic, 100)
        assert.deepStrictEqual(values, records.map((r) => r.value), compression)
      }
    }), 60_000)

  it.live("gzip compression works", () =>
    Effect.gen(function*() {
      const topic = uniqueName("outboxx-kp-gzip")
      const records = Array.from({ length: 100 }, (_, i) => ({ topic, key: `k${i}`, value: `value ${i}` }))
      yield* sendWith(kafkaSettings(client, { compression: "gzip", topicPartitions: 1 }), records)
      const read = yield* Effect.promise(() => readTopic(topic, { count: 100, timeoutMs: 30_000 }))
      assert.deepStrictEqual(read.map((m) => m.value), records.map((r) => r.value))
    }), 60_000)

  it.live("a SASL-configured client never logs the password", () =>
    Effect.gen(function*() {
      // The dev broker has no SASL listener: the handshake fails; what matters is the logs.
      const lines: Array<string> = []
      const capture = Logger.make(({ message }) => {
        lines.push(JSON.stringify(message))
      })
      const error = yield* Effect.flip(
        sendWith(
          kafkaSettings(client, {
            sasl: { mechanism: "plain", username: "u", password: Redacted.make("s3cr3t-pw") }
          }),
          [{ topic: "never", key: "k", value: "v" }]
        ).pipe(Effect.provide(Logger.layer([capture])), Effect.provideService(References.MinimumLogLevel, "Debug"))
      )
      const sendFailure = sendError(error)
      // A SASL handshake on a plaintext listener: a configuration problem, not an outage.
      assert.isFalse(sendFailure.retryable)
      assert.include(sendFailure.reason, "SASL")
      // kafkajs logs its failed handshake (through our logger); @platformatic/kafka logs nothing.
      if (client === "kafkajs") assert.isAbove(lines.length, 0)
      for (const line of lines) assert.notInclude(line, "s3cr3t-pw")
      assert.notInclude(sendFailure.reason, "s3cr3t-pw")
      assert.notInclude(String(error), "s3cr3t-pw")
    }), 60_000)
})

describe.each(["platformatic", "kafkajs"] as const)("TopicAdmin with kafka.client = %s", (client) => {
  it.live("describes the cluster", () =>
    Effect.gen(function*() {
      const admin = yield* TopicAdmin
      const cluster = yield* admin.describeCluster()
      assert.isAbove(cluster.brokers.length, 0)
      const [host, port] = kafkaBrokers()[0]!.split(":")
      assert.isTrue(cluster.brokers.some((b) => b.host === host && String(b.port) === port))
      assert.isNotNull(cluster.controller)
      assert.isBoolean(cluster.autoCreateTopicsEnabled)
    }).pipe(Effect.provide(KafkaProducer.layerWith(kafkaSettings(client)))), 60_000)

  it.live("describeCluster on an unreachable broker fails with a typed error in bounded time", () =>
    Effect.gen(function*() {
      const port = yield* unusedPort()
      const started = Date.now()
      const error = yield* Effect.flip(
        Effect.gen(function*() {
          const admin = yield* TopicAdmin
          return yield* admin.describeCluster({ timeoutMs: 5_000 })
        }).pipe(Effect.provide(KafkaProducer.layerWith(kafkaSettings(client, { brokers: [`127.0.0.1:${port}`] }))))
      )
      assert.strictEqual(error._tag, "KafkaUnreachableError")
      assert.isBelow(Date.now() - started, 15_000)
    }), 60_000)

  it.live("ensureTopics creates missing topics once and tolerates existing ones", () =>
    Effect.gen(function*() {
      const admin = yield* TopicAdmin
      const fresh = uniqueName("outboxx-ta")
      yield* admin.ensureTopics([fresh])
      yield* admin.ensureTopics([fresh, fresh])
      const topics = yield* listTopics()
      assert.include(topics, fresh)
    }).pipe(Effect.provide(KafkaProducer.layerWith(kafkaSettings(client)))), 60_000)
})
