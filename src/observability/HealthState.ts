/**
 * What the process knows about its own health, in one place: the pipeline
 * writes it as things happen, the HTTP endpoints (/readyz, /status) and the
 * logs read it. A SubscriptionRef so a watcher can also follow the changes.
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

/** "starting" until the pipeline has a slot; "standby" when another instance holds it. */
export type Role = "starting" | "active" | "standby"

export interface SnapshotProgress {
  readonly status: "pending" | "running" | "done" | "failed"
  readonly rows: number
}

export interface Health {
  readonly role: Role
  readonly postgres: { readonly connected: boolean }
  readonly kafka: { readonly connected: boolean }
  /** True while changes flow from the slot towards Kafka. */
  readonly streaming: boolean
  readonly slot: string
  readonly publication: string
  /** Last LSN confirmed to PostgreSQL, as `"0/16B3748"`. */
  readonly confirmedLsn: string | null
  /** The server's WAL end as last reported by the walsender. */
  readonly serverLsn: string | null
  readonly lagBytes: number | null
  readonly lagSeconds: number | null
  /** Snapshot progress by `schema.table`. */
  readonly snapshots: Readonly<Record<string, SnapshotProgress>>
  /** The last error that stopped streaming, for operators; never contains secrets. */
  readonly lastError: string | null
  readonly startedAt: string
}

export const initialHealth = (slot: string, publication: string, startedAt: Date = new Date()): Health => ({
  role: "starting",
  postgres: { connected: false },
  kafka: { connected: false },
  streaming: false,
  slot,
  publication,
  confirmedLsn: null,
  serverLsn: null,
  lagBytes: null,
  lagSeconds: null,
  snapshots: {},
  lastError: null,
  startedAt: startedAt.toISOString()
})

/** Why the process is not ready, or undefined when it is. */
export const notReadyReason = (health: Health): string | undefined => {
  if (!health.postgres.connected) return "postgres not connected"
  if (!health.kafka.connected) return "kafka not connected"
  if (health.role === "standby") return "standby: another instance holds the slot"
  if (!health.streaming) return "not streaming"
  return undefined
}

export interface HealthStateShape {
  readonly get: Effect.Effect<Health>
  readonly update: (f: (health: Health) => Health) => Effect.Effect<void>
  readonly changes: Stream.Stream<Health>
}

/** Nobody reads this one: updates are dropped. */
const detached: HealthStateShape = {
  get: Effect.sync(() => initialHealth("", "")),
  update: () => Effect.void,
  changes: Stream.empty
}

export class HealthState extends Context.Reference<HealthStateShape>("outboxx/HealthState", {
  defaultValue: () => detached
}) {
  /** A fresh state for one slot and publication. */
  static readonly make = (slot: string, publication: string): Effect.Effect<HealthStateShape> =>
    Effect.map(SubscriptionRef.make(initialHealth(slot, publication)), (ref) => ({
      get: SubscriptionRef.get(ref),
      update: (f) => SubscriptionRef.update(ref, f),
      changes: SubscriptionRef.changes(ref)
    }))

  static readonly layer = (slot: string, publication: string): Layer.Layer<never> =>
    Layer.effect(HealthState, HealthState.make(slot, publication))
}
