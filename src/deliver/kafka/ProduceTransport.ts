/**
 * What a Kafka client library must provide for `KafkaProducer`: send one
 * produce request's worth of records, and say what a failure means.
 * KafkaProducer owns everything above that (topic checks, the split into
 * requests, one request at a time, `acknowledged` bookkeeping), so both
 * backends (kafkajs, @platformatic/kafka) keep the same guarantees.
 */
import type * as Effect from "effect/Effect"
import type { OutRecord } from "./batching.js"
import type { KafkaFailure } from "./errors.js"

export interface ProduceTransport {
  /** Which library this is, for logs and docs. */
  readonly name: "kafkajs" | "platformatic"
  /**
   * Sends the records (at most about `batchMaxBytes`) with acks=all on the
   * idempotent producer and resolves once all are acknowledged. KafkaProducer
   * never starts a call before the previous one settled. `topics`, when
   * given, are the chunk's distinct topics (the caller knew them already).
   */
  readonly produce: (chunk: ReadonlyArray<OutRecord>, topics?: ReadonlyArray<string>) => Promise<unknown>
  /** What a rejection of `produce` means (retryable, reason, code, producer reset). */
  readonly classify: (cause: unknown, options: { readonly createTopics: boolean }) => KafkaFailure
  /** Drops a producer whose idempotence state is broken; the next `produce` starts a fresh one. */
  readonly reset: Effect.Effect<void>
  /** Closes the connections (after the last request settled). */
  readonly close: Effect.Effect<void>
}
