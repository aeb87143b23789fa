import * as Schema from "effect/Schema"

/**
 * The state journal could not be opened, read or written. The message names
 * the file (and the byte offset for corruption) so an operator can act on it.
 */
export class StateStoreError extends Schema.TaggedError<StateStoreError>()("StateStoreError", {
  /** What the store was doing: "open", "lock", "replay", "append", "compact", ... */
  operation: Schema.String,
  path: Schema.String,
  detail: Schema.String,
  /** Byte offset in the file, for corruption. */
  offset: Schema.optional(Schema.Number),
  /** A shared backend's lost connection or hold: a new streaming run may claim it again. */
  retryable: Schema.optional(Schema.Boolean),
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    const at = this.offset === undefined ? "" : ` at byte offset ${this.offset}`
    return `state journal ${this.operation} failed: ${this.path}${at}: ${this.detail}`
  }
}

/** Node's errno code and text, for the `detail` of an I/O failure. */
export const describeIoError = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code
    return code === undefined ? cause.message : `${code}: ${cause.message}`
  }
  return String(cause)
}
