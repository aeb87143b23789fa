/**
 * The produce path on @platformatic/kafka's connections, shared by the
 * at-least-once transport (transport.ts) and Kafka transactions
 * (transactions.ts): partitioning (the Java client's murmur2),
 * per-partition sequence numbers, record batches (recordBatch.ts) and the
 * Produce request (produceRequest.ts), one request per partition leader,
 * parsed by the library's response parser.
 *
 * Idempotence, as the Java client does it:
 * - each (topic, partition) gets consecutive sequence numbers, assigned when
 *   its batch is encoded; the callers never start a send before the previous
 *   one settled, so at most one batch per partition is in flight;
 * - a retriable failure (connection lost, request timed out, leader moved)
 *   re-sends the very same batches, with the same sequences, to the current
 *   leaders, so the broker drops what it already has and nothing overtakes;
 * - when the retries are used up, or the broker lost the producer's state,
 *   the error goes up; the caller decides what a new producer id means.
 */
import { gzip } from "node:zlib"
import { promisify } from "node:util"
import {
  type ClusterMetadata,
  compressionsAlgorithms,
  type Connection,
  produceV10,
  produceV11,
  produceV9,
  type Producer,
  ProtocolError,
  UnsupportedApiError,
  Writer
} from "@platformatic/kafka"
import type { Compression } from "../../../config/model.js"
import { type OutRecord, topicsOf } from "../batching.js"
import { errorTree } from "./errors.js"
import { kafkaRetry, kafkaTimeouts } from "../KafkaClient.js"
import { murmur2, murmur2Range } from "./murmur2.js"
import { encodeProduceRequest, nextSequence, type PartitionBatch, produceVersions } from "./produceRequest.js"
import { SlabRecord } from "../../../event/record/SlabRecord.js"
import { type BatchCodec, BatchBuffers, type BatchProducer, encodeCompressedRecordBatch, encodeRecordBatch } from "./recordBatch.js"

/** Our clients are built for Buffers in and out (we never use the library's serializers). */
export type PlatformaticProducer = Producer<Buffer, Buffer, Buffer, Buffer>

/** Exponential backoff as kafkajs' `kafkaRetry`: 300 ms, 600 ms, 1.2 s ... capped at 3 s. */
export const retryDelay = (_client: unknown, _operation: string, attempt: number): number =>
  Math.min(kafkaRetry.maxRetryTime ?? 3_000, (kafkaRetry.initialRetryTime ?? 300) * 2 ** Math.max(0, attempt - 1))

export const retries = kafkaRetry.retries ?? 3

const acksAll = -1

