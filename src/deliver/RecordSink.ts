/**
 * Where stream actors put records: Kafka for `run`, stdout for `tail`.
 * `send` succeeds only when every record is durably accepted.
 */
import { Schema } from "effect"
import type { Effect } from "effect"
import type { OutRecord } from "../event/record/OutRecord.js"

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
  /**
   * True when the sink keeps no reference to a record's key or value bytes
   * once `send` succeeded (it copied or wrote out what it needed). Only then
   * are the slabs those bytes live in written again (SlabPool.ts); a sink
   * that does not say so gets records whose bytes stay valid for as long as
   * it holds them.
   */
  readonly copiesRecords?: boolean
  /**
   * The largest record `topic` accepts, in bytes, once `prepareTopics` has
   * seen it; undefined = unknown or no limit. The Router does not build a
   * change that cannot fit (Router.tooLarge); a sink with limits refuses
   * RejectedRecords for good.
   */
  readonly recordLimit?: (topic: string) => number | undefined
}
