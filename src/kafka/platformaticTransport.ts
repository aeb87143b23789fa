/**
 * The @platformatic/kafka backend of KafkaProducer (`kafka.client = "platformatic"`,
 * the default): the same guarantees as the kafkajs one at a fraction of the CPU
 * per record (see docs/kafka.md for the numbers).
 *
 * Who does what:
 * - the library (its public client API): connections with TLS and SASL, API
 *   version negotiation, cluster metadata, and the idempotent producer id;
 * - this module: partitioning (the Java client's murmur2), sequence numbers,
 *   record batches (recordBatch.ts) and the Produce request (produceRequest.ts),
 *   sent on the library's connection to each partition leader and parsed by the
 *   library's response parser.
 *
 * Encoding ourselves is what makes this backend fast: the library's record
 * encoder cost a third of outboxx's CPU during a drain; ours writes each batch
 * once (benchmark numbers in docs/benchmark.md).
 *
 * Idempotence, as the Java client does it:
 * - each (topic, partition) gets consecutive sequence numbers, assigned when
 *   its batch is encoded; KafkaProducer never starts a request before the
 *   previous one settled, so at most one batch per partition is in flight;
 * - a retriable failure (connection lost, request timed out, leader moved)
 *   re-sends the very same batches, with the same sequences, to the current
 *   leaders, so the broker drops what it already has and nothing overtakes;
 * - when the retries are used up, or the broker lost the producer's state,
 *   the error goes up and the next send starts with a new producer id (the
 *   pipeline re-sends, which may duplicate but never loses or reorders).
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { gzip } from "node:zlib"
import { promisify } from "node:util"
import {
  type BaseOptions,
  type ClusterMetadata,
  compressionsAlgorithms,
  type Connection,
  produceV10,
  produceV11,
  produceV9,
  Producer,
  type ProducerOptions,
  ProtocolError,
  type SASLOptions,
  UnsupportedApiError,
  Writer
} from "@platformatic/kafka"
import type { ConnectionOptions } from "node:tls"
import type { Compression, KafkaSaslSettings, KafkaSettings } from "../config/model.js"
import { type OutRecord, topicsOf } from "./batching.js"
import { classifyPlatformaticError, errorTree } from "./errors.js"
import { KafkaClient, kafkaRetry, kafkaTimeouts } from "./KafkaClient.js"
import { murmur2, murmur2Range } from "./murmur2.js"
import { encodeProduceRequest, nextSequence, type PartitionBatch, produceVersions } from "./produceRequest.js"
import type { ProduceTransport } from "./ProduceTransport.js"
import { SlabRecord } from "./SlabRecord.js"
import { type BatchCodec, type BatchProducer, encodeCompressedRecordBatch, encodeRecordBatch } from "./recordBatch.js"

type Client = Producer<Buffer, Buffer, Buffer, Buffer>

const saslOptions = (sasl: KafkaSaslSettings): SASLOptions => ({
  mechanism: sasl.mechanism === "plain" ? "PLAIN" : sasl.mechanism === "scram-sha-256" ? "SCRAM-SHA-256" : "SCRAM-SHA-512",
  username: sasl.username,
  // A provider, so the secret is unwrapped only while authenticating and never sits in the options.
  password: () => Redacted.value(sasl.password)
})

/** Exponential backoff as kafkajs' `kafkaRetry`: 300 ms, 600 ms, 1.2 s ... capped at 3 s. */
const retryDelay = (_client: unknown, _operation: string, attempt: number): number =>
  Math.min(kafkaRetry.maxRetryTime ?? 3_000, (kafkaRetry.initialRetryTime ?? 300) * 2 ** Math.max(0, attempt - 1))

const retries = kafkaRetry.retries ?? 3

const acksAll = -1

/** The library's parser of the Produce response, per version we can send. */
const responseParsers = { 9: produceV9.parseResponse, 10: produceV10.parseResponse, 11: produceV11.parseResponse }
type ProduceVersion = keyof typeof responseParsers

const gzipAsync = promisify(gzip)

/** The codec of a `kafka.compression` setting (gzip off the event loop, the others are fast enough inline). */
const codecFor = (compression: Compression): BatchCodec | undefined => {
  if (compression === "none") return undefined
  if (compression === "gzip") return { name: "gzip", compress: (raw) => gzipAsync(raw) }
  const library = compressionsAlgorithms[compression]
  return { name: compression, compress: (raw) => library.compressSync(raw) as Buffer }
}

/** Protocol errors a re-send of the same batches (after a metadata refresh) can cure. */
const staleMetadata = new Set([
  "UNKNOWN_TOPIC_OR_PARTITION",
  "LEADER_NOT_AVAILABLE",
  "NOT_LEADER_OR_FOLLOWER",
  "FENCED_LEADER_EPOCH"
])
/** The broker forgot or refused this producer id: re-sending with its sequences cannot succeed. */
const producerStateLost = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_PRODUCER_ID_MAPPING"
])

