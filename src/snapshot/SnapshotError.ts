import { Schema } from "effect"

/** A snapshot could not read or deliver a table. */
export class SnapshotError extends Schema.TaggedError<SnapshotError>()("SnapshotError", {
  table: Schema.String,
  reason: Schema.String,
  /** Worth retrying after a reconnect (connection trouble), as opposed to a missing table or key. */
  retryable: Schema.Boolean,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `snapshot of ${this.table}: ${this.reason}`
  }
}
