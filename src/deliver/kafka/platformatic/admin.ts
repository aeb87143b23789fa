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
 * Appends the committed records of `batches` (one fetch response's, in
 * offset order) at or after `from` and before `end` to `into`, and returns
 * the offset to fetch next. `aborted` holds the producer ids inside an
 * aborted transaction; it carries over from one fetch to the next.
 */
export const takeCommitted = (
  batches: ReadonlyArray<RecordsBatch>,
  abortedTransactions: ReadonlyArray<{ readonly producerId: bigint; readonly firstOffset: bigint }> | null,
  aborted: Set<bigint>,
  from: bigint,
  end: bigint,
  into: Array<CommittedRecord>
): bigint => {
  const pending = [...(abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
  let next = 0
  let offset = from
  for (const batch of batches) {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta)
    while (next < pending.length && pending[next]!.firstOffset <= last) aborted.add(pending[next++]!.producerId)
    if ((batch.attributes & IS_CONTROL) !== 0) {
      if (isAbortMarker(batch)) aborted.delete(batch.producerId)
    } else if ((batch.attributes & IS_TRANSACTIONAL) === 0 || !aborted.has(batch.producerId)) {
      for (const record of batch.records) {
        const at = batch.firstOffset + BigInt(record.offsetDelta)
        if (at >= from && at < end) into.push({ offset: Number(at), key: record.key, value: record.value })
      }
    }
    if (last + 1n > offset) offset = last + 1n
  }
  return offset
}

/** Fetches that may come back empty in a row before the read gives up (the broker owes us data up to the LSO). */
const maxEmptyFetches = 50

/**
 * Reads one partition from its log start to its last stable offset with
 * group-less Fetch requests (isolation read_committed). The broker returns
 * aborted transactions' records too, with the list of those transactions:
 * leaving them out is the client's job, as in the Java client: a producer id
 * is aborted from its transaction's first offset until its abort marker, and
 * its transactional batches in between are skipped. (Kafka 4 brokers already
 * leave aborted batches out of read_committed fetches; older ones do not, and
 * the library's consumer stream does not filter them, so it is not used here.)
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
        isolationLevel: FetchIsolationLevels.READ_COMMITTED
      })).get(topic)?.[partition] ?? 0n
    // -1 = the latest offset, which under read_committed is the last stable offset; -2 = the log start.
    const end = await offsetOf(-1n)
    let offset = await offsetOf(-2n)
    const records: Array<CommittedRecord> = []
    const aborted = new Set<bigint>()
    let empty = 0
    while (offset < end) {
      const response = await consumer.fetch({
        node: leader,
        topics: [{
          topicId: info.id,
          partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }]
        }],
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        minBytes: 1,
        maxBytes: 1 << 20,
        maxWaitTime: 200
      })
      const data = response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === partition)
      const batches = data?.records ?? []
      if (batches.length === 0) {
        if (++empty >= maxEmptyFetches) throw new Error(`no records from ${topic} partition ${partition} at offset ${offset} (last stable offset ${end})`)
        continue
      }
      empty = 0
      offset = takeCommitted(batches, data?.abortedTransactions ?? null, aborted, offset, end, records)
    }
    return records
  } finally {
    await consumer.close().catch(() => undefined)
  }
}