/** A partition's answer that says its batch is in the log (46: a re-sent batch the broker already had). */
const written = (errorCode: number): boolean => errorCode === 0 || errorCode === 46

interface Failure {
  readonly batch: PartitionBatch
  readonly error: Error
}

const isRetriableInPlace = (error: Error): boolean => {
  const tree = errorTree(error)
  const protocol = tree.find((e) => typeof e.apiId === "string")
  if (protocol !== undefined) {
    const id = protocol.apiId as string
    return !producerStateLost.has(id) && (staleMetadata.has(id) || protocol.canRetry === true)
  }
  // Connection refused or lost, request timed out: the batch may or may not be in the log; a re-send
  // with the same sequence numbers is exactly what the broker's duplicate detection is for.
  return tree.some((e) => e.code === "PLT_KFK_NETWORK")
}

const needsMetadata = (failures: ReadonlyArray<Failure>): boolean =>
  failures.some(({ error }) => errorTree(error).some((e) => staleMetadata.has(e.apiId as string) || e.code === "PLT_KFK_NETWORK"))

interface ProduceResponse {
  readonly responses: ReadonlyArray<{
    readonly name: string
    readonly partitionResponses: ReadonlyArray<{
      readonly index: number
      readonly errorCode: number
      readonly errorMessage: string | null
    }>
  }>
}

/** Sends one Produce request on `connection`; resolves with the parsed response even when partitions failed. */
const sendProduce = (
  connection: Connection,
  version: ProduceVersion,
  batches: ReadonlyArray<PartitionBatch>
): Promise<ProduceResponse> =>
  new Promise((resolve, reject) => {
    const pieces = encodeProduceRequest(batches, acksAll, kafkaTimeouts.produceAckTimeoutMs)
    const payload = () => {
      const writer = Writer.create()
      for (const piece of pieces) writer.append(piece)
      return writer
    }
    connection.send<ProduceResponse>(
      0,
      version,
      payload,
      responseParsers[version] as never,
      true,
      true,
      (error, response) => {
        // The parser throws when any partition failed; the whole response rides on the error.
        const full = (error as { response?: ProduceResponse } | null)?.response ?? response
        if (full?.responses !== undefined) resolve(full)
        else reject(error)
      }
    )
  })

/** The failed partitions of a response (per-partition protocol errors), in request order. */
const failuresOf = (batches: ReadonlyArray<PartitionBatch>, response: ProduceResponse): Array<Failure> => {
  const failures: Array<Failure> = []
  for (const batch of batches) {
    const topic = response.responses.find((t) => t.name === batch.topic)
    const answer = topic?.partitionResponses.find((p) => p.index === batch.partition)
    if (answer === undefined) {
      failures.push({ batch, error: new ProtocolError("UNKNOWN_SERVER_ERROR", `no answer for ${batch.topic}-${batch.partition}`) })
    } else if (!written(answer.errorCode)) {
      failures.push({ batch, error: new ProtocolError(answer.errorCode, answer.errorMessage) })
    }
  }
  return failures
}

/** The idempotent producer's identity and the next sequence number of each partition. */
interface ProducerSession {
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly sequences: Map<string, number>
}

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

