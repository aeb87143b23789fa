/**
 * The calls TopicAdmin makes of a Kafka client library, so that it runs on
 * @platformatic/kafka (default) or kafkajs (`kafka.client = "kafkajs"`) with
 * the same checks, errors and messages around them.
 */
import type { KafkaFailure } from "./errors.js"

export interface ClusterInfo {
  readonly clusterId: string
  readonly brokers: ReadonlyArray<{ readonly nodeId: number; readonly host: string; readonly port: number }>
  readonly controller: number | null
}

export interface AdminBackend {
  readonly listTopics: () => Promise<ReadonlyArray<string>>
  /** Creates the topics (-1 partitions / replication factor = the broker's defaults). */
  readonly createTopics: (topics: ReadonlyArray<string>, partitions: number, replicationFactor: number) => Promise<void>
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
  /** What a rejection of the calls above means. */
  readonly classify: (cause: unknown, options: { readonly createTopics: boolean }) => KafkaFailure
  readonly close: () => Promise<void>
}
