/**
 * Kafka transactions on @platformatic/kafka (`kafka.client = "platformatic"`,
 * the default): the library's transaction protocol (FindCoordinator,
 * InitProducerId, EndTxn) around our own produce path (produce.ts:
 * the same record batches and requests as at-least-once, marked transactional
 * and naming the transactional id).
 *
 * - AddPartitionsToTxn is sent here, at most v3 as the Java client does: the
 *   library would send v4+, the brokers' own batched form, which a broker
 *   with an authorizer refuses to a client without CLUSTER_ACTION.
 * - Sequence numbers continue across the transactions of one producer epoch
 *   (Kafka's transaction protocol v1, which Produce v9-v11 use); a new epoch
 *   (after InitProducerId) starts them at 0.
 * - Every partition is registered with the coordinator before the first batch
 *   of a transaction is written to it.
 * - After the coordinator acknowledged a commit it still writes the markers;
 *   until then it answers CONCURRENT_TRANSACTIONS to the next transaction's
 *   AddPartitionsToTxn (and to InitProducerId). That is retried after 10 ms,
 *   not after the 300 ms of other retries: under a steady stream it happens on
 *   most commits.
 * - Any failure leaves this producer to be closed: the caller aborts, streaming
 *   restarts, and a new producer (a new epoch) starts clean.
 */
import {
  addPartitionsToTxnV0,
  addPartitionsToTxnV1,
  addPartitionsToTxnV2,
  addPartitionsToTxnV3,
  type ClusterMetadata,
  findErrorBy,
  Producer,
  type ProducerOptions,
  ProtocolError,
  UnsupportedApiError
} from "@platformatic/kafka"
import type { ConnectionOptions } from "node:tls"
import type { KafkaSettings } from "../../../config/model.js"
import { type OutRecord, splitByBytes, topicsOf } from "../batching.js"
import { classifyPlatformaticError } from "./errors.js"
import {
  type BeforeSend,
  makePartitionSender,
  negotiateProduceVersion,
  partitionKey,
  type PlatformaticProducer,
  type ProducerSession,
  type ProduceVersion,
  retryDelay
} from "./produce.js"
import { platformaticClientOptions } from "./transport.js"
import type { TransactionBackend, TransactionOptions } from "../TransactionBackend.js"

type Transaction = Awaited<ReturnType<PlatformaticProducer["beginTransaction"]>>

/** The coordinator is still completing the previous transaction. */
const isConcurrentTransactions = (error: unknown): boolean =>
  findErrorBy(error as Error, "apiId", "CONCURRENT_TRANSACTIONS") !== null

/** AddPartitionsToTxn versions a client may send, newest first (same arguments for all four). */
const addPartitionsVersions = [addPartitionsToTxnV3, addPartitionsToTxnV2, addPartitionsToTxnV1, addPartitionsToTxnV0]
const addPartitionsApiKey = 24

const concurrentRetryMs = 10
/** How long a new transaction waits for the previous one's markers before it fails. */
const concurrentRetryLimitMs = 10_000

