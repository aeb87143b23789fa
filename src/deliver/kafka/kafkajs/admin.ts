/**
 * The AdminBackend on kafkajs (`kafka.client = "kafkajs"`).
 */
import { randomUUID } from "node:crypto"
import type { Admin, Kafka } from "kafkajs"
import type { AdminBackend, CommittedRecord } from "../AdminBackend.js"
import { kafkaRetry, kafkaTimeouts } from "../KafkaClient.js"
import { classifyKafkaError } from "./errors.js"
import { kafkajsModule } from "./module.js"

/** The AdminBackend on kafkajs' admin client, connecting on first use. */
export const kafkajsAdmin = (kafka: Kafka): AdminBackend => {
  const admin: Admin = kafka.admin({ retry: kafkaRetry })
  let connected = false
  admin.on(admin.events.DISCONNECT, () => {
    connected = false
  })
  const call = async <A>(f: () => Promise<A>): Promise<A> => {
    if (!connected) {
      await admin.connect()
      connected = true
    }
    return await f()
  }
  return {
    listTopics: () => call(() => admin.listTopics()),
    createTopics: async (topics, numPartitions, replicationFactor, configs = {}) => {
      const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }))
      await call(() =>
        admin.createTopics({
          topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor, configEntries })),
          waitForLeaders: true,
          timeout: kafkaTimeouts.adminTimeoutMs
        })
      )
    },
    describeCluster: () => call(() => admin.describeCluster()),
    autoCreateTopics: async (nodeId) => {
      const result = await call(() =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: [{
            type: kafkajsModule().ConfigResourceTypes.BROKER,
            name: String(nodeId),
            configNames: ["auto.create.topics.enable"]
          }]
        })
      )
      const entry = result.resources[0]?.configEntries.find((e) => e.configName === "auto.create.topics.enable")
      return entry === undefined ? undefined : entry.configValue === "true"
    },
    topicConfig: async (topics, name) => {
      const result = await call(() =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: topics.map((topic) => ({ type: kafkajsModule().ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }))
        })
      )
      const values = new Map<string, string>()
      for (const resource of result.resources) {
        const value = resource.configEntries.find((e) => e.configName === name)?.configValue
        if (value !== undefined && value !== null) values.set(resource.resourceName, value)
      }
      return values
    },
    brokerConfig: async (nodeId, name) => {
      const result = await call(() =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: kafkajsModule().ConfigResourceTypes.BROKER, name: String(nodeId), configNames: [name] }]
        })
      )
      return result.resources[0]?.configEntries.find((e) => e.configName === name)?.configValue ?? undefined
    },
    readCommitted: async (topic, partition) => {
      // ListOffsets is read_committed by default in kafkajs: `offset` is the last stable offset.
      const offsets = await call(() => admin.fetchTopicOffsets(topic))
      const end = Number(offsets.find((o) => o.partition === partition)?.offset ?? "0")
      return end <= 0 ? [] : await consumeUntil(kafka, topic, partition, end)
    },
    classify: classifyKafkaError,
    close: () => (connected ? admin.disconnect().catch(() => undefined) : Promise.resolve())
  }
}

/**
 * Reads `partition` of `topic` from the start up to `end` (its last stable
 * offset) with a read_committed consumer: kafkajs leaves aborted transactions
 * out. A throwaway consumer group: kafkajs has no group-less consumer.
 */
const consumeUntil = async (kafka: Kafka, topic: string, partition: number, end: number): Promise<Array<CommittedRecord>> => {
  const consumer = kafka.consumer({
    groupId: `outboxx-reader-${randomUUID()}`,
    readUncommitted: false,
    retry: kafkaRetry,
    maxWaitTimeInMs: 200
  })
  const records: Array<CommittedRecord> = []
  try {
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${topic} up to offset ${end}`)), 30_000)
      // Fires for every batch, including those of control records only (commit markers).
      consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
        if (event.payload.partition === partition && Number(event.payload.lastOffset) >= end - 1) {
          clearTimeout(timer)
          resolve()
        }
      })
      consumer.on(consumer.events.CRASH, (event) => {
        clearTimeout(timer)
        reject(event.payload.error)
      })
      consumer.run({
        autoCommit: false,
        eachMessage: async ({ message, partition: p }) => {
          const offset = Number(message.offset)
          if (p !== partition || offset >= end) return
          records.push({ offset, key: message.key, value: message.value })
        }
      }).catch(reject)
    })
  } finally {
    await consumer.disconnect().catch(() => undefined)
  }
  return records
}
