/**
 * Kafka transactions on kafkajs (`kafka.client = "kafkajs"`): its
 * transactional producer, one request in flight.
 */
import type { Kafka, Producer, Transaction } from "kafkajs"
import { type OutRecord, splitByBytes } from "../batching.js"
import { groupByTopic } from "./messages.js"
import { classifyKafkaError } from "./errors.js"
import { kafkaRetry, kafkaTimeouts } from "../KafkaClient.js"
import type { TransactionBackend, TransactionOptions } from "../TransactionBackend.js"

export const kafkajsTransactions = (kafka: Kafka, compression: number, options: TransactionOptions): TransactionBackend => {
  const producer: Producer = kafka.producer({
    transactionalId: options.transactionalId,
    transactionTimeout: options.transactionTimeoutMs,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: kafkaRetry
  })
  let connected = false
  let open: Transaction | undefined = undefined
  const transaction = async (): Promise<Transaction> => {
    if (open === undefined || !open.isActive()) open = await producer.transaction()
    return open
  }

  const send = async (records: ReadonlyArray<OutRecord>) => {
    if (records.length === 0) return
    const t = await transaction()
    for (const chunk of splitByBytes(records, options.requestMaxBytes)) {
      await t.sendBatch({
        topicMessages: groupByTopic(chunk),
        acks: -1,
        timeout: kafkaTimeouts.produceAckTimeoutMs,
        compression
      })
    }
  }

  return {
    fence: async () => {
      await producer.connect()
      connected = true
      // kafkajs runs InitProducerId when the first transaction starts.
      const t = await transaction()
      await t.abort()
      open = undefined
    },
    send,
    commit: () => {
      const t = open!
      open = undefined
      return t.commit()
    },
    abort: async () => {
      const t = open
      open = undefined
      if (t !== undefined && t.isActive()) await t.abort().catch(() => undefined)
    },
    close: async () => {
      if (connected) await producer.disconnect().catch(() => undefined)
    },
    classify: classifyKafkaError
  }
}
