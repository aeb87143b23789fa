/**
 * The kafkajs backend of KafkaProducer (`kafka.client = "kafkajs"`).
 */
import * as Effect from "effect/Effect"
import type { Producer } from "kafkajs"
import { type OutRecord } from "../batching.js"
import { groupByTopic } from "./messages.js"
import { kafkaRetry, kafkaTimeouts } from "../KafkaClient.js"
import type { ProduceTransport } from "../ProduceTransport.js"
import type { KafkajsClient } from "./client.js"
import { classifyKafkaError } from "./errors.js"
import { kafkajsModule } from "./module.js"

export const kafkajsTransport = (client: KafkajsClient): ProduceTransport => {
  const { compression } = client
  const kafka = client.kafka()
  const { Partitioners } = kafkajsModule()

  const newProducer = (): Producer =>
    kafka.producer({
      idempotent: true,
      // Idempotence allows up to 5 in flight per connection, but kafkajs re-numbers
      // sequences on failure; with one request at a time a retry can never overtake.
      maxInFlightRequests: 1,
      // Topics are created (or refused) by TopicAdmin, never by a metadata request.
      allowAutoTopicCreation: false,
      // The Java client's murmur2 partitioner: same key -> same partition as other clients.
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: kafkaRetry
    })

  let producer = newProducer()
  let connected = false
  const watch = (p: Producer) =>
    p.on(p.events.DISCONNECT, () => {
      if (p === producer) connected = false
    })
  watch(producer)

  const produce = async (chunk: ReadonlyArray<OutRecord>): Promise<unknown> => {
    const p = producer
    if (!connected) {
      await p.connect()
      connected = true
    }
    return p.sendBatch({
      topicMessages: groupByTopic(chunk),
      acks: -1,
      timeout: kafkaTimeouts.produceAckTimeoutMs,
      compression
    })
  }

  const reset = Effect.suspend(() => {
    const old = producer
    producer = newProducer()
    connected = false
    watch(producer)
    return Effect.promise(() => old.disconnect().catch(() => undefined))
  })

  const close = Effect.promise(() => (connected ? producer.disconnect() : Promise.resolve()))

  return { name: "kafkajs", produce, classify: classifyKafkaError, reset, close } satisfies ProduceTransport
}
