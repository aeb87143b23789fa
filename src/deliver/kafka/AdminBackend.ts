/**
 * The calls besides producing that outboxx makes of a Kafka client library
 * (topics, configs, the cluster, committed reads), so that TopicAdmin runs on
 * @platformatic/kafka (default) or kafkajs (`kafka.client = "kafkajs"`) with
 * the same checks, errors and messages around them.
 */
import type { KafkaFailure } from "./errors.js"

export interface ClusterInfo {
  readonly clusterId: string
  readonly brokers: ReadonlyArray<{ readonly nodeId: number; readonly host: string; readonly port: number }>
  readonly controller: number | null
}

export interface CommittedRecord {
  readonly offset: number
  readonly key: Buffer | null
  readonly value: Buffer | null
}

export interface AdminBackend {
  readonly listTopics: () => Promise<ReadonlyArray<string>>
  /**
   * Creates the topics (-1 partitions / replication factor = the broker's
   * defaults), with the topic `configs` given (e.g. cleanup.policy).
   */
  readonly createTopics: (
    topics: ReadonlyArray<string>,
    partitions: number,
    replicationFactor: number,
    configs?: Readonly<Record<string, string>>
  ) => Promise<void>
  readonly describeCluster: () => Promise<ClusterInfo>
  /** A broker's `auto.create.topics.enable`, undefined when it does not say. */
  readonly autoCreateTopics: (nodeId: number) => Promise<boolean | undefined>
  /**
   * Topic and broker settings by name (`max.message.bytes` of topics,
   * `socket.request.max.bytes` of a broker); a value the broker does not
   * report is absent.
   */
  readonly topicConfig: (topics: ReadonlyArray<string>, name: string) => Promise<ReadonlyMap<string, string>>
  readonly brokerConfig: (nodeId: number, name: string) => Promise<string | undefined>
  /**
   * The records of one partition from its start up to its last stable
   * offset, as a read_committed consumer sees them: records of aborted
   * transactions and control records left out. For small compacted topics
   * (the exactly-once position), read without a consumer group.
   */
  readonly readCommitted: (topic: string, partition: number) => Promise<ReadonlyArray<CommittedRecord>>
  /** What a rejection of the calls above means. */
  readonly classify: (cause: unknown, options: { readonly createTopics: boolean }) => KafkaFailure
  readonly close: () => Promise<void>
}
