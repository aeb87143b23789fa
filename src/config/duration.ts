/**
 * Configuration durations: an integer or decimal followed by a unit, e.g.
 * "500ms", "10s", "1.5s", "5m", "1h". Also "us" and "d". "0s" is zero.
 */
import * as Duration from "effect/Duration"

const pattern = /^(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d)$/

const millisPerUnit: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

export const durationHint = `a duration like "500ms", "10s", "5m" or "1h"`

/** undefined when the text is not a duration. */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const match = pattern.exec(text.trim())
  if (match === null) return undefined
  const millis = Number(match[1]) * millisPerUnit[match[2]]
  return Number.isFinite(millis) ? Duration.millis(millis) : undefined
}

/** The shortest config-syntax spelling of a duration, the inverse of `parseDuration`. */
export const formatDuration = (duration: Duration.Duration): string => {
  const millis = Duration.toMillis(duration)
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (millis >= size && millis % size === 0) return `${millis / size}${unit}`
  }
  return `${millis}ms`
}