/** The library's parser of the Produce response, per version we can send. */
const responseParsers = { 9: produceV9.parseResponse, 10: produceV10.parseResponse, 11: produceV11.parseResponse }
export type ProduceVersion = keyof typeof responseParsers

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
  batches: ReadonlyArray<PartitionBatch>,
  transactionalId: string | undefined
): Promise<ProduceResponse> =>
  new Promise((resolve, reject) => {
    const pieces = encodeProduceRequest(batches, acksAll, kafkaTimeouts.produceAckTimeoutMs, transactionalId)
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
export interface ProducerSession {
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly sequences: Map<string, number>
  /** Set for a transactional producer: its batches are marked and its requests name it. */
  readonly transactionalId?: string
}

/** The highest Produce version the broker and produceRequest.ts share. */
export const negotiateProduceVersion = async (c: PlatformaticProducer): Promise<ProduceVersion> => {
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

/** The key of a (topic, partition) in the per-partition maps and sets. */
export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`

/** 0, 1, 2, ...: the indices of a chunk that goes whole to one partition (a shared, growing table, only read). */
let identity = new Int32Array(0)
const allIndices = (count: number): Int32Array => {
  if (identity.length < count) {
    identity = new Int32Array(Math.max(count, 2 * identity.length, 1024))
    for (let i = 0; i < identity.length; i++) identity[i] = i
  }
  return identity.subarray(0, count)
}

/** Sees a chunk's partitions before any batch is written (a transaction registers them). */
export type BeforeSend = (batches: ReadonlyArray<PartitionBatch>, metadata: ClusterMetadata) => Promise<void>

/**
 * Sends chunks of records on the library's connections. One per producer
 * client: it holds the round-robin position for records without a key.
 */
export const makePartitionSender = (compression: Compression) => {
  const codec = codecFor(compression)
  let roundRobin = 0
  /** Batches (the records before compression) are written into reused buffers (recordBatch.ts, BatchBuffers). */
  const batchBuffers = new BatchBuffers()

  /** Record indices per topic and partition (murmur2 of the key, round-robin without one). */
  const assignPartitions = (chunk: ReadonlyArray<OutRecord>, chunkTopics: ReadonlyArray<string>, metadata: ClusterMetadata) => {
    const topics = new Map<string, Array<ArrayLike<number> | undefined>>()
    // One topic of one partition (a snapshot's or a drain's usual case): the whole chunk, no pass over its records.
    if (chunkTopics.length === 1 && metadata.topics.get(chunkTopics[0]!)!.partitionsCount === 1) {
      topics.set(chunkTopics[0]!, [allIndices(chunk.length)])
      return topics
    }
    for (let i = 0; i < chunk.length; i++) {
      const record = chunk[i]!
      const topic = record.topic
      let partitions = topics.get(topic)
      if (partitions === undefined) {
        partitions = new Array(metadata.topics.get(topic)!.partitionsCount)
        topics.set(topic, partitions)
      }
      // One partition: no key to hash, and no round-robin step to take.
      if (partitions.length === 1) {
        ;((partitions[0] ??= []) as Array<number>).push(i)
        continue
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
      ;((partitions[partition] ??= []) as Array<number>).push(i)
    }
    return topics
  }

  /** One batch per partition, each with the partition's next sequence numbers. */
  const encodeBatches = async (
    chunk: ReadonlyArray<OutRecord>,
    topics: ReadonlyArray<string>,
    metadata: ClusterMetadata,
    s: ProducerSession
  ) => {
    const now = Date.now()
    const batches: Array<PartitionBatch> = []
    for (const [topic, partitions] of assignPartitions(chunk, topics, metadata)) {
      for (let partition = 0; partition < partitions.length; partition++) {
        const indices = partitions[partition]
        if (indices === undefined) continue
        const sequenceKey = partitionKey(topic, partition)
        const baseSequence = s.sequences.get(sequenceKey) ?? 0
        s.sequences.set(sequenceKey, nextSequence(baseSequence, indices.length))
        const producer: BatchProducer = {
          producerId: s.producerId,
          producerEpoch: s.producerEpoch,
          baseSequence,
          transactional: s.transactionalId !== undefined
        }
        const batch = codec === undefined
          ? encodeRecordBatch(chunk, indices, producer, now, batchBuffers)
          : await encodeCompressedRecordBatch(chunk, indices, producer, now, codec, batchBuffers)
        batches.push({ topic, partition, batch })
      }
    }
    return batches
  }

  /** Sends each batch to its partition's leader (one request per broker, in parallel); returns what failed. */
  const sendToLeaders = async (
    c: PlatformaticProducer,
    v: ProduceVersion,
    batches: ReadonlyArray<PartitionBatch>,
    metadata: ClusterMetadata,
    transactionalId: string | undefined
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
          failures.push(...failuresOf(group, await sendProduce(connection, v, group, transactionalId)))
        } catch (error) {
          for (const batch of group) failures.push({ batch, error: error as Error })
        }
      })
    )
    return failures
  }

  /**
   * Encodes `chunk` with the session's sequences and sends it to the partition
   * leaders, re-sending failed partitions (same bytes) up to `retries` times.
   * `beforeSend` sees the partitions first: a transaction registers them
   * with its coordinator before any batch may be written to them.
   * `chunkTopics`, when the caller knows them, are the chunk's distinct
   * topics (saves a pass over its records).
   */
  const send = async (
    c: PlatformaticProducer,
    version: ProduceVersion,
    s: ProducerSession,
    chunk: ReadonlyArray<OutRecord>,
    beforeSend?: BeforeSend,
    chunkTopics?: ReadonlyArray<string>
  ): Promise<void> => {
    const topics = chunkTopics ?? topicsOf(chunk)
    let metadata = await c.metadata({ topics: [...topics] })
    const encoded = await encodeBatches(chunk, topics, metadata, s)
    let pending = encoded
    if (beforeSend !== undefined) await beforeSend(pending, metadata)
    for (let attempt = 1;; attempt++) {
      const failures = await sendToLeaders(c, version, pending, metadata, s.transactionalId)
      if (failures.length === 0) {
        // Every batch is acknowledged, so written out: their buffers can take the next ones. (Not
        // after a failure: a request that timed out may still be queued in the connection.)
        if (codec === undefined) for (const b of encoded) batchBuffers.release(b.batch)
        return
      }
      const fatal = failures.find((f) => !isRetriableInPlace(f.error))
      if (fatal !== undefined || attempt > retries) throw (fatal ?? failures[0]!).error
      await new Promise((resolve) => setTimeout(resolve, retryDelay(c, "produce", attempt)))
      metadata = await c.metadata({ topics: [...topics], forceUpdate: needsMetadata(failures) })
      pending = failures.map((f) => f.batch)
    }
  }

  return { send }
}
