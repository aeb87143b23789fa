/**
 * The AdminBackend on @platformatic/kafka (the default backend), with the
 * same connection options as the producer.
 */
import {
  Admin,
  ConfigResourceTypes,
  Consumer,
  FetchIsolationLevels,
  IS_CONTROL,
  IS_TRANSACTIONAL,
  type RecordsBatch
} from "@platformatic/kafka"
import { randomUUID } from "node:crypto"
import type { ConnectionOptions } from "node:tls"
import type { KafkaSettings } from "../../../config/model.js"
import type { AdminBackend, CommittedRecord } from "../AdminBackend.js"
import { classifyPlatformaticError } from "./errors.js"
import { kafkaTimeouts } from "../KafkaClient.js"
import { platformaticClientOptions } from "./transport.js"

export const platformaticAdmin = (settings: KafkaSettings, tls: ConnectionOptions | undefined): AdminBackend => {
  const admin = new Admin({ ...platformaticClientOptions(settings, tls), timeout: kafkaTimeouts.adminTimeoutMs })
  return {
    listTopics: () => admin.listTopics(),
    createTopics: async (topics, partitions, replicationFactor, configs = {}) => {
      await admin.createTopics({
        topics: [...topics],
        partitions,
        replicas: replicationFactor,
        configs: Object.entries(configs).map(([name, value]) => ({ name, value }))
      })
    },
    describeCluster: async () => {
      const metadata = await admin.metadata({ topics: [], forceUpdate: true })
      return {
        clusterId: metadata.id,
        brokers: Array.from(metadata.brokers, ([nodeId, { host, port }]) => ({ nodeId, host, port })),
        controller: metadata.controllerId >= 0 ? metadata.controllerId : null
      }
    },
    autoCreateTopics: async (nodeId) => {
      const [resource] = await admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: String(nodeId), configurationKeys: ["auto.create.topics.enable"] }]
      })
      const entry = resource?.configs.find((c) => c.name === "auto.create.topics.enable")
      return entry === undefined || entry.value === null ? undefined : entry.value === "true"
    },
    topicConfig: async (topics, name) => {
      const resources = await admin.describeConfigs({
        resources: topics.map((topic) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: [name] }))
      })
      const values = new Map<string, string>()
      for (const resource of resources) {
        const value = resource.configs.find((c) => c.name === name)?.value
        if (value !== undefined && value !== null) values.set(resource.resourceName, value)
      }
      return values
    },
    brokerConfig: async (nodeId, name) => {
      const [resource] = await admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: String(nodeId), configurationKeys: [name] }]
      })
      return resource?.configs.find((c) => c.name === name)?.value ?? undefined
    },
    readCommitted: (topic, partition) => readCommitted(settings, tls, topic, partition),
    classify: classifyPlatformaticError,
    close: () => admin.close().catch(() => undefined)
  }
}

/** A control record's key is (version int16, type int16); type 0 ends a transaction with an abort. */
const isAbortMarker = (batch: RecordsBatch): boolean => {
  const key = batch.records[0]?.key
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === 0
}

/**
 * The committed records of one partition's batches (offset order, read up
 * to the high watermark with read_uncommitted, so every transaction marker
 * below it is among them). A transactional batch is committed when the
 * next marker of its producer id after it is a commit, aborted when it is
 * an abort, and still open when there is none (left out, as read_committed
 * would). Decided by the markers in the log alone: the broker's list of
 * aborted transactions, which the fault suite caught hiding committed
 * batches (a producer id marked aborted and never released), is not needed.
 */
export const committedRecords = (batches: ReadonlyArray<RecordsBatch>): Array<CommittedRecord> => {
  // Backwards: `nextMarker` holds, per producer id, whether its next marker (after this batch) aborts.
  const nextMarker = new Map<bigint, boolean>()
  const keep = new Array<boolean>(batches.length)
  for (let i = batches.length - 1; i >= 0; i--) {
    const batch = batches[i]!
    if ((batch.attributes & IS_CONTROL) !== 0) {
      nextMarker.set(batch.producerId, isAbortMarker(batch))
      keep[i] = false
    } else {
      keep[i] = (batch.attributes & IS_TRANSACTIONAL) === 0 || nextMarker.get(batch.producerId) === false
    }
  }
  const records: Array<CommittedRecord> = []
  for (let i = 0; i < batches.length; i++) {
    if (!keep[i]) continue
    const batch = batches[i]!
    for (const record of batch.records) {
      records.push({ offset: Number(batch.firstOffset + BigInt(record.offsetDelta)), key: record.key, value: record.value })
    }
  }
  return records
}

/** Fetches that may come back empty in a row before the read gives up (the broker owes us data up to the high watermark). */
const maxEmptyFetches = 50

/**
 * Reads one partition from its log start to its high watermark with
 * group-less Fetch requests (read_uncommitted: every batch and marker), and
 * keeps the committed records (committedRecords). Meant for the small
 * compacted position topic, whose batches all fit in memory.
 */
const readCommitted = async (
  settings: KafkaSettings,
  tls: ConnectionOptions | undefined,
  topic: string,
  partition: number
): Promise<Array<CommittedRecord>> => {
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    ...platformaticClientOptions(settings, tls),
    // Never joined: Fetch and ListOffsets need no group, the constructor wants a name.
    groupId: `outboxx-reader-${randomUUID()}`
  })
  try {
    const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true })
    const info = metadata.topics.get(topic)
    const leader = info?.partitions[partition]?.leader
    if (info === undefined || leader === undefined || leader < 0) throw new Error(`no leader for ${topic} partition ${partition}`)
    const offsetOf = async (timestamp: bigint) =>
      (await consumer.listOffsets({
        topics: [topic],
        partitions: { [topic]: [partition] },
        timestamp,
        isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED
      })).get(topic)?.[partition] ?? 0n
    // -1 = the latest offset (read_uncommitted: the high watermark); -2 = the log start.
    const end = await offsetOf(-1n)
    let offset = await offsetOf(-2n)
    const batches: Array<RecordsBatch> = []
    let empty = 0
    while (offset < end) {
      const response = await consumer.fetch({
        node: leader,
        topics: [{
          topicId: info.id,
          partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }]
        }],
        isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
        minBytes: 1,
        maxBytes: 1 << 20,
        maxWaitTime: 200
      })
      const data = response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === partition)
      const fetched = data?.records ?? []
      let advanced = false
      for (const batch of fetched) {
        const last = batch.firstOffset + BigInt(batch.lastOffsetDelta)
        // A fetch starts at the batch holding `offset`, which may begin before it: take each batch once.
        if (last < offset || batch.firstOffset >= end) continue
        batches.push(batch)
        offset = last + 1n
        advanced = true
      }
      if (!advanced) {
        if (++empty >= maxEmptyFetches) throw new Error(`no records from ${topic} partition ${partition} at offset ${offset} (high watermark ${end})`)
        continue
      }
      empty = 0
    }
    return committedRecords(batches)
  } finally {
    await consumer.close().catch(() => undefined)
  }
}
