/**
 * The circuit breaker around the Kafka sink, with a scripted RecordSink of our
 * own (the real Kafka outage is covered by the fault suite).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { HealthState } from "../../src/observability/HealthState.js"
import { withCircuitBreaker } from "../../src/deliver/CircuitBreakerSink.js"
import { type RecordSink, SinkError } from "../../src/deliver/RecordSink.js"

const scriptedSink = () => {
  const state = { down: true, calls: 0 }
  const sink: RecordSink = {
    prepareTopics: () => Effect.void,
    send: () =>
      Effect.suspend(() => {
        state.calls++
        return state.down ? Effect.fail(new SinkError({ reason: "broker unreachable", retryable: true })) : Effect.void
      })
  }
  return { state, sink }
}

describe("Kafka circuit breaker", () => {
  it.live("opens after three retryable failures, fails fast while open, closes on a good probe", () =>
    Effect.gen(function*() {
      const health = yield* HealthState
      yield* health.update((h) => ({ ...h, kafka: { connected: true, error: null } }))
      const { state, sink } = scriptedSink()
      const guarded = yield* withCircuitBreaker(sink)

      for (let i = 0; i < 3; i++) assert.isTrue((yield* Effect.flip(guarded.send([]))).retryable)
      assert.strictEqual(state.calls, 3)
      yield* Effect.sleep("50 millis")
      // Open: the broker is not called, the error is retryable, /status shows Kafka down.
      const open = yield* Effect.flip(guarded.send([]))
      assert.isTrue(open.retryable)
      assert.include(open.reason, "circuit open")
      assert.strictEqual(state.calls, 3)
      assert.isFalse((yield* health.get).kafka.connected)

      // After the open period one probe goes through; the broker is back.
      state.down = false
      yield* Effect.sleep("1100 millis")
      yield* guarded.send([])
      assert.strictEqual(state.calls, 4)
      yield* Effect.sleep("50 millis")
      assert.isTrue((yield* health.get).kafka.connected)
    }).pipe(Effect.provide(HealthState.layer("slot", "pub"))), 10_000)

  it.live("permanent failures pass through without opening the circuit", () =>
    Effect.gen(function*() {
      let calls = 0
      const guarded = yield* withCircuitBreaker({
        prepareTopics: () => Effect.void,
        send: () =>
          Effect.suspend(() => {
            calls++
            return Effect.fail(new SinkError({ reason: "MESSAGE_TOO_LARGE", retryable: false }))
          })
      })
      for (let i = 0; i < 5; i++) assert.isFalse((yield* Effect.flip(guarded.send([]))).retryable)
      assert.strictEqual(calls, 5)
    }), 10_000)
})
