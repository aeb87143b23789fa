/**
 * Helpers for integration tests that run the streaming pipeline in-process
 * against the real PostgreSQL, with an in-memory RecordSink in place of Kafka.
 */
import { Effect, Result } from "effect"
import { runStreaming } from "../../src/pipeline/Streaming.js"
import type { StateStoreShape } from "../../src/state/StateStore.js"
import { decodeSettings } from "../../src/config/decode.js"
import type { OutboxxSettings } from "../../src/config/model.js"
import type { OutRecord } from "../../src/deliver/kafka/batching.js"
import type { RecordSink } from "../../src/deliver/RecordSink.js"
import * as Redacted from "effect/Redacted"

/** Settings from TOML text; a configuration error fails the test with its message. */
export const testSettings = (toml: string): OutboxxSettings => {
  const decoded = decodeSettings(toml, { path: "test.toml", env: {} })
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

/** A sink that keeps every record it is sent, in order. */
export const captureSink = () => {
  const records: Array<OutRecord> = []
  const sink: RecordSink = {
    prepareTopics: () => Effect.void,
    send: (batch) => Effect.sync(() => void records.push(...batch))
  }
  return { records, sink }
}

/** The signal key the test pipelines authenticate `outboxx snapshot` signals with. */
export const testSignalKey = Redacted.make(Buffer.from("test-signal-key-of-at-least-32-characters"))

/** Polls `predicate` every 50 ms; dies with `what` after `timeoutMs`. */
export const waitFor = (predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* Effect.promise(async () => predicate()))) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("50 millis")
    }
  })

/**
 * Runs the pipeline in a fiber into a capturing sink; returns once it streams
 * (after its initial snapshot, when it takes one).
 */
export const startStreaming = (settings: OutboxxSettings, options: { readonly journal?: StateStoreShape } = {}) =>
  Effect.gen(function*() {
    const { records, sink } = captureSink()
    let started = false
    const fiber = yield* Effect.scoped(runStreaming(settings, sink, {
      temporarySlot: false,
      signalKey: testSignalKey,
      ...options,
      onStarted: () => Effect.sync(() => void (started = true))
    })).pipe(Effect.forkChild)
    yield* waitFor(() => started, "streaming to start", 60_000)
    return { fiber, records }
  })
