/**
 * What the process knows about its own health, in one place: the pipeline
 * writes it as things happen, the HTTP endpoints (/readyz, /status, /metrics)
 * and the logs read it.
 *
 * Two parts:
 * - `Health`, a SubscriptionRef of plain data, changed when something
 *   happens (a connection lost or back, the role, a snapshot's progress, the
 *   slot as the server shows it).
 * - `LiveState`, plain mutable numbers that move with every change (the
 *   server's WAL position, the confirmed LSN, the oldest undelivered commit,
 *   per-stream counters). Writers set fields; readers compute lag from them
 *   at the moment they answer (`lagOf`), so a scrape is never older than the
 *   data behind it and no allocation happens per change.
 *
 * A Context.Reference: code that writes health needs nothing provided. Its
 * default is detached (writes go nowhere); the CLI and `Outboxx.layer`
 * provide a real one (`HealthState.layer`) that the endpoints read.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { formatLsn } from "../postgres/lsn.js"

/** "starting" until the pipeline knows; "standby" while another instance holds the slot. */
export type Role = "starting" | "active" | "standby"

export interface SnapshotProgress {
  readonly status: "pending" | "running" | "done" | "failed"
  readonly rows: number
}

/** One server connection as the process last saw it. */
export interface Connection {
  readonly connected: boolean
  /** Why it is not connected (the last error), null while connected or before the first try. */
  readonly error: string | null
}

export const connected: Connection = { connected: true, error: null }
export const disconnected = (error: string): Connection => ({ connected: false, error })

/** The replication slot as PostgreSQL shows it (pg_replication_slots), read by SlotMonitor. */
export interface SlotView {
  readonly exists: boolean
  readonly active: boolean
  readonly activePid: number | null
  readonly confirmedFlushLsn: string | null
  readonly restartLsn: string | null
  /** WAL the server keeps for the slot (current WAL position - restart_lsn). */
  readonly retainedBytes: number | null
  /** "reserved" | "extended" | "unreserved" | "lost"; null on servers before 13 or without the slot. */
  readonly walStatus: string | null
  /** WAL that may still be written before the slot is in danger (max_slot_wal_keep_size); null = unlimited. */
  readonly safeWalSizeBytes: number | null
  readonly checkedAt: string
}

export interface Health {
  readonly role: Role
  readonly postgres: Connection
  readonly kafka: Connection
  /** True while changes flow from the slot towards Kafka. */
  readonly streaming: boolean
  readonly slot: string
  readonly publication: string
  /** The slot as the server last showed it (null before the first look). */
  readonly slotState: SlotView | null
  /** Snapshot progress by `schema.table`. */
  readonly snapshots: Readonly<Record<string, SnapshotProgress>>
  /** The last error that stopped or held streaming, for operators; never contains secrets. */
  readonly lastError: string | null
  readonly startedAt: string
}

/** What a running streaming scope exposes to the readers (CheckpointTracker and ReplicationStream). */
export interface StreamingView {
  /** The LSN confirmable to the server now. */
  readonly confirmed: () => number
  /** The highest LSN received from the walsender (data or keepalive). */
  readonly received: () => number
  /** Records handed to Kafka and not acknowledged. */
  readonly inFlight: () => number
  /** Source commit time (Unix ms) of the oldest transaction not yet acknowledged, undefined when none. */
  readonly oldestPendingCommitMs: () => number | undefined
}

/** A stream's delivery, as its actor counts it (plain fields, set per batch). */
export class StreamStats {
  /** "idle" (nothing queued), "delivering", "retrying" (Kafka refused, backing off) or "failed". */
  state: "idle" | "delivering" | "retrying" | "failed" = "idle"
  delivered = 0
  deadLettered = 0
  lastDeliveredAt = 0
  lastError: string | null = null
}

export class LiveState {
  /** The server's WAL position (pg_current_wal_lsn; the replay LSN on a standby server), 0 until known. */
  serverWalLsn = 0
  /** The slot's confirmed_flush_lsn as the server last showed it, 0 until known. */
  slotConfirmedLsn = 0
  /** Set while streaming runs. */
  streaming: StreamingView | undefined = undefined
  /**
   * When streaming stopped with changes not yet acknowledged: the oldest one's
   * commit time. They are sent again after the restart, so they are still behind.
   */
  strandedCommitMs: number | undefined = undefined
  readonly streams = new Map<string, StreamStats>()

  stream(name: string): StreamStats {
    let stats = this.streams.get(name)
    if (stats === undefined) this.streams.set(name, stats = new StreamStats())
    return stats
  }

  /** Streaming has started with this view; any stranded changes are its to send now. */
  attach(view: StreamingView): void {
    this.streaming = view
    this.strandedCommitMs = undefined
  }

  /** Streaming stopped: remember the oldest change it left undelivered. */
  detach(): void {
    const view = this.streaming
    if (view === undefined) return
    this.streaming = undefined
    const oldest = view.oldestPendingCommitMs()
    if (oldest !== undefined && view.inFlight() > 0) this.strandedCommitMs = Math.min(oldest, this.strandedCommitMs ?? oldest)
    if (view.confirmed() > this.slotConfirmedLsn) this.slotConfirmedLsn = view.confirmed()
  }
}

