/**
 * Every metric Outboxx exports. The names are the exact Prometheus names
 * (INTERFACE.md): the exporter in `http.ts` adds no prefix, and Effect's
 * Prometheus formatter does not append `_total`, so what is written here is
 * what a scraper sees.
 *
 * The pipeline updates these with `Metric.update` (counters add, gauges set)
 * and `Metric.withAttributes` for the labelled ones, e.g.
 * `Metric.update(Metric.withAttributes(eventsTotal, { stream, table, op }), 1)`.
 */
import * as Metric from "effect/Metric"

/** Change events emitted, labelled `stream`, `table`, `op` (c/u/d/r/t). */
export const eventsTotal = Metric.counter("outboxx_events_total", {
  description: "Change events emitted, by stream, table and op",
  incremental: true
})

/** Source transactions fully handled (their commit seen). */
export const transactionsTotal = Metric.counter("outboxx_transactions_total", {
  description: "Source transactions processed",
  incremental: true
})

/** Bytes of WAL payload (XLogData) received from the walsender. */
export const walBytesTotal = Metric.counter("outboxx_wal_bytes_total", {
  description: "WAL bytes received from PostgreSQL",
  incremental: true
})

/** Kafka records acknowledged, labelled `topic`. */
export const kafkaMessagesTotal = Metric.counter("outboxx_kafka_messages_total", {
  description: "Kafka records acknowledged, by topic",
  incremental: true
})

/** Failed Kafka produce attempts (each retry counts). */
export const kafkaErrorsTotal = Metric.counter("outboxx_kafka_errors_total", {
  description: "Kafka produce errors",
  incremental: true
})

/** Server WAL end minus the confirmed flush LSN, in bytes. */
export const replicationLagBytes = Metric.gauge("outboxx_replication_lag_bytes", {
  description: "Bytes of WAL between the server's current position and the confirmed LSN"
})

/** Now minus the commit time of the last confirmed transaction. */
export const replicationLagSeconds = Metric.gauge("outboxx_replication_lag_seconds", {
  description: "Seconds between now and the commit time of the last confirmed transaction"
})

/** The LSN last confirmed to PostgreSQL, as a number. */
export const confirmedLsn = Metric.gauge("outboxx_confirmed_lsn", {
  description: "The LSN last confirmed (flushed) to PostgreSQL, as a number"
})

/** Records handed to Kafka and not yet acknowledged. */
export const inflightMessages = Metric.gauge("outboxx_inflight_messages", {
  description: "Kafka records sent and not yet acknowledged"
})

/** Commit in PostgreSQL to Kafka ack, per record. Buckets from 1ms to ~65s. */
export const endToEndLatencySeconds = Metric.histogram("outboxx_end_to_end_latency_seconds", {
  description: "Seconds from the source commit to the Kafka acknowledgement",
  boundaries: Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 18 })
})

/** Rows read by snapshots, labelled `table` (`schema.table`). */
export const snapshotRowsTotal = Metric.counter("outboxx_snapshot_rows_total", {
  description: "Rows read by snapshots, by table",
  incremental: true
})

/** 1 while the Kafka circuit breaker is open (deliveries held), else 0. */
export const kafkaCircuitOpen = Metric.gauge("outboxx_kafka_circuit_open", {
  description: "1 while the Kafka circuit breaker is open and deliveries are held, else 0"
})

/** Changes Kafka refused for good and sent to a dead-letter topic (`on_error = "dead_letter"`), labelled nothing. */
export const deadLettersTotal = Metric.counter("outboxx_dead_letters_total", {
  description: "Changes sent to a dead-letter topic because Kafka refused them for good",
  incremental: true
})

/** Configured tables that no longer exist (dropped or renamed while streaming; see TableWatch.ts). */
export const capturedTablesMissing = Metric.gauge("outboxx_captured_tables_missing", {
  description: "Configured tables that were dropped or renamed while streaming; their changes stopped"
})

/** Signals (logical messages with our signal prefix) refused: not authenticated by the signal key. */
export const signalsRejectedTotal = Metric.counter("outboxx_signals_rejected_total", {
  description: "Signals refused because their MAC did not verify (someone without the signal key wrote them)",
  incremental: true
})

/** All metrics, for tests and for documentation. */
export const allMetrics = [
  eventsTotal,
  transactionsTotal,
  walBytesTotal,
  kafkaMessagesTotal,
  kafkaErrorsTotal,
  replicationLagBytes,
  replicationLagSeconds,
  confirmedLsn,
  inflightMessages,
  endToEndLatencySeconds,
  snapshotRowsTotal,
  kafkaCircuitOpen,
  signalsRejectedTotal,
  deadLettersTotal,
  capturedTablesMissing
] as const
