/**
 * The @platformatic/kafka backend of KafkaProducer (`kafka.client = "platformatic"`,
 * the default): same guarantees as the kafkajs one, several times less CPU per
 * record (see docs/kafka.md for the numbers).
 *
 * What the library guarantees, checked in its source (2.x, clients/producer):
 * - `idempotent: true` forces `maxInflights = 1` per broker connection and
 *   acks = -1, and gives each (topic, partition) consecutive sequence numbers
 *   assigned before the request leaves; a retry re-sends the same request with
 *   the same sequences, so the broker drops duplicates and nothing overtakes.
 * - A failed send clears the producer id and sequences; the next send starts
 *   with a new producer id (what the kafkajs backend does via `reset`).
 * - It would raise `retries` <= 1 to "forever" for an idempotent producer; we
 *   set 3 so a dead broker fails a send in bounded time (the pipeline retries).
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Producer, type ProducerOptions, type SASLOptions } from "@platformatic/kafka"
import type { KafkaSaslSettings } from "../config/model.js"
import type { OutRecord } from "./batching.js"
import { classifyPlatformaticError } from "./errors.js"
import { KafkaClient, kafkaRetry, kafkaTimeouts } from "./KafkaClient.js"
import { murmur2 } from "./murmur2.js"
import type { ProduceTransport } from "./ProduceTransport.js"

type BufferProducer = Producer<Buffer, Buffer, Buffer, Buffer>

const saslOptions = (sasl: KafkaSaslSettings): SASLOptions => ({
  mechanism: sasl.mechanism === "plain" ? "PLAIN" : sasl.mechanism === "scram-sha-256" ? "SCRAM-SHA-256" : "SCRAM-SHA-512",
  username: sasl.username,
  // A provider, so the secret is unwrapped only while authenticating and never sits in the options.
  password: () => Redacted.value(sasl.password)
})

/** Exponential backoff as kafkajs' `kafkaRetry`: 300 ms, 600 ms, 1.2 s ... capped at 3 s. */
const retryDelay = (_client: unknown, _operation: string, attempt: number): number =>
  Math.min(kafkaRetry.maxRetryTime ?? 3_000, (kafkaRetry.initialRetryTime ?? 300) * 2 ** Math.max(0, attempt - 1))

const toBuffer = (data: string | Buffer): Buffer => (typeof data === "string" ? Buffer.from(data, "utf8") : data)

/**
 * The Java client's partitioner: the library reduces the returned number
 * modulo the topic's partition count, so the masked murmur2 hash is enough.
 * Records without a key go round-robin, as with kafkajs.
 */
const makePartitioner = () => {
  let roundRobin = 0
  return (_message: unknown, key: Buffer | undefined): number =>
    key === undefined ? (roundRobin = (roundRobin + 1) & 0x7fffffff) : murmur2(key) & 0x7fffffff
}

export const platformaticTransport: Effect.Effect<ProduceTransport, never, KafkaClient> = Effect.gen(function*() {
  const { settings, tls } = yield* KafkaClient

  const options: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
    clientId: settings.clientId,
    bootstrapBrokers: [...settings.brokers],
    idempotent: true,
    acks: -1,
    // Topics are created (or refused) by TopicAdmin, never by a metadata request.
    autocreateTopics: false,
    compression: settings.compression,
    partitioner: makePartitioner(),
    connectTimeout: kafkaTimeouts.connectionTimeoutMs,
    requestTimeout: kafkaTimeouts.requestTimeoutMs,
    // The broker-side acks=all wait of a produce request.
    timeout: kafkaTimeouts.produceAckTimeoutMs,
    retries: kafkaRetry.retries ?? 3,
    retryDelay,
    // Validating every record with ajv costs CPU and catches nothing our types do not.
    strict: false
  }
  if (tls !== undefined) options.tls = tls
  if (settings.sasl !== undefined) options.sasl = saslOptions(settings.sasl)

  const newProducer = (): BufferProducer => new Producer<Buffer, Buffer, Buffer, Buffer>({ ...options })
  let producer = newProducer()

  const produce = (chunk: ReadonlyArray<OutRecord>): Promise<unknown> => {
    const messages = new Array(chunk.length)
    for (let i = 0; i < chunk.length; i++) {
      const record = chunk[i]!
      let headers: Map<Buffer, Buffer> | undefined
      if (record.headers !== undefined) {
        headers = new Map()
        for (const name in record.headers) headers.set(Buffer.from(name), Buffer.from(record.headers[name]!))
      }
      messages[i] = {
        topic: record.topic,
        key: record.key === null ? undefined : toBuffer(record.key),
        // undefined is written as a null value (a tombstone).
        value: record.value === null ? undefined : toBuffer(record.value),
        headers
      }
    }
    return producer.send({ messages })
  }

  const closeQuietly = (p: BufferProducer) => Effect.promise(() => p.close().catch(() => undefined))

  const reset = Effect.suspend(() => {
    const old = producer
    producer = newProducer()
    return closeQuietly(old)
  })

  return {
    name: "platformatic",
    produce,
    classify: classifyPlatformaticError,
    reset,
    close: Effect.suspend(() => closeQuietly(producer))
  } satisfies ProduceTransport
})
