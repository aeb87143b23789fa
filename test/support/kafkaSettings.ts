/** The `kafka` settings section the Kafka-side tests build their clients from. */
import * as Duration from "effect/Duration"
import type { KafkaClientKind, KafkaSettings } from "../../src/config/model.js"
import { kafkaBrokers } from "./servers.js"

/** The `kafka` section of OutboxxSettings with test defaults; only what the Kafka side reads. */
export const kafkaSettings = (client: KafkaClientKind, overrides: Partial<KafkaSettings> = {}): KafkaSettings => ({
  brokers: kafkaBrokers(),
  clientId: "outboxx-test",
  client,
  compression: "none",
  delivery: "at-least-once",
  batchMaxBytes: 1_000_000,
  linger: Duration.millis(5),
  createTopics: true,
  topicPartitions: 3,
  topicReplicationFactor: -1,
  sasl: undefined,
  tls: undefined,
  ...overrides
})
