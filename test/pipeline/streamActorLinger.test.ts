/**
 * `kafka.linger` in the stream actor, with a recording RecordSink of our own
 * (the Kafka side of batching is covered by the integration tests).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Queue } from "effect"
import { encodedRecord, type OutRecord } from "../../src/kafka/batching.js"
import type { RecordSink } from "../../src/pipeline/RecordSink.js"
import type { Outbox } from "../../src/pipeline/Router.js"
import { CheckpointTracker } from "../../src/pipeline/checkpoint/CheckpointTracker.js"
import { makeStreamActor } from "../../src/pipeline/StreamActor.js"

const recordingSink = () => {
  const sends: Array<ReadonlyArray<OutRecord>> = []
  const sink: RecordSink = { prepareTopics: () => Effect.void, send: (records) => Effect.sync(() => void sends.push(records)) }
  return { sends, sink }
}

const outboxOf = (value: string): Outbox => ({ records: [encodedRecord("t", null, value)], txs: [], counts: [], commitTimes: [] })

const valuesOf = (records: ReadonlyArray<OutRecord>) => records.map((r) => (r.value as Buffer).toString())

describe("stream actor linger", () => {
  it.live("with a linger, a small batch waits and takes what arrives meanwhile", () =>
    Effect.gen(function*() {
      const { sends, sink } = recordingSink()
      const actor = yield* makeStreamActor("s", sink, new CheckpointTracker(1), undefined, undefined, {
        duration: Duration.millis(200),
        fillBytes: 1 << 20
      })
      const fiber = yield* Effect.forkChild(actor.run)
      yield* Queue.offer(actor.mailbox, outboxOf("a"))
      yield* Effect.sleep("50 millis")
      assert.strictEqual(sends.length, 0)
      yield* Queue.offer(actor.mailbox, outboxOf("b"))
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(sends.map(valuesOf), [["a", "b"]])
      yield* Queue.offer(actor.mailbox, null)
      yield* Fiber.join(fiber)
    }))

  it.live("a batch already at fillBytes does not wait", () =>
    Effect.gen(function*() {
      const { sends, sink } = recordingSink()
      const actor = yield* makeStreamActor("s", sink, new CheckpointTracker(1), undefined, undefined, {
        duration: Duration.seconds(10),
        fillBytes: 1
      })
      const fiber = yield* Effect.forkChild(actor.run)
      yield* Queue.offer(actor.mailbox, outboxOf("a"))
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(sends.map(valuesOf), [["a"]])
      yield* Queue.offer(actor.mailbox, null)
      yield* Fiber.join(fiber)
    }))

  it.live("without a linger, a batch goes at once", () =>
    Effect.gen(function*() {
      const { sends, sink } = recordingSink()
      const actor = yield* makeStreamActor("s", sink, new CheckpointTracker(1))
      const fiber = yield* Effect.forkChild(actor.run)
      yield* Queue.offer(actor.mailbox, outboxOf("a"))
      yield* Effect.sleep("50 millis")
      assert.deepStrictEqual(sends.map(valuesOf), [["a"]])
      yield* Queue.offer(actor.mailbox, null)
      yield* Fiber.join(fiber)
    }))
})
