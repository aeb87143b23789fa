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

/** The server's WAL position minus the confirmed LSN, in bytes (set at each scrape; NaN until both are known). */
export const replicationLagBytes = Metric.gauge("outboxx_replication_lag_bytes", {
  description: "Bytes of WAL between the server's current position (pg_current_wal_lsn) and the LSN confirmed by Outboxx"
})

/** Now minus the source commit time of the oldest change not yet acknowledged by Kafka (as Debezium's MilliSecondsBehindSource). */
export const replicationLagSeconds = Metric.gauge("outboxx_replication_lag_seconds", {
  description: "Seconds between now and the source commit time of the oldest change not yet acknowledged by Kafka; 0 when none is pending"
})

/** The server's WAL position as a number (pg_current_wal_lsn, or the replay LSN on a standby server). */
export const serverWalLsn = Metric.gauge("outboxx_server_wal_lsn", {
  description: "The server's current WAL position (pg_current_wal_lsn), as a number, polled every second"
})

/** WAL the server keeps for the slot: current position minus the slot's restart_lsn. */
export const slotRetainedWalBytes = Metric.gauge("outboxx_slot_retained_wal_bytes", {
  description: "Bytes of WAL PostgreSQL retains for the slot (current WAL position - restart_lsn)"
})

/** pg_replication_slots.safe_wal_size: WAL that may still be written before the slot is in danger; NaN when unlimited. */
export const slotSafeWalSizeBytes = Metric.gauge("outboxx_slot_safe_wal_size_bytes", {
  description: "Bytes of WAL that can still be written before the slot risks being invalidated (max_slot_wal_keep_size); NaN when unlimited"
})

/** 1 for the slot's current wal_status (reserved, extended, unreserved, lost, missing), 0 for the others. */
export const slotWalStatus = Metric.gauge("outboxx_slot_wal_status", {
  description: "1 for the slot's wal_status as the server reports it (reserved, extended, unreserved, lost; missing = no slot), else 0"
})

/** 1 while a walsender streams from the slot (this instance or another), as pg_replication_slots.active. */
export const slotActive = Metric.gauge("outboxx_slot_active", {
  description: "1 while some process streams from the slot (pg_replication_slots.active), else 0"
})

/** The LSN last confirmed to PostgreSQL, as a number. */
export const confirmedLsn = Metric.gauge("outboxx_confirmed_lsn", {
  description: "The LSN last confirmed (flushed) to PostgreSQL, as a number"
})

/** Records handed to Kafka and not yet acknowledged. */
export const inflightMessages = Metric.gauge("outboxx_inflight_messages", {
  description: "Kafka records sent and not yet acknowledged"
})

/**
 * Commit in PostgreSQL to the acknowledgement of the transaction's last
 * record by Kafka, one observation per transaction with records (when it
 * becomes confirmable). Buckets from 1 ms to ~65 s.
 */
export const endToEndLatencySeconds = Metric.histogram("outboxx_end_to_end_latency_seconds", {
  description: "Seconds from a source transaction's commit until Kafka acknowledged all its records, per transaction",
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

/** Changes Kafka refused for good and sent to a dead-letter topic (`on_error = "dead_letter"`), unlabelled. */
export const deadLettersTotal = Metric.counter("outboxx_dead_letters_total", {
  description: "Changes sent to a dead-letter topic because Kafka refused them for good",
  incremental: true
})

/** `outboxx.publish` messages, by what became of them: "published" to their topic, "dead_lettered", or "ignored" (no `[outbox]` here). */
export const outboxMessagesTotal = Metric.counter("outboxx_outbox_messages_total", {
  description: "Messages of outboxx.publish, by outcome: published, dead_lettered, ignored (this pipeline has no [outbox])",
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

/** One produce call to Kafka (a batch of records, possibly several requests), send to acknowledgement. */
export const kafkaProduceDurationSeconds = Metric.histogram("outboxx_kafka_produce_duration_seconds", {
  description: "Seconds from handing a batch to the Kafka client until every record in it is acknowledged",
  boundaries: Metric.exponentialBoundaries({ start: 0.0005, factor: 2, count: 18 })
})

/** Records per produce call, to read the batch sizes Kafka sees. */
export const kafkaProduceBatchRecords = Metric.histogram("outboxx_kafka_produce_batch_records", {
  description: "Records in one produce call",
  boundaries: Metric.exponentialBoundaries({ start: 1, factor: 4, count: 10 })
})

/** Rows a running snapshot still has to read, by the table's estimate (pg_class.reltuples), labelled `table`. */
export const snapshotRowsRemaining = Metric.gauge("outboxx_snapshot_rows_remaining", {
  description: "Estimated rows a running snapshot of the table has yet to read (0 once done)"
})

/** Snapshot tables by status, labelled `status` (running, done, failed). */
export const snapshotTables = Metric.gauge("outboxx_snapshot_tables", {
  description: "Tables whose snapshot is running, done or failed in this process"
})

/** Streaming restarts after a transient failure (a lost connection, a restarted server, ...). */
export const reconnectsTotal = Metric.counter("outboxx_reconnects_total", {
  description: "Streaming restarts after a transient failure",
  incremental: true
})

/** Failures talking to PostgreSQL, labelled `class`: the SQLSTATE class name or `connection`. */
export const postgresErrorsTotal = Metric.counter("outboxx_postgres_errors_total", {
  description: "Errors from PostgreSQL, by SQLSTATE class (connection = no answer at all)",
  incremental: true
})

/** /readyz as a metric: 1 when ready (an active instance streaming, or a healthy standby), else 0. */
export const ready = Metric.gauge("outboxx_ready", {
  description: "1 when /readyz answers 200 (streaming, or a healthy standby), else 0"
})

/** 1 while PostgreSQL answers (the replication stream, or the slot monitor while nothing streams). */
export const postgresConnected = Metric.gauge("outboxx_postgres_connected", {
  description: "1 while PostgreSQL answers, else 0"
})

/** 1 while Kafka takes records (or answers the idle probe), else 0. */
export const kafkaConnected = Metric.gauge("outboxx_kafka_connected", {
  description: "1 while Kafka takes records or answers the idle probe, else 0"
})

/** 1 when this process holds the slot, 0 while it waits as a standby. */
export const activeRole = Metric.gauge("outboxx_role_active", {
  description: "1 while this instance streams from the slot (active), 0 while it waits (standby or starting)"
})

/** 1, labelled `version` and `node_version`. */
export const buildInfo = Metric.gauge("outboxx_build_info", {
  description: "Always 1; the labels say which Outboxx and Node.js run"
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
  serverWalLsn,
  slotRetainedWalBytes,
  slotSafeWalSizeBytes,
  slotWalStatus,
  slotActive,
  confirmedLsn,
  inflightMessages,
  endToEndLatencySeconds,
  snapshotRowsTotal,
  kafkaCircuitOpen,
  signalsRejectedTotal,
  deadLettersTotal,
  outboxMessagesTotal,
  capturedTablesMissing,
  kafkaProduceDurationSeconds,
  kafkaProduceBatchRecords,
  snapshotRowsRemaining,
  snapshotTables,
  reconnectsTotal,
  postgresErrorsTotal,
  activeRole,
  ready,
  postgresConnected,
  kafkaConnected,
  buildInfo
] as const