export const platformaticTransport: Effect.Effect<ProduceTransport, never, KafkaClient> = Effect.gen(function*() {
  const { settings, tls } = yield* KafkaClient

  // The library's client is used for connections, metadata and the producer id; its `send` is not.
  const options: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
    ...platformaticClientOptions(settings, tls),
    idempotent: true,
    acks: acksAll,
    timeout: kafkaTimeouts.produceAckTimeoutMs
  }

  const codec = codecFor(settings.compression)
  const newClient = (): Client => new Producer<Buffer, Buffer, Buffer, Buffer>({ ...options })
  let client = newClient()
  let session: ProducerSession | undefined
  let version: ProduceVersion | undefined
  let roundRobin = 0

  /** The highest Produce version the broker and produceRequest.ts share. */
  const negotiate = async (c: Client): Promise<ProduceVersion> => {
    const produce = (await c.listApis()).find((api) => api.apiKey === 0)
    const best = Math.min(produceVersions.max, produce?.maxVersion ?? -1)
    if (produce === undefined || best < produceVersions.min || best < produce.minVersion) {
      throw new UnsupportedApiError(
        `the broker supports Produce v${produce?.minVersion ?? "?"}-v${produce?.maxVersion ?? "?"}; ` +
          `kafka.client = "platformatic" needs v${produceVersions.min}+ (Kafka 2.4 or newer): upgrade the broker or use kafka.client = "kafkajs"`
      )
    }
    return best as ProduceVersion
  }

  const startSession = async (c: Client): Promise<ProducerSession> => {
    const { producerEpoch, producerId } = await c.initIdempotentProducer({})
    return { producerId, producerEpoch, sequences: new Map() }
  }

  /** Record indices per topic and partition (murmur2 of the key, round-robin without one). */
  const assignPartitions = (chunk: ReadonlyArray<OutRecord>, metadata: ClusterMetadata) => {
    const topics = new Map<string, Array<Array<number> | undefined>>()
    for (let i = 0; i < chunk.length; i++) {
      const record = chunk[i]!
      const topic = record.topic
      let partitions = topics.get(topic)
      if (partitions === undefined) {
        partitions = new Array(metadata.topics.get(topic)!.partitionsCount)
        topics.set(topic, partitions)
      }
      let hash: number
      if (record instanceof SlabRecord) {
        hash = record.keyLength < 0
          ? (roundRobin = (roundRobin + 1) & 0x7fffffff)
          : murmur2Range(record.keyBytes, record.keyStart, record.keyLength) & 0x7fffffff
      } else {
        const key = record.key
        hash = key === null
          ? (roundRobin = (roundRobin + 1) & 0x7fffffff)
          : murmur2(typeof key === "string" ? Buffer.from(key, "utf8") : key) & 0x7fffffff
      }
      const partition = hash % partitions.length
      ;(partitions[partition] ??= []).push(i)
    }
    return topics
  }

  /** One batch per partition, each with the partition's next sequence numbers. */
  const encodeBatches = async (chunk: ReadonlyArray<OutRecord>, metadata: ClusterMetadata, s: ProducerSession) => {
    const now = Date.now()
    const batches: Array<PartitionBatch> = []
    for (const [topic, partitions] of assignPartitions(chunk, metadata)) {
      for (let partition = 0; partition < partitions.length; partition++) {
        const indices = partitions[partition]
        if (indices === undefined) continue
        const sequenceKey = `${topic}\u0000${partition}`
        const baseSequence = s.sequences.get(sequenceKey) ?? 0
        s.sequences.set(sequenceKey, nextSequence(baseSequence, indices.length))
        const producer: BatchProducer = { producerId: s.producerId, producerEpoch: s.producerEpoch, baseSequence }
        const batch = codec === undefined
          ? encodeRecordBatch(chunk, indices, producer, now)
          : await encodeCompressedRecordBatch(chunk, indices, producer, now, codec)
        batches.push({ topic, partition, batch })
      }
    }
    return batches
  }

  /** Sends each batch to its partition's leader (one request per broker, in parallel); returns what failed. */
  const sendToLeaders = async (
    c: Client,
    v: ProduceVersion,
    batches: ReadonlyArray<PartitionBatch>,
    metadata: ClusterMetadata
  ): Promise<Array<Failure>> => {
    const failures: Array<Failure> = []
    const byLeader = new Map<number, Array<PartitionBatch>>()
    for (const batch of batches) {
      const leader = metadata.topics.get(batch.topic)?.partitions[batch.partition]?.leader ?? -1
      if (!metadata.brokers.has(leader)) {
        failures.push({ batch, error: new ProtocolError("LEADER_NOT_AVAILABLE") })
        continue
      }
      const group = byLeader.get(leader)
      if (group === undefined) byLeader.set(leader, [batch])
      else group.push(batch)
    }
    await Promise.all(
      Array.from(byLeader, async ([leader, group]) => {
        try {
          const connection = await c.connections.get(metadata.brokers.get(leader)!)
          failures.push(...failuresOf(group, await sendProduce(connection, v, group)))
        } catch (error) {
          for (const batch of group) failures.push({ batch, error: error as Error })
        }
      })
    )
    return failures
  }

  const produce = async (chunk: ReadonlyArray<OutRecord>): Promise<void> => {
    const c = client
    version ??= await negotiate(c)
    const s = session ??= await startSession(c)
    try {
      const topics = topicsOf(chunk)
      let metadata = await c.metadata({ topics: [...topics] })
      let pending = await encodeBatches(chunk, metadata, s)
      for (let attempt = 1;; attempt++) {
        const failures = await sendToLeaders(c, version, pending, metadata)
        if (failures.length === 0) return
        const fatal = failures.find((f) => !isRetriableInPlace(f.error))
        if (fatal !== undefined || attempt > retries) throw (fatal ?? failures[0]!).error
        await new Promise((resolve) => setTimeout(resolve, retryDelay(c, "produce", attempt)))
        metadata = await c.metadata({ topics: [...topics], forceUpdate: needsMetadata(failures) })
        pending = failures.map((f) => f.batch)
      }
    } catch (error) {
      // Whatever is in doubt now, a new producer id starts clean sequences (as the library's own send).
      if (session === s) session = undefined
      throw error
    }
  }

  const closeQuietly = (c: Client) => Effect.promise(() => c.close().catch(() => undefined))

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
})
