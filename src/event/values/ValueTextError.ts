import { Schema } from "effect"

/**
 * A column text that does not have the shape its type's output function
 * produces (a truncated array literal, a bytea without its `\x`, ...). It is
 * thrown from the per-row writers (plain functions on the hot path); the
 * pipeline turns it into a stop that never advances the LSN.
 */
export class ValueTextError extends Schema.TaggedError<ValueTextError>()("ValueTextError", {
  reason: Schema.String,
  /** The start of the offending text, at most 120 characters. */
  text: Schema.String
}) {
  override get message(): string {
    return `cannot convert PostgreSQL text value: ${this.reason}: ${JSON.stringify(this.text)}`
  }
}

export const valueTextError = (reason: string, text: string): ValueTextError =>
  new ValueTextError({ reason, text: text.length > 120 ? text.slice(0, 120) + "..." : text })
