import type { Backlog } from "../backlog.js"

export const READERS = [
  "server_decode",
  "pg_recvlogical",
  "kafka_producer_perf",
  "outboxx",
  "outboxx_debezium",
  "outboxx_avro",
  "outboxx_cloudevents",
  "outboxx_publish",
  "outboxx_outbox_table",
  "debezium"
] as const
export type ReaderName = (typeof READERS)[number]

/** One reader run: what it moved, in how long, at what cost. */
export interface ReaderResult {
  readonly reader: ReaderName
  readonly events: number
  /** Drain time: from the first event out to the last one delivered (see docs/benchmark.md). */
  readonly seconds: number
  /** Payload bytes delivered (pgoutput bytes for the PostgreSQL readers, Kafka log bytes for the others). */
  readonly bytes: number
  readonly cpuS: number
  readonly peakRssMb: number
  /** Process start to first event delivered, when it applies (JVM/Node startup, connecting). */
  readonly startupS?: number
  /** Events the reader had to deliver, when not the change backlog's (the outbox readers). */
  readonly expected?: number
}

export interface ReaderContext {
  readonly backlog: Backlog
  /** This run's copy of the template slot. */
  readonly slot: string
  /** A scratch directory for configs, logs and offsets of this run. */
  readonly workDir: string
  readonly timeoutMs: number
  readonly log: (line: string) => void
  /** Average record size seen on Kafka in this benchmark so far (for the producer perf tool). */
  readonly recordSize: number
  /** pgoutput bytes of the backlog as server_decode counted them (0 before it ran). */
  readonly pgoutputBytes: number
  /** Events of each kind in the outbox backlog (the outbox readers). */
  readonly outboxEvents: number
}
