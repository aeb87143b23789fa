/**
 * What streaming reports, every 200 ms: the confirmed LSN to the state
 * journal (at most once per status interval: each append is an fsync) and
 * the counters and latencies the route loop and the tracker accumulated. On a
 * graceful stop, the last confirmed LSN is journaled once more.
 *
 * Lag is not computed here: the live view registered in HealthState lets
 * each scrape and /status compute it at the moment it is asked.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type { CheckpointTracker } from "../checkpoint/CheckpointTracker.js"
import { connected, HealthState } from "../observability/HealthState.js"
import * as Metrics from "../observability/metrics.js"
import type { ReplicationStream } from "../replication/ReplicationSource.js"
import type { Router } from "../route/Router.js"
import type { PublishRoute } from "../outbox/route.js"
import type { BatchTracer } from "../observability/BatchTrace.js"

export interface ReporterOptions {
  readonly startLsn: number
  readonly tracker: CheckpointTracker
  readonly source: ReplicationStream
  readonly router: Router
  /** The WAL-message outbox's routing, when `[outbox]` is configured (its counts). */
  readonly publish?: PublishRoute | undefined
  readonly statusInterval: Duration.Duration
  /** Batch traces end when their checkpoint reaches the server. */
  readonly traces?: BatchTracer | undefined
  /** Runs when the confirmed LSN advances (the journal). */
  readonly onConfirmed?: ((lsn: number) => Effect.Effect<void>) | undefined
}

/** Commit-to-acknowledged latencies kept between two reports (a backlog of tiny transactions stays bounded). */
const maxLatencySamples = 16_384

/** Starts reporting in the scope; returns the final journal write for the graceful stop. */
export const startReporter = Effect.fnUntraced(function*(options: ReporterOptions) {
  const { router, source, tracker } = options
  const health = yield* HealthState
  let lastJournaled = options.startLsn
  let lastJournaledAt = 0
  const statusIntervalMs = Duration.toMillis(options.statusInterval)

  // The tracker tells each transaction as it becomes confirmable; the histogram is fed here, off the hot path.
  const latencies: Array<number> = []
  tracker.onDone = (commitTimeMs, records) => {
    if (records > 0 && latencies.length < maxLatencySamples) latencies.push(Date.now() - commitTimeMs)
  }
  // Lag and in-flight are read from these at each scrape and /status (HealthState.lagOf).
  health.live.attach({
    confirmed: () => tracker.confirmable(),
    received: () => source.receivedLsn(),
    inFlight: () => tracker.inFlight(),
    oldestPendingCommitMs: () => tracker.oldestPendingCommitMs()
  })
  yield* Effect.addFinalizer(() => Effect.sync(() => health.live.detach()))
  yield* health.update((h) => ({ ...h, role: "active", streaming: true, lastError: null, postgres: connected }))

  const report = Effect.gen(function*() {
    const confirmed = tracker.confirmable()
    const now = Date.now()
    if (confirmed > lastJournaled && now - lastJournaledAt >= statusIntervalMs) {
      lastJournaled = confirmed
      lastJournaledAt = now
      if (options.onConfirmed) yield* options.onConfirmed(confirmed)
    }
    yield* Metric.update(Metrics.walBytesTotal, source.takeReceivedBytes())
    const stats = router.takeStats()
    if (stats.transactions > 0) yield* Metric.update(Metrics.transactionsTotal, stats.transactions)
    for (const [key, count] of stats.events) {
      const [stream, table, op] = key.split("\u0000") as [string, string, string]
      yield* Metric.update(Metric.withAttributes(Metrics.eventsTotal, { stream, table, op }), count)
    }
    if (stats.ignoredPublished > 0) {
      yield* Metric.update(Metric.withAttributes(Metrics.outboxMessagesTotal, { outcome: "ignored" }), stats.ignoredPublished)
      // Loud once per report: a pipeline of this database without [outbox] sees them (another pipeline may deliver them).
      yield* Effect.logWarning(
        `${stats.ignoredPublished} outboxx.publish message(s) not delivered by this pipeline: it has no [outbox] section ` +
          `(deliver them from exactly one pipeline of this database by configuring [outbox] there)`
      )
    }
    if (options.publish !== undefined) {
      const counts = options.publish.takeCounts()
      if (counts.published > 0) yield* Metric.update(Metric.withAttributes(Metrics.outboxMessagesTotal, { outcome: "published" }), counts.published)
      if (counts.deadLettered > 0) {
        yield* Metric.update(Metric.withAttributes(Metrics.outboxMessagesTotal, { outcome: "dead_lettered" }), counts.deadLettered)
        yield* Metric.update(Metrics.deadLettersTotal, counts.deadLettered)
        yield* Effect.logError(`outbox: ${counts.deadLettered} message(s) sent to the dead-letter topic (each with its reason)`)
      }
    }
    for (let i = 0; i < latencies.length; i++) {
      yield* Metric.update(Metrics.endToEndLatencySeconds, Math.max(0, latencies[i]!) / 1000)
    }
    latencies.length = 0
    if (options.traces !== undefined) options.traces.checkpointed(source.sentFlushLsn())
  })
  // Untraced: a journal write every status interval is not a trace anyone wants.
  yield* report.pipe(Effect.repeat(Schedule.spaced(Duration.millis(200))), Effect.withTracerEnabled(false), Effect.forkScoped)

  /** The last confirmed LSN to the journal, when it moved since the last write. */
  const journalFinal = Effect.suspend(() => {
    const confirmed = tracker.confirmable()
    return confirmed > lastJournaled && options.onConfirmed ? options.onConfirmed(confirmed) : Effect.void
  })
  return { journalFinal }
})
