/**
 * debezium: Debezium's PostgreSQL connector on Kafka Connect standalone (jars
 * from dev/debezium.sh), on the slot copy: pgoutput, no snapshot, JSON without
 * schemas, rows unwrapped by ExtractNewRecordState, deletes kept as one record
 * (rewrite, no tombstone) so one change is one record, decimals as strings
 * (outboxx's exact form). Producer and connector queues tuned for throughput
 * the way a fair user would. Timed until every change is in Kafka, then SIGTERM.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import type { Backlog } from "../backlog.js"
import { drainIntoTopic } from "../lib/drain.js"
import { startMeasured, type Measured } from "../lib/proc.js"
import { createTopic, deleteTopics, devDir, kafkaBroker, pgPort, runName, withAdmin } from "../lib/servers.js"
import { KAFKA_JVM_OPTS, PRODUCER_TUNING } from "./kafkaProducerPerf.js"
import type { ReaderContext, ReaderResult } from "./types.js"

export const debeziumLib = path.join(devDir, "debezium", "lib")

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

const properties = (entries: Record<string, string>): string =>
  Object.entries(entries).map(([key, value]) => `${key}=${value}`).join("\n") + "\n"

/** Writes the worker, connector and logging files and starts Connect standalone. */
export const startDebezium = async (options: {
  readonly workDir: string
  readonly backlog: Pick<Backlog, "database" | "publication" | "table">
  readonly slot: string
  readonly topicPrefix: string
  readonly timeoutMs: number
  /** Latency mode: keep the commit time (`source.ts_ms`) in the unwrapped row as `__source_ts_ms`. */
  readonly commitTime?: boolean
  /** Snapshot benchmark: `initial_only` (the slot is Debezium's own, created by it). Default `no_data`. */
  readonly snapshotMode?: "no_data" | "initial_only"
}): Promise<Measured> => {
  if (!fs.existsSync(debeziumLib)) throw new Error(`no Debezium jars in ${debeziumLib}: run bash dev/debezium.sh fetch`)
  const { workDir } = options
  const worker = path.join(workDir, "worker.properties")
  const connector = path.join(workDir, "connector.properties")
  const log4j = path.join(workDir, "log4j2.properties")
  fs.writeFileSync(
    worker,
    properties({
      "bootstrap.servers": kafkaBroker,
      "key.converter": "org.apache.kafka.connect.json.JsonConverter",
      "value.converter": "org.apache.kafka.connect.json.JsonConverter",
      "key.converter.schemas.enable": "false",
      "value.converter.schemas.enable": "false",
      "offset.storage.file.filename": path.join(workDir, "connect.offsets"),
      "offset.flush.interval.ms": "10000",
      // The REST API is not used; keep it on loopback.
      listeners: `http://127.0.0.1:${await freePort()}`,
      "plugin.discovery": "only_scan",
      ...Object.fromEntries(Object.entries(PRODUCER_TUNING).map(([key, value]) => [`producer.${key}`, value]))
    })
  )
  fs.writeFileSync(
    connector,
    properties({
      name: "bench-debezium",
      "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
      "tasks.max": "1",
      "plugin.name": "pgoutput",
      "database.hostname": "127.0.0.1",
      "database.port": String(pgPort),
      "database.user": "postgres",
      "database.password": "",
      "database.dbname": options.backlog.database,
      "topic.prefix": options.topicPrefix,
      "table.include.list": `public.${options.backlog.table}`,
      "slot.name": options.slot,
      "publication.name": options.backlog.publication,
      "publication.autocreate.mode": "disabled",
      "snapshot.mode": options.snapshotMode ?? "no_data",
      "decimal.handling.mode": "string",
      "tombstones.on.delete": "false",
      // Bigger than the defaults (2048 / 8192): what a user tuning for throughput sets.
      "max.batch.size": "8192",
      "max.queue.size": "32768",
      "poll.interval.ms": "100",
      transforms: "unwrap",
      "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
      "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
      ...(options.commitTime === true ? { "transforms.unwrap.add.fields": "source.ts_ms" } : {})
    })
  )
  fs.writeFileSync(
    log4j,
    `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${path.join(workDir, "connect.log")}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.debezium.name = io.debezium
logger.debezium.level = info
`
  )
  return startMeasured(
    "java",
    [
      ...KAFKA_JVM_OPTS,
      `-Dlog4j2.configurationFile=${log4j}`,
      "-cp", path.join(debeziumLib, "*"),
      "org.apache.kafka.connect.cli.ConnectStandalone",
      worker,
      connector
    ],
    { logFile: path.join(workDir, "connect.stdout.log"), timeoutMs: options.timeoutMs }
  )
}

export const debeziumTopic = (prefix: string, table: string): string => `${prefix}.public.${table}`

export const debezium = async (context: ReaderContext): Promise<ReaderResult> => {
  const prefix = runName("bench_dbz")
  const topic = debeziumTopic(prefix, context.backlog.table)
  await withAdmin((admin) => createTopic(admin, topic))
  try {
    const result = await drainIntoTopic({
      what: "Debezium",
      topic,
      expected: context.backlog.changes,
      timeoutMs: context.timeoutMs,
      start: () =>
        startDebezium({
          workDir: context.workDir,
          backlog: context.backlog,
          slot: context.slot,
          topicPrefix: prefix,
          timeoutMs: context.timeoutMs + 60_000
        })
    })
    return { reader: "debezium", ...result }
  } finally {
    await withAdmin((admin) => deleteTopics(admin, [topic]))
  }
}
