/**
 * The logical decoding messages (pg_logical_emit_message) outboxx writes into
 * the WAL and reads back from its own stream: chunk watermarks, and snapshot
 * requests from `outboxx snapshot --table`. Nothing is written to user tables
 * and no signal table is needed. Decoding is forgiving: a message that is not
 * ours, or malformed, is ignored (other tools may use the same prefixes).
 * Signals are authenticated (signalKey.ts); watermarks name a window id only
 * this process knows, so a forged one matches no window.
 */

/** Prefix of the low and high watermarks of incremental snapshot chunks. */
export const watermarkPrefix = "outboxx"
/** Prefix of requests to a running pipeline (see docs/snapshots.md). */
export const signalPrefix = "outboxx-signal"

export interface Watermark {
  readonly kind: "low" | "high"
  /** The chunk window's id. */
  readonly id: string
  readonly table: string
  readonly chunk: number
}

export interface SnapshotSignal {
  readonly type: "snapshot"
  /** Only the pipeline streaming this slot acts on it. */
  readonly slot: string
  readonly tables: ReadonlyArray<string>
  /** ISO timestamp; a replayed request older than the table's last snapshot start is ignored. */
  readonly requestedAt: string
  /** HMAC-SHA256 of the other fields under the signal key (signalKey.ts); absent = unauthenticated. */
  readonly mac?: string | undefined
}

const decoder = new TextDecoder("utf-8", { fatal: false })

const parseJson = (content: Uint8Array): unknown => {
  try {
    return JSON.parse(decoder.decode(content))
  } catch {
    return undefined
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const encodeWatermark = (watermark: Watermark): string => JSON.stringify(watermark)

export const decodeWatermark = (content: Uint8Array): Watermark | undefined => {
  const value = parseJson(content)
  if (!isRecord(value)) return undefined
  const { kind, id, table, chunk } = value
  if ((kind !== "low" && kind !== "high") || typeof id !== "string" || typeof table !== "string" || typeof chunk !== "number") {
    return undefined
  }
  return { kind, id, table, chunk }
}

export const encodeSignal = (signal: SnapshotSignal): string => JSON.stringify(signal)

export const decodeSignal = (content: Uint8Array): SnapshotSignal | undefined => {
  const value = parseJson(content)
  if (!isRecord(value)) return undefined
  const { type, slot, tables, requestedAt, mac } = value
  if (type !== "snapshot" || typeof slot !== "string" || typeof requestedAt !== "string") return undefined
  if (!Array.isArray(tables) || !tables.every((t) => typeof t === "string")) return undefined
  return { type, slot, tables: tables as Array<string>, requestedAt, mac: typeof mac === "string" ? mac : undefined }
}
