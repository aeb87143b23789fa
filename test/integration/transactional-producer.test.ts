/**
 * The exactly-once producer (TransactionalProducer) against the real dev
 * broker, on both libraries (`kafka.client`): what a read_committed consumer
 * sees after commits and aborts, the stored position, and fencing of an
 * earlier instance of the same slot.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type { KafkaClientKind, KafkaSettings } from "../../src/config/model.js"
import type { OutRecord } from "../../src/deliver/kafka/batching.js"
import type { KafkaSendError } from "../../src/deliver/kafka/errors.js"
import { KafkaClient } from "../../src/deliver/kafka/KafkaClient.js"
import { makeTransactionalProducer } from "../../src/deliver/kafka/TransactionalProducer.js"
import { TopicAdmin } from "../../src/deliver/kafka/TopicAdmin.js"
import { kafkaSettings } from "../support/kafkaSettings.js"
import { createTopic, readTopic, uniqueName } from "../support/servers.js"

/** The client and the topic admin (the position topic goes through it). */
const kafkaLayer = (settings: KafkaSettings) => TopicAdmin.layer.pipe(Layer.provideMerge(KafkaClient.layerWith(settings)))

const records = (topic: string, prefix: string, count: number): Array<OutRecord> =>
  Array.from({ length: count }, (_, i) => ({ topic, key: `{"id":"${prefix}${i}"}`, value: `${prefix}${i}` }))

/** Everything a read_committed consumer (kafkajs' default) gets from the topic, until it is idle for 2 s. */
const committedValues = (topic: string) =>
  Effect.promise(() => readTopic(topic, { idleMs: 2_000, timeoutMs: 30_000 })).pipe(
    Effect.map((messages) => messages.map((m) => m.value).sort())
  )

/**
 * The position as a restart reads it: from a new producer of the slot. Its
 * InitProducerId completes only once the previous transaction's commit markers
 * are written, so the last stable offset then covers the last commit; read
 * straight after a commit, the markers may still be on their way.
 */
const positionAfterRestart = (slot: string) =>
  Effect.scoped(Effect.flatMap(makeTransactionalProducer(slot), (restarted) => restarted.readPosition((value) => value)))

const withClient = (client: KafkaClientKind) =>
  Effect.provide(kafkaLayer(kafkaSettings(client, { delivery: "exactly-once" })))

describe.each(["platformatic", "kafkajs"] as const)("TransactionalProducer on %s", (client) => {
  it.live("a read_committed consumer sees committed transactions only, and the position is the last commit's", () =>
    Effect.gen(function*() {
      const topic = uniqueName("outboxx-eos-data")
      const slot = uniqueName("eos_slot")
      yield* Effect.promise(() => createTopic(topic, 3))
      const producer = yield* makeTransactionalProducer(slot)
      assert.isUndefined(yield* producer.readPosition((value) => value))

      // Several sends in one transaction, more than one request each (small batch_max_bytes below).
      yield* producer.send(records(topic, "a", 300))
      yield* producer.send(records(topic, "b", 300))
      yield* producer.commit("position-1")
      yield* producer.send(records(topic, "x", 50))
      yield* producer.abort
      yield* producer.send(records(topic, "c", 10))
      yield* producer.commit("position-2")

      assert.deepStrictEqual(yield* positionAfterRestart(slot), "position-2")
      const values = yield* committedValues(topic)
      const expected = [...records(topic, "a", 300), ...records(topic, "b", 300), ...records(topic, "c", 10)]
      assert.deepStrictEqual(values, expected.map((r) => r.value as string).sort())

      // The group-less committed read (TopicAdmin.readCommitted, which reads the position topic)
      // leaves out the aborted transaction's records, as the read_committed consumer does.
      const admin = yield* TopicAdmin
      const read: Array<string> = []
      for (let partition = 0; partition < 3; partition++) {
        const partitionRecords = yield* admin.readCommitted(topic, partition)
        const offsets = partitionRecords.map((r) => r.offset)
        assert.deepStrictEqual(offsets, [...offsets].sort((a, b) => a - b), "in offset order")
        for (const r of partitionRecords) read.push(r.value!.toString())
      }
      assert.deepStrictEqual(read.sort(), expected.map((r) => r.value as string).sort())
    }).pipe(
      Effect.scoped,
      Effect.provide(kafkaLayer(kafkaSettings(client, { delivery: "exactly-once", batchMaxBytes: 8 * 1024 })))
    ), 90_000)

  it.live("a second producer for the same slot aborts what the first left open and fences it", () =>
    Effect.gen(function*() {
      const topic = uniqueName("outboxx-eos-fence")
      const slot = uniqueName("eos_slot")
      yield* Effect.promise(() => createTopic(topic, 3))
      const first = yield* makeTransactionalProducer(slot)
      yield* first.send(records(topic, "old", 20))

      const second = yield* makeTransactionalProducer(slot)
      const fenced = yield* Effect.exit(first.commit("position-1"))
      assert.isTrue(Exit.isFailure(fenced), "the fenced producer's commit must fail")
      const error = Exit.isFailure(fenced) ? (fenced.cause.reasons[0] as { error?: KafkaSendError }).error : undefined
      // Retryable: the fenced instance restarts, and waits as a standby while the other streams.
      assert.strictEqual(error?.retryable, true, String(error?.message))
      yield* first.abort

      yield* second.send(records(topic, "new", 20))
      yield* second.commit("position-2")
      assert.deepStrictEqual(yield* positionAfterRestart(slot), "position-2")
      assert.deepStrictEqual(yield* committedValues(topic), records(topic, "new", 20).map((r) => r.value as string).sort())
    }).pipe(Effect.scoped, withClient(client)), 90_000)
})