export const platformaticTransactions = (
  settings: KafkaSettings,
  tls: ConnectionOptions | undefined,
  options: TransactionOptions
): TransactionBackend => {
  const base = platformaticClientOptions(settings, tls)
  const clientOptions: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
    ...base,
    retryDelay: (client, operation, attempt, retries, error) =>
      isConcurrentTransactions(error) ? concurrentRetryMs : retryDelay(client, operation, attempt),
    idempotent: true,
    acks: -1,
    // The library sends `timeout` as InitProducerId's transaction timeout (we never use its send).
    timeout: options.transactionTimeoutMs,
    transactionalId: options.transactionalId
  }
  const client: PlatformaticProducer = new Producer<Buffer, Buffer, Buffer, Buffer>(clientOptions)
  const sender = makePartitionSender(settings.compression)
  let version: ProduceVersion | undefined
  let session: ProducerSession | undefined
  let open: Transaction | undefined
  /** Partitions already part of the open transaction (`partitionKey`). */
  const inTransaction = new Set<string>()

  const begin = async (): Promise<Transaction> => {
    if (open !== undefined) return open
    version ??= await negotiateProduceVersion(client)
    // The first one runs FindCoordinator and InitProducerId; later ones reuse the id and epoch.
    // InitProducerId must say "no id yet" (-1, -1): the library's default (0, 0) claims to be
    // producer 0, which the coordinator answers with PRODUCER_FENCED once the id has state.
    const transaction = await client.beginTransaction({ producerId: -1n, producerEpoch: -1 })
    const producerId = client.producerId!
    const producerEpoch = client.producerEpoch!
    if (session?.producerId !== producerId || session.producerEpoch !== producerEpoch) {
      session = { producerId, producerEpoch, sequences: new Map(), transactionalId: options.transactionalId }
    }
    open = transaction
    inTransaction.clear()
    return transaction
  }

  let addPartitions: (typeof addPartitionsVersions)[number]["api"] | undefined
  const addPartitionsApi = async () => {
    if (addPartitions !== undefined) return addPartitions
    const supported = (await client.listApis()).find((api) => api.apiKey === addPartitionsApiKey)
    const usable = addPartitionsVersions.find((m) =>
      supported !== undefined && m.api.version >= supported.minVersion && m.api.version <= supported.maxVersion
    )
    if (usable === undefined) {
      throw new UnsupportedApiError(
        `the broker supports AddPartitionsToTxn v${supported?.minVersion ?? "?"}-v${supported?.maxVersion ?? "?"}, a client sends v0-v3`
      )
    }
    return addPartitions = usable.api
  }

  const addToTransaction = async (
    s: ProducerSession,
    topics: Map<string, Array<number>>,
    metadata: ClusterMetadata
  ): Promise<void> => {
    const api = await addPartitionsApi()
    const coordinator = metadata.brokers.get(client.coordinatorId ?? -1)
    // Restartable: the next producer looks the coordinator up again.
    if (coordinator === undefined) throw new ProtocolError("COORDINATOR_NOT_AVAILABLE")
    const connection = await client.connections.get(coordinator)
    const request = [{
      transactionalId: options.transactionalId,
      producerId: s.producerId,
      producerEpoch: s.producerEpoch,
      topics: Array.from(topics, ([name, partitions]) => ({ name, partitions })),
      verifyOnly: false
    }]
    const started = Date.now()
    for (;;) {
      try {
        await api.async(connection, request)
        return
      } catch (error) {
        if (!isConcurrentTransactions(error) || Date.now() - started > concurrentRetryLimitMs) throw error
        await new Promise((resolve) => setTimeout(resolve, concurrentRetryMs))
      }
    }
  }

  /** Registers the chunk's new partitions with the coordinator before any batch goes to them. */
  const register: BeforeSend = async (batches, metadata) => {
    const added = batches.filter(({ partition, topic }) => !inTransaction.has(partitionKey(topic, partition)))
    if (added.length === 0) return
    const topics = new Map<string, Array<number>>()
    for (const { partition, topic } of added) {
      const list = topics.get(topic)
      if (list === undefined) topics.set(topic, [partition])
      else list.push(partition)
    }
    await addToTransaction(session!, topics, metadata)
    for (const { partition, topic } of added) inTransaction.add(partitionKey(topic, partition))
  }

  const send = async (records: ReadonlyArray<OutRecord>): Promise<void> => {
    if (records.length === 0) return
    await begin()
    // One topic for the whole send (the usual case): each chunk's, without a pass over its records.
    const topics = topicsOf(records)
    for (const chunk of splitByBytes(records, options.requestMaxBytes)) {
      await sender.send(client, version!, session!, chunk, register, topics.length === 1 ? topics : undefined)
    }
  }

  /** Forgets the open transaction locally (no request): for one that never reached the coordinator. */
  const forget = async (transaction: Transaction) => {
    await transaction.cancel().catch(() => undefined)
  }

  return {
    fence: async () => {
      // InitProducerId (inside the first begin) is the fencing; the transaction itself stays empty.
      const transaction = await begin()
      open = undefined
      await forget(transaction)
    },
    send,
    commit: () => {
      const transaction = open!
      open = undefined
      return transaction.commit()
    },
    abort: async () => {
      const transaction = open
      open = undefined
      if (transaction === undefined) return
      // A transaction without partitions at the coordinator has nothing to end there.
      if (inTransaction.size > 0) await transaction.abort().catch(() => forget(transaction))
      else await forget(transaction)
    },
    close: () => client.close().catch(() => undefined),
    classify: classifyPlatformaticError
  }
}
