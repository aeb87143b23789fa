/**
 * The stream actor hands an outbox's slabs back (SlabPool.ts) only after the
 * sink accepted every record, and only when the sink says it keeps none of
 * their bytes (`copiesRecords`); a failed delivery never releases them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Queue } from "effect"
import type { OutRecord } from "../../src/deliver/kafka/batching.js"
import { SlabRecord } from "../../src/event/record/SlabRecord.js"
import { CheckpointTracker } from "../../src/checkpoint/CheckpointTracker.js"
import { type RecordSink, SinkError } from "../../src/deliver/RecordSink.js"
import type { Outbox } from "../../src/deliver/Outbox.js"
import { makeStreamActor } from "../../src/deliver/StreamActor.js"
import { SlabPool } from "../../src/event/record/SlabPool.js"

/** One outbox holding one slab (the writer's hold already let go, as after the writer moved on). */
const outboxWithSlab = (pool: SlabPool) => {
  const slab = pool.acquire()
  slab.buf.write(`{"id":1}{"op":"c"}`)
  slab.retain() // the outbox's hold
  slab.release() // the writer moved on
  const outbox: Outbox = {
    records: [SlabRecord.make("t", slab.buf, 0, 8, slab.buf, 8, 10)],
    txs: [],
    counts: [],
    slabs: [slab]
  }
  return { slab, outbox }
}

const deliverOne = (sink: RecordSink, outbox: Outbox) =>
  Effect.gen(function*() {
    const actor = yield* makeStreamActor("s", sink, new CheckpointTracker(1))
    const fiber = yield* Effect.forkChild(actor.run)
    yield* Queue.offer(actor.mailbox, outbox)
    yield* Queue.offer(actor.mailbox, null)
    return yield* Fiber.await(fiber)
  })

const sinkThat = (copiesRecords: boolean | undefined, seen: Array<string>, fail = false): RecordSink => ({
  prepareTopics: () => Effect.void,
  send: (records: ReadonlyArray<OutRecord>) =>
    fail
      ? Effect.fail(new SinkError({ reason: "refused", retryable: false }))
      : Effect.sync(() => void seen.push(...records.map((r) => String(r.value)))),
  ...(copiesRecords === undefined ? {} : { copiesRecords })
})

describe("stream actor and slabs", () => {
  it.effect("releases the slabs of a delivered outbox behind a copying sink", () =>
    Effect.gen(function*() {
      const pool = new SlabPool(1024, 4)
      const { outbox, slab } = outboxWithSlab(pool)
      const seen: Array<string> = []
      assert.isTrue(Exit.isSuccess(yield* deliverOne(sinkThat(true, seen), outbox)))
      assert.deepStrictEqual(seen, [`{"op":"c"}`])
      assert.strictEqual(slab.refs, 0)
      assert.strictEqual(pool.freeCount, 1)
    }))

  it.effect("keeps them behind a sink that does not say it copies", () =>
    Effect.gen(function*() {
      const pool = new SlabPool(1024, 4)
      const { outbox, slab } = outboxWithSlab(pool)
      const seen: Array<string> = []
      assert.isTrue(Exit.isSuccess(yield* deliverOne(sinkThat(undefined, seen), outbox)))
      assert.strictEqual(slab.refs, 1)
      assert.strictEqual(pool.freeCount, 0)
      assert.strictEqual(String(outbox.records[0]!.value), `{"op":"c"}`)
    }))

  it.effect("keeps them when delivery failed", () =>
    Effect.gen(function*() {
      const pool = new SlabPool(1024, 4)
      const { outbox, slab } = outboxWithSlab(pool)
      assert.isTrue(Exit.isFailure(yield* deliverOne(sinkThat(true, [], true), outbox)))
      assert.strictEqual(slab.refs, 1)
      assert.strictEqual(pool.freeCount, 0)
    }))
})
