/**
 * `kafka.linger` in the stream actor, with a recording RecordSink of our own
 * (the Kafka side of batching is covered by the integration tests).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Queue } from "effect"
import { jsonRecord, type OutRecord } from "../../src/event/record/OutRecord.js"
import type { RecordSink } from "../../src/deliver/RecordSink.js"
import type { Outbox } from "../../src/deliver/Outbox.js"
import { CheckpointTracker } from "../../src/checkpoint/CheckpointTracker.js"
import { type Linger, makeStreamActor } from "../../src/deliver/StreamActor.js"

const outboxOf = (value: string): Outbox => ({ records: [jsonRecord("t", null, value)], txs: [], counts: [] })

/** A running actor over a sink that records each send's values; `offer` queues one record. */
const runningActor = (linger?: Linger) =>
  Effect.gen(function*() {
    const sends: Array<Array<string>> = []
    const sink: RecordSink = {
      prepareTopics: () => Effect.void,
      send: (records: ReadonlyArray<OutRecord>) =>
        Effect.sync(() => void sends.push(records.map((r) => String(r.value))))
    }
    const actor = yield* makeStreamActor("s", sink, new CheckpointTracker(1), undefined, undefined, linger)
    const fiber = yield* Effect.forkChild(actor.run)
    return {
      sends,
      offer: (value: string) => Queue.offer(actor.mailbox, outboxOf(value)),
      finish: Queue.offer(actor.mailbox, null).pipe(Effect.andThen(Fiber.join(fiber)))
    }
  })

describe("stream actor linger", () => {
  it.live("with a linger, a small batch waits and takes what arrives meanwhile", () =>
    Effect.gen(function*() {
      const actor = yield* runningActor({ duration: Duration.millis(200), fillBytes: 1 << 20 })
      yield* actor.offer("a")
      yield* Effect.sleep("50 millis")
      assert.strictEqual(actor.sends.length, 0)
      yield* actor.offer("b")
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(actor.sends, [["a", "b"]])
      yield* actor.finish
    }))

  it.live("a batch already at fillBytes does not wait", () =>
    Effect.gen(function*() {
      const actor = yield* runningActor({ duration: Duration.seconds(10), fillBytes: 1 })
      yield* actor.offer("a")
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(actor.sends, [["a"]])
      yield* actor.finish
    }))

  it.live("without a linger, a batch goes at once", () =>
    Effect.gen(function*() {
      const actor = yield* runningActor()
      yield* actor.offer("a")
      yield* Effect.sleep("50 millis")
      assert.deepStrictEqual(actor.sends, [["a"]])
      yield* actor.finish
    }))
})