/** Lag as an operator means it, computed from the live numbers at the moment of asking. */
export interface Lag {
  /** The LSN confirmed (to the server, or confirmable now), 0 when unknown. */
  readonly confirmedLsn: number
  /** The server's WAL position, 0 when unknown. */
  readonly serverLsn: number
  /** serverLsn - confirmedLsn; NaN until both are known. */
  readonly bytes: number
  /** now - commit time of the oldest change not yet acknowledged by Kafka; 0 when none is pending. */
  readonly seconds: number
}

export const lagOf = (live: LiveState, nowMs: number): Lag => {
  const view = live.streaming
  const confirmed = Math.max(view?.confirmed() ?? 0, live.slotConfirmedLsn)
  // The walsender never sends past the server's WAL end: received bounds it from below between polls.
  const server = Math.max(live.serverWalLsn, view?.received() ?? 0)
  const bytes = server > 0 && confirmed > 0 ? Math.max(0, server - confirmed) : Number.NaN
  const oldest = view !== undefined ? view.oldestPendingCommitMs() : live.strandedCommitMs
  const seconds = oldest === undefined ? 0 : Math.max(0, nowMs - oldest) / 1000
  return { confirmedLsn: confirmed, serverLsn: server, bytes, seconds }
}

export const initialHealth = (slot: string, publication: string, startedAt: Date = new Date()): Health => ({
  role: "starting",
  postgres: { connected: false, error: null },
  kafka: { connected: false, error: null },
  streaming: false,
  slot,
  publication,
  slotState: null,
  snapshots: {},
  lastError: null,
  startedAt: startedAt.toISOString()
})

/**
 * Why the process is not ready, or undefined when it is. A standby is ready:
 * it is healthy and waiting, and restarting it would only lose the standby
 * (docs/observability.md: use /status `role` to tell it from the active one).
 */
export const notReadyReason = (health: Health): string | undefined => {
  if (!health.postgres.connected) {
    return `postgres not connected${health.postgres.error === null ? "" : `: ${health.postgres.error}`}`
  }
  if (!health.kafka.connected) return `kafka not connected${health.kafka.error === null ? "" : `: ${health.kafka.error}`}`
  if (health.role === "standby") return undefined
  if (!health.streaming) return `not streaming${health.lastError === null ? "" : `: ${health.lastError}`}`
  return undefined
}

/** GET /status: the health, the lag as of now, and each stream's delivery. */
export interface Status extends Health {
  readonly ready: boolean
  readonly confirmedLsn: string | null
  readonly serverLsn: string | null
  /** null until both the server's WAL position and the confirmed LSN are known. */
  readonly lagBytes: number | null
  readonly lagSeconds: number
  readonly inFlight: number
  readonly streams: Readonly<Record<string, StreamStatus>>
}

export interface StreamStatus {
  readonly state: StreamStats["state"]
  readonly delivered: number
  readonly deadLettered: number
  readonly lastDeliveredAt: string | null
  readonly lastError: string | null
}

export const statusOf = (health: Health, live: LiveState, nowMs: number): Status => {
  const lag = lagOf(live, nowMs)
  const streams: Record<string, StreamStatus> = {}
  for (const [name, s] of live.streams) {
    streams[name] = {
      state: s.state,
      delivered: s.delivered,
      deadLettered: s.deadLettered,
      lastDeliveredAt: s.lastDeliveredAt === 0 ? null : new Date(s.lastDeliveredAt).toISOString(),
      lastError: s.lastError
    }
  }
  return {
    ...health,
    ready: notReadyReason(health) === undefined,
    confirmedLsn: lag.confirmedLsn > 0 ? formatLsn(lag.confirmedLsn) : null,
    serverLsn: lag.serverLsn > 0 ? formatLsn(lag.serverLsn) : null,
    lagBytes: Number.isNaN(lag.bytes) ? null : lag.bytes,
    lagSeconds: lag.seconds,
    inFlight: live.streaming?.inFlight() ?? 0,
    streams
  }
}

export interface HealthStateShape {
  readonly get: Effect.Effect<Health>
  readonly update: (f: (health: Health) => Health) => Effect.Effect<void>
  readonly changes: Stream.Stream<Health>
  readonly live: LiveState
}

/** Nobody reads this one: updates are dropped. */
const detached = (): HealthStateShape => ({
  get: Effect.sync(() => initialHealth("", "")),
  update: () => Effect.void,
  changes: Stream.empty,
  live: new LiveState()
})

export class HealthState extends Context.Reference<HealthStateShape>("outboxx/HealthState", {
  defaultValue: detached
}) {
  /** A fresh state for one slot and publication. */
  static readonly make = (slot: string, publication: string): Effect.Effect<HealthStateShape> =>
    Effect.map(SubscriptionRef.make(initialHealth(slot, publication)), (ref) => ({
      get: SubscriptionRef.get(ref),
      update: (f) => SubscriptionRef.update(ref, f),
      changes: SubscriptionRef.changes(ref),
      live: new LiveState()
    }))

  static readonly layer = (slot: string, publication: string): Layer.Layer<never> =>
    Layer.effect(HealthState, HealthState.make(slot, publication))
}
