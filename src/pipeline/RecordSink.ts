/**
 * Where stream actors put records: Kafka for `run`, stdout for `tail`.
 * `send` succeeds only when every record is durably accepted.
 */
import { Schema } from "effect"
import type { Effect } from "effect"
import type { OutRecord } from "../kafka/batching.js"

export class SinkError extends Schema.TaggedError<SinkError>()("SinkError", {
  reason: Schema.String,
  retryable: Schema.Boolean,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return this.reason
  }
}

export interface RecordSink {
  /** Called once with every topic the streams may write, before streaming starts. */
  readonly prepareTopics: (topics: ReadonlyArray<string>) => Effect.Effect<void, SinkError>
  readonly send: (records: ReadonlyArray<OutRecord>) => Effect.Effect<void, SinkError>
}
