/**
 * What streaming reports, every 200 ms: the confirmed LSN to the state
 * journal (at most once per status interval: each append is an fsync), the
 * metrics and the health. On a graceful stop, the last confirmed LSN is
 * journaled once more.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type { CheckpointTracker } from "../checkpoint/CheckpointTracker.js"
import { HealthState } from "../observability/HealthState.js"
import * as Metrics from "../observability/metrics.js"
import { formatLsn } from "../postgres/lsn.js"
import type { ReplicationStream } from "../replication/ReplicationSource.js"
import type { Router } from "../route/Router.js"

export interface ReporterOptions {
  readonly slot: string
  readonly startLsn: number
  readonly tracker: CheckpointTracker
  readonly source: ReplicationStream
  readonly router: Router
  readonly statusInterval: Duration.Duration
  /** Runs when the confirmed LSN advances (the journal). */
  readonly onConfirmed?: ((lsn: number) => Effect.Effect<void>) | undefined
}

/** Starts reporting in the scope; returns the final journal write for the graceful stop. */
export const startReporter = Effect.fnUntraced(function*(options: ReporterOptions) {
  const { router, slot, source, tracker } = options
  const health = yield* HealthState
  let lastReported = options.startLsn
  let lastAdvanceAt = Date.now()
  let lastJournaled = options.startLsn
  let lastJournaledAt = 0
  const statusIntervalMs = Duration.toMillis(options.statusInterval)

  const report = Effect.gen(function*() {
    const confirmed = tracker.confirmable()
    const inFlight = tracker.inFlight()
    const now = Date.now()
    if (confirmed > lastReported) {
      lastReported = confirmed
      lastAdvanceAt = now
    }
    if (confirmed > lastJournaled && now - lastJournaledAt >= statusIntervalMs) {
      lastJournaled = confirmed
      lastJournaledAt = now
      if (options.onConfirmed) yield* options.onConfirmed(confirmed)
    }
    const lagBytes = Math.max(0, source.receivedLsn() - confirmed)
    // Staleness: how long undelivered changes have been waiting for the confirmed LSN to move.
    const lagSeconds = inFlight === 0 ? 0 : (now - lastAdvanceAt) / 1000
    yield* Metric.update(Metrics.confirmedLsn, confirmed)
    yield* Metric.update(Metrics.inflightMessages, inFlight)
    yield* Metric.update(Metrics.replicationLagBytes, lagBytes)
    yield* Metric.update(Metrics.replicationLagSeconds, lagSeconds)
    yield* Metric.update(Metrics.walBytesTotal, source.takeReceivedBytes())
    const stats = router.takeStats()
    if (stats.transactions > 0) yield* Metric.update(Metrics.transactionsTotal, stats.transactions)
    for (const [key, count] of stats.events) {
      const [stream, table, op] = key.split("\u0000") as [string, string, string]
      yield* Metric.update(Metric.withAttributes(Metrics.eventsTotal, { stream, table, op }), count)
    }
    yield* health.update((h) => ({
      ...h,
      role: "active",
      streaming: true,
      postgres: { connected: true },
      slot,
      confirmedLsn: formatLsn(confirmed),
      serverLsn: formatLsn(source.receivedLsn()),
      lagBytes,
      lagSeconds
    }))
  })
  yield* report.pipe(Effect.repeat(Schedule.spaced(Duration.millis(200))), Effect.forkScoped)

  /** The last confirmed LSN to the journal, when it moved since the last write. */
  const journalFinal = Effect.suspend(() => {
    const confirmed = tracker.confirmable()
    return confirmed > lastJournaled && options.onConfirmed ? options.onConfirmed(confirmed) : Effect.void
  })
  return { journalFinal }
})
