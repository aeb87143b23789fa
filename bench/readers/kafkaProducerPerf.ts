/**
 * kafka_producer_perf: Kafka's own producer benchmark
 * (org.apache.kafka.tools.ProducerPerformance from the broker's jars) writing
 * as many records as the backlog has events, of the size outboxx's records
 * have, acks=all, into a fresh topic — the sink limit on this machine.
 * Its time is the tool's own (first send to last ack, JVM startup excluded).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { startMeasured } from "../lib/proc.js"
import { createTopic, deleteTopics, devDir, kafkaBroker, runName, topicLogBytes, withAdmin } from "../lib/servers.js"
import type { ReaderContext, ReaderResult } from "./types.js"

/** The producer settings every JVM reader gets: tuned for throughput, still acks=all. */
export const PRODUCER_TUNING = {
  acks: "all",
  "linger.ms": "10",
  "batch.size": "524288",
  "compression.type": "none",
  "max.request.size": "1048576",
  "buffer.memory": "67108864"
} as const

/** What Kafka's start scripts pass to the JVM (kafka-run-class.sh), heap as connect-distributed.sh sets it. */
export const KAFKA_JVM_OPTS = [
  "-Xms256m", "-Xmx2g", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
  "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"
]

export const kafkaProducerPerf = (context: ReaderContext): Promise<ReaderResult> =>
  producerPerf({ ...context, events: context.backlog.changes })

/** `events` records of `recordSize` bytes: the drain's and the snapshot's sink limit. */
export const producerPerf = async (
  context: Pick<ReaderContext, "workDir" | "timeoutMs" | "recordSize"> & { readonly events: number }
): Promise<ReaderResult> => {
  const topic = runName("bench_perf")
  const events = context.events
  await withAdmin((admin) => createTopic(admin, topic))
  try {
    const logFile = path.join(context.workDir, "producer-perf.log")
    const args = [
      ...KAFKA_JVM_OPTS,
      "-cp", path.join(devDir, "kafka", "lib", "*"),
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic", topic,
      "--num-records", String(events),
      "--record-size", String(context.recordSize),
      "--throughput", "-1",
      "--producer-props", `bootstrap.servers=${kafkaBroker}`,
      ...Object.entries(PRODUCER_TUNING).map(([key, value]) => `${key}=${value}`)
    ]
    const run = startMeasured("java", args, { logFile, timeoutMs: context.timeoutMs })
    const exit = await run.exited
    const output = fs.readFileSync(logFile, "utf8")
    if (exit.code !== 0) throw new Error(`ProducerPerformance exited with ${exit.code ?? exit.signal}; see ${logFile}`)
    // Final line: "N records sent, X records/sec (Y MB/sec), ..."
    const summary = [...output.matchAll(/(\d+) records sent, ([\d.]+) records\/sec/g)].pop()
    if (!summary) throw new Error(`no summary line in ${logFile}`)
    const sent = Number(summary[1])
    const rate = Number(summary[2])
    const stats = run.sampler.stats()
    return {
      reader: "kafka_producer_perf",
      events: sent,
      seconds: sent / rate,
      bytes: topicLogBytes(topic),
      cpuS: exit.time?.cpuS ?? stats.cpuS,
      peakRssMb: exit.time?.maxRssMb ?? stats.peakRssMb,
      ...(exit.time ? { startupS: Math.max(0, exit.time.wallS - sent / rate) } : {})
    }
  } finally {
    await withAdmin((admin) => deleteTopics(admin, [topic]))
  }
}
