/**
 * The @platformatic/kafka backend of KafkaProducer (`kafka.client = "platformatic"`,
 * the default): the same guarantees as the kafkajs one at a fraction of the CPU
 * per record (see docs/kafka.md for the numbers).
 *
 * Who does what:
 * - the library (its public client API): connections with TLS and SASL, API
 *   version negotiation, cluster metadata, and the idempotent producer id;
 * - produce.ts: partitioning, sequence numbers, record batches and
 *   Produce requests, with re-sends of failed partitions;
 * - this module: the client options every client of ours shares, and the
 *   producer id's life (a new one after any failure that leaves the
 *   sequences in doubt).
 *
 * Encoding ourselves is what makes this backend fast: the library's record
 * encoder cost a third of outboxx's CPU during a drain; ours writes each batch
 * once (benchmark numbers in docs/benchmark.md).
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type BaseOptions, Producer, type ProducerOptions, type SASLOptions } from "@platformatic/kafka"
import type { ConnectionOptions } from "node:tls"
import type { KafkaSaslSettings, KafkaSettings } from "../../../config/model.js"
import type { OutRecord } from "../batching.js"
import { classifyPlatformaticError } from "./errors.js"
import { kafkaTimeouts } from "../KafkaClient.js"
import {
  makePartitionSender,
  negotiateProduceVersion,
  type PlatformaticProducer,
  type ProducerSession,
  type ProduceVersion,
  retries,
  retryDelay
} from "./produce.js"
import type { ProduceTransport } from "../ProduceTransport.js"

const saslOptions = (sasl: KafkaSaslSettings): SASLOptions => ({
  mechanism: sasl.mechanism === "plain" ? "PLAIN" : sasl.mechanism === "scram-sha-256" ? "SCRAM-SHA-256" : "SCRAM-SHA-512",
  username: sasl.username,
  // A provider, so the secret is unwrapped only while authenticating and never sits in the options.
  password: () => Redacted.value(sasl.password)
})

/**
 * What every @platformatic/kafka client of ours shares: brokers, TLS, SASL,
 * timeouts and retries as kafkajs gets them (KafkaClient.ts). Topics are
 * created (or refused) by TopicAdmin, never by a metadata request.
 */
export const platformaticClientOptions = (settings: KafkaSettings, tls: ConnectionOptions | undefined): BaseOptions => {
  const options: BaseOptions = {
    clientId: settings.clientId,
    bootstrapBrokers: [...settings.brokers],
    autocreateTopics: false,
    connectTimeout: kafkaTimeouts.connectionTimeoutMs,
    requestTimeout: kafkaTimeouts.requestTimeoutMs,
    retries,
    retryDelay,
    strict: false
  }
  if (tls !== undefined) options.tls = tls
  if (settings.sasl !== undefined) options.sasl = saslOptions(settings.sasl)
  return options
}

export const platformaticTransport = (settings: KafkaSettings, tls: ConnectionOptions | undefined): ProduceTransport => {
  // The library's client is used for connections, metadata and the producer id; its `send` is not.
  const options: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
    ...platformaticClientOptions(settings, tls),
    idempotent: true,
    acks: -1,
    timeout: kafkaTimeouts.produceAckTimeoutMs
  }

  const sender = makePartitionSender(settings.compression)
  const newClient = (): PlatformaticProducer => new Producer<Buffer, Buffer, Buffer, Buffer>({ ...options })
  let client = newClient()
  let session: ProducerSession | undefined
  let version: ProduceVersion | undefined

  const startSession = async (c: PlatformaticProducer): Promise<ProducerSession> => {
    const { producerEpoch, producerId } = await c.initIdempotentProducer({})
    return { producerId, producerEpoch, sequences: new Map() }
  }

  const produce = async (chunk: ReadonlyArray<OutRecord>, topics?: ReadonlyArray<string>): Promise<void> => {
    const c = client
    version ??= await negotiateProduceVersion(c)
    const s = session ??= await startSession(c)
    try {
      await sender.send(c, version, s, chunk, undefined, topics)
    } catch (error) {
      // Whatever is in doubt now, a new producer id starts clean sequences (as the library's own send).
      if (session === s) session = undefined
      throw error
    }
  }

  const closeQuietly = (c: PlatformaticProducer) => Effect.promise(() => c.close().catch(() => undefined))

  const reset = Effect.suspend(() => {
    const old = client
    client = newClient()
    session = undefined
    return closeQuietly(old)
  })

  return {
    name: "platformatic",
    produce,
    classify: classifyPlatformaticError,
    reset,
    close: Effect.suspend(() => closeQuietly(client))
  } satisfies ProduceTransport
}
