import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Checkpointer, resumeLsn } from "../../src/pipeline/Checkpointer.js"
import { checkpointCommitted } from "../../src/state/JournalEvent.js"
import { foldEvents } from "../../src/state/JournalState.js"
import { StateStore } from "../../src/state/StateStore.js"

const T = "2026-11-23T20:00:00.000Z"
const identity = { systemId: "7301", database: "shop", slot: "outboxx" }
const journal = foldEvents([
  { _tag: "SlotIdentified", ...identity, timeline: 1, createdAt: T },
  checkpointCommitted(5000, T)
])

describe("resumeLsn", () => {
  it("takes the journaled checkpoint when it is ahead of the slot and belongs to it", () => {
    assert.strictEqual(resumeLsn(4000, journal, identity), 5000)
    assert.strictEqual(resumeLsn(6000, journal, identity), 6000)
    assert.strictEqual(resumeLsn(4000, journal, { ...identity, systemId: "other cluster" }), 4000)
    assert.strictEqual(resumeLsn(4000, foldEvents([]), identity), 4000)
  })
})

describe("Checkpointer", () => {
  const layer = Checkpointer.layer.pipe(Layer.provideMerge(StateStore.layerMemory))

  it.effect("journals the confirmable LSN before handing it out, only when it advanced", () =>
    Effect.gen(function*() {
      const checkpointer = yield* Checkpointer
      const store = yield* StateStore
      assert.isUndefined(yield* checkpointer.persist)
      const tracker = yield* checkpointer.start(1000)
      assert.strictEqual(yield* checkpointer.persist, 1000)
      assert.strictEqual((yield* store.state).checkpoint?.lsn, 1000)

      const tx = tracker.beginTransaction(7)
      tracker.track(tx, 2)
      tracker.commit(tx, 1500)
      tracker.ack(tx, 1)
      assert.strictEqual(yield* checkpointer.persist, 1000)
      tracker.ack(tx, 1)
      assert.strictEqual(yield* checkpointer.persist, 1500)
      assert.strictEqual((yield* store.state).checkpoint?.lsn, 1500)

      // A new session starts from a fresh tracker.
      const next = yield* checkpointer.start(1500)
      assert.notStrictEqual(next, tracker)
      assert.strictEqual(yield* checkpointer.tracker, next)
    }).pipe(Effect.provide(layer, { local: true })))
})
