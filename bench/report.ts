/**
 * The benchmark's outputs in bench/results/: latest.json (the machine and one
 * median row per reader), latest.md (the same as a table) and latest.svg (a
 * bar chart of events/s).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { LatencyReport } from "./latency.js"
import { devDir, withClient } from "./lib/servers.js"
import type { ReaderName, ReaderResult } from "./readers/types.js"

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memory_gb: number
  readonly os: string
  readonly node: string
  readonly pg: string
  readonly kafka: string
  readonly debezium: string
}

export interface RunRow {
  readonly reader: ReaderName
  readonly events: number
  readonly seconds: number
  readonly events_per_s: number
  readonly mb_per_s: number
  readonly cpu_s: number
  readonly peak_rss_mb: number
  /** Process start to first event delivered (not part of `seconds`). */
  readonly startup_s?: number
  /** How many runs the medians are taken over. */
  readonly samples: number
}

export interface Report {
  readonly machine: Machine
  readonly settings: Record<string, unknown>
  readonly runs: ReadonlyArray<RunRow>
  readonly failures?: ReadonlyArray<{ readonly reader: ReaderName; readonly error: string }>
  readonly latency?: LatencyReport
}

const jarVersion = (dir: string, prefix: string): string => {
  try {
    const jar = fs.readdirSync(dir).find((file) => file.startsWith(prefix) && file.endsWith(".jar"))
    return jar ? jar.slice(prefix.length, -".jar".length) : "unknown"
  } catch {
    return "unknown"
  }
}

export const describeMachine = async (): Promise<Machine> => {
  const osRelease = (() => {
    try {
      return fs.readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]*)"?/m)?.[1] ?? os.type()
    } catch {
      return os.type()
    }
  })()
  const pgVersion = await withClient("postgres", async (client) =>
    (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v
  )
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memory_gb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${osRelease}, Linux ${os.release()}`,
    node: process.version,
    pg: pgVersion,
    kafka: jarVersion(path.join(devDir, "kafka", "lib"), "kafka-clients-"),
    debezium: jarVersion(path.join(devDir, "debezium", "lib"), "debezium-connector-postgres-")
  }
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits))

/** One row of medians over a reader's runs (each metric on its own). */
export const summarize = (results: ReadonlyArray<ReaderResult>): RunRow => {
  const first = results[0]!
  const seconds = median(results.map((r) => r.seconds))
  const events = median(results.map((r) => r.events))
  const bytes = median(results.map((r) => r.bytes))
  const startups = results.flatMap((r) => (r.startupS === undefined ? [] : [r.startupS]))
  return {
    reader: first.reader,
    events,
    seconds: round(seconds, 3),
    events_per_s: Math.round(events / seconds),
    mb_per_s: round(bytes / 1e6 / seconds, 2),
    cpu_s: round(median(results.map((r) => r.cpuS)), 2),
    peak_rss_mb: round(median(results.map((r) => r.peakRssMb)), 1),
    ...(startups.length > 0 ? { startup_s: round(median(startups), 2) } : {}),
    samples: results.length
  }
}

export const markdown = (report: Report): string => {
  const m = report.machine
  const lines = [
    `# Outboxx benchmark`,
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gb} GB, ${m.os}; Node ${m.node}, PostgreSQL ${m.pg}, Kafka ${m.kafka}, Debezium ${m.debezium}.`,
    `Settings: ${Object.entries(report.settings).map(([k, v]) => `${k}=${String(v)}`).join(", ")}.`,
    "",
    "| reader | events | seconds | events/s | MB/s | CPU s | peak RSS MB | startup s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...report.runs.map(
      (r) =>
        `| ${r.reader} | ${r.events} | ${r.seconds} | ${r.events_per_s} | ${r.mb_per_s} | ${r.cpu_s} | ${r.peak_rss_mb} | ${r.startup_s ?? ""} |`
    )
  ]
  if (report.failures && report.failures.length > 0) {
    lines.push("", "Failed readers:", "", ...report.failures.map((f) => `- ${f.reader}: ${f.error}`))
  }
  if (report.latency) {
    lines.push(
      "",
      `## Latency (commit to Kafka append, ${report.latency.seconds} s per rate after ${report.latency.warmup_seconds} s of warm-up)`,
      "",
      "| reader | rate/s | rows | p50 ms | p99 ms | max ms |",
      "|---|---:|---:|---:|---:|---:|",
      ...report.latency.results.map((l) => `| ${l.reader} | ${l.rate} | ${l.rows} | ${l.p50_ms} | ${l.p99_ms} | ${l.max_ms} |`)
    )
  }
  lines.push("", "Seconds are drain time (first event delivered to last); see docs/benchmark.md.", "")
  return lines.join("\n")
}

const escapeXml = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** Horizontal bars of events/s, one per reader. */
export const svgChart = (report: Report): string => {
  const rows = report.runs
  const width = 760
  const left = 170
  const right = 110
  const barHeight = 26
  const gap = 12
  const top = 48
  const height = top + rows.length * (barHeight + gap) + 30
  const max = Math.max(1, ...rows.map((r) => r.events_per_s))
  const colors: Record<string, string> = {
    server_decode: "#7f8c8d",
    pg_recvlogical: "#95a5a6",
    kafka_producer_perf: "#bdc3c7",
    outboxx: "#2e86de",
    debezium: "#e67e22"
  }
  const bars = rows.map((r, i) => {
    const y = top + i * (barHeight + gap)
    const w = Math.max(1, ((width - left - right) * r.events_per_s) / max)
    return [
      `<text x="${left - 10}" y="${y + barHeight * 0.68}" text-anchor="end">${escapeXml(r.reader)}</text>`,
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${colors[r.reader] ?? "#34495e"}"/>`,
      `<text x="${(left + w + 8).toFixed(1)}" y="${y + barHeight * 0.68}">${r.events_per_s.toLocaleString("en-US")}</text>`
    ].join("\n  ")
  })
  const m = report.machine
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="14">
  <rect width="100%" height="100%" fill="white"/>
  <text x="${left}" y="22" font-size="16" font-weight="bold">Drain rate, events/s (median of ${rows[0]?.samples ?? 0}, ${report.settings["changes"]} changes)</text>
  <text x="${left}" y="40" font-size="11" fill="#555">${escapeXml(`${m.cpu}, ${m.cores} cores; PostgreSQL ${m.pg}, Kafka ${m.kafka}`)}</text>
  ${bars.join("\n  ")}
</svg>
`
}

export const writeReport = (dir: string, report: Report): void => {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "latest.json"), JSON.stringify(report, null, 2) + "\n")
  fs.writeFileSync(path.join(dir, "latest.md"), markdown(report))
  fs.writeFileSync(path.join(dir, "latest.svg"), svgChart(report))
}
