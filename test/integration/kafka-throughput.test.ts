/**
 * Throughput of KafkaProducer.send against the dev broker: 200,000 records of
 * ~300 bytes, acks=all, in calls of 5,000. Measured, not asserted (speed
 * belongs to the benchmark); runs only with OUTBOXX_KAFKA_BENCH=1.
 *   OUTBOXX_KAFKA_BENCH=1 npx vitest run --project integration test/integration/kafka-throughput.test.ts
 * Both producer backends run, one after the other (compare within one run: the machine is shared).
 * Knobs: OUTBOXX_KAFKA_BENCH_RECORDS, _BATCH, _PARTITIONS, _COMPRESSION (none|gzip|snappy|lz4),
 * _MAX_BYTES, _CLIENTS (comma-separated, default "kafkajs,platformatic"), _VALUE_BYTES (default 220 pad).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Compression, KafkaClientKind } from "../../src/config/model.js"
import { KafkaProducer, type OutRecord } from "../../src/deliver/kafka/KafkaProducer.js"
import { kafkaBrokers, uniqueName } from "../support/servers.js"

const env = (name: string, fallback: number) => Number(process.env[`OUTBOXX_KAFKA_BENCH_${name}`] ?? fallback)

const clients = (process.env.OUTBOXX_KAFKA_BENCH_CLIENTS ?? "kafkajs,platformatic").split(",") as Array<KafkaClientKind>

describe.each(clients)("kafka.client = %s", (client) => {
it.live.skipIf(process.env.OUTBOXX_KAFKA_BENCH !== "1")("KafkaProducer throughput (acks=all)", () =>
  Effect.gen(function*() {
    const total = env("RECORDS", 200_000)
    const batch = env("BATCH", 5_000)
    const partitions = env("PARTITIONS", 1)
    const compression = (process.env.OUTBOXX_KAFKA_BENCH_COMPRESSION ?? "none") as Compression
    const topic = uniqueName("outboxx-bench")
    const pad = "x".repeat(env("VALUE_BYTES", 220))
    const records: Array<OutRecord> = Array.from({ length: total }, (_, i) => ({
      topic,
      key: `{"id":${i % 10_000}}`,
      value: `{"op":"c","after":{"id":${i % 10_000},"seq":${i},"pad":"${pad}"},"ts_ms":1795464000123}`
    }))
    const avgBytes = records.slice(0, 1000).reduce((n, r) => n + (r.key as string).length + (r.value as string).length, 0) / 1000
    const producer = yield* KafkaProducer
    yield* producer.send(records.slice(0, 1)) // creates the topic and connects; not timed
    const started = performance.now()
    for (let i = 1; i < total; i += batch) yield* producer.send(records.slice(i, Math.min(total, i + batch)))
    const seconds = (performance.now() - started) / 1000
    const rate = Math.round((total - 1) / seconds)
    console.log(
      `[kafka bench] ${client}: ${total} records of ~${Math.round(avgBytes)} B, batches of ${batch}, ${partitions} partition(s), ` +
        `compression=${compression}: ${seconds.toFixed(2)} s, ${rate} records/s, ` +
        `${((rate * avgBytes) / 1e6).toFixed(1)} MB/s`
    )
    assert.isAbove(rate, 0)
  }).pipe(
    Effect.provide(
      KafkaProducer.layerWith({
        brokers: kafkaBrokers(),
        clientId: "outboxx-bench",
        client,
        compression: (process.env.OUTBOXX_KAFKA_BENCH_COMPRESSION ?? "none") as Compression,
        delivery: "at-least-once",
        batchMaxBytes: env("MAX_BYTES", 1_000_000),
        linger: Duration.millis(5),
        createTopics: true,
        topicPartitions: env("PARTITIONS", 1),
        topicReplicationFactor: -1,
        sasl: undefined,
        tls: undefined
      })
    )
  ), 600_000)
})
