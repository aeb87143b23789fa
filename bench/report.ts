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
import type { ServerCost } from "./lib/proc.js"
import type { ReaderName, ReaderResult } from "./readers/types.js"
import type { MemoryBenchOutcome, MemoryCase } from "./memory.js"
import type { SnapshotBenchOutcome, SnapshotReaderName, SnapshotResult } from "./snapshot.js"

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
  readonly reader: ReaderName | SnapshotReaderName
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
  /** The slowest and the fastest run's events/s: the spread around the median. */
  readonly events_per_s_min?: number
  readonly events_per_s_max?: number
  /** Median busy share of the machine (0-1) in the 2 s before each run. */
  readonly busy_before?: number
  /**
   * Medians of what the shared servers spent during each run (start to stop,
   * start-up included): the Kafka broker's CPU seconds, the PostgreSQL
   * cluster's (walsender, snapshot backends), and the machine's busy share.
   */
  readonly broker_cpu_s?: number
  readonly postgres_cpu_s?: number
  readonly busy_during?: number
}

/** A ratio computed inside each round (adjacent runs), then its median and range over the rounds. */
export interface Ratio {
  readonly name: string
  readonly median: number
  readonly min: number
  readonly max: number
  readonly rounds: number
}

export interface SnapshotReport {
  readonly settings: Record<string, unknown>
  readonly runs: ReadonlyArray<RunRow>
  readonly ratios: ReadonlyArray<Ratio>
  readonly failures?: ReadonlyArray<{ readonly reader: SnapshotReaderName; readonly error: string }>
}

/** One row per memory case: medians over its runs, the highest peak, and its documented bound. */
export interface MemoryRow {
  readonly case: MemoryCase
  readonly records: number
  readonly seconds: number
  readonly cpu_s: number
  readonly peak_rss_mb: number
  /** The highest peak over the runs: what the bound is held against. */
  readonly peak_rss_mb_max: number
  readonly bound_mb: number
  readonly within_bound: boolean
  readonly samples: number
}

export interface MemoryReport {
  readonly settings: Record<string, unknown>
  readonly cases: ReadonlyArray<MemoryRow>
  readonly failures?: ReadonlyArray<{ readonly case: MemoryCase; readonly error: string }>
}

export interface Report {
  readonly machine: Machine
  readonly settings: Record<string, unknown>
  readonly runs: ReadonlyArray<RunRow>
  readonly failures?: ReadonlyArray<{ readonly reader: ReaderName; readonly error: string }>
  readonly latency?: LatencyReport
  readonly snapshot?: SnapshotReport
  readonly memory?: MemoryReport
  /** Drain ratios within each round (see roundRatios). */
  readonly ratios?: ReadonlyArray<Ratio>
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

/** The broker, PostgreSQL and busy-during columns of a row (empty where they were not measured). */
const serverColumns = (r: RunRow): string =>
  `${r.broker_cpu_s ?? ""} | ${r.postgres_cpu_s ?? ""} | ${r.busy_during === undefined ? "" : `${Math.round(r.busy_during * 100)}%`}`

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits))

/** One row of medians over a reader's runs (each metric on its own). */
export const summarize = (
  results: ReadonlyArray<
    Omit<ReaderResult, "reader"> & { readonly reader: RunRow["reader"]; readonly busyBefore?: number; readonly servers?: ServerCost }
  >
): RunRow => {
  const first = results[0]!
  const rates = results.map((r) => r.events / r.seconds)
  const busy = results.flatMap((r) => (r.busyBefore === undefined ? [] : [r.busyBefore]))
  const servers = results.flatMap((r) => (r.servers === undefined ? [] : [r.servers]))
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
    samples: results.length,
    events_per_s_min: Math.round(Math.min(...rates)),
    events_per_s_max: Math.round(Math.max(...rates)),
    ...(busy.length > 0 ? { busy_before: round(median(busy), 2) } : {}),
    ...(servers.length > 0
      ? {
        broker_cpu_s: round(median(servers.map((c) => c.brokerCpuS)), 1),
        postgres_cpu_s: round(median(servers.map((c) => c.postgresCpuS)), 1),
        busy_during: round(median(servers.map((c) => c.busyDuring)), 2)
      }
      : {})
  }
}

/**
 * Ratios of rates within one round (each reader's runs interleave, so a
 * round's runs are minutes apart, not a whole benchmark apart).
 */
export const roundRatios = <R extends { readonly reader: string; readonly round: number; readonly events: number; readonly seconds: number }>(
  results: ReadonlyArray<R>,
  specs: ReadonlyArray<{ readonly name: string; readonly of: string; readonly to: ReadonlyArray<string> }>
): Array<Ratio> => {
  const rounds = [...new Set(results.map((r) => r.round))]
  const rate = (round: number, reader: string): number | undefined => {
    const result = results.find((r) => r.round === round && r.reader === reader)
    return result === undefined ? undefined : result.events / result.seconds
  }
  return specs.flatMap((spec) => {
    const values = rounds.flatMap((round) => {
      const of = rate(round, spec.of)
      const to = spec.to.map((reader) => rate(round, reader))
      if (of === undefined || to.some((v) => v === undefined)) return []
      return [of / Math.min(...(to as Array<number>))]
    })
    if (values.length === 0) return []
    return [{ name: spec.name, median: round(median(values), 2), min: round(Math.min(...values), 2), max: round(Math.max(...values), 2), rounds: values.length }]
  })
}

export const DRAIN_RATIOS = [
  { name: "outboxx / min(server_decode, kafka_producer_perf)", of: "outboxx", to: ["server_decode", "kafka_producer_perf"] },
  // The streaming ceiling: server_decode decodes inside a SQL function and
  // sends nothing, while every streaming client, PostgreSQL's own included,
  // pays the walsender's send() per message (docs/benchmark.md#ceilings).
  { name: "outboxx / min(pg_recvlogical, kafka_producer_perf)", of: "outboxx", to: ["pg_recvlogical", "kafka_producer_perf"] },
  { name: "outboxx / debezium", of: "outboxx", to: ["debezium"] }
] as const

const SNAPSHOT_RATIOS = [
  { name: "outboxx_initial / min(pg_copy, kafka_producer_perf)", of: "outboxx_initial", to: ["pg_copy", "kafka_producer_perf"] },
  { name: "outboxx_initial / debezium_initial", of: "outboxx_initial", to: ["debezium_initial"] },
  { name: "outboxx_incremental / min(pg_copy, kafka_producer_perf)", of: "outboxx_incremental", to: ["pg_copy", "kafka_producer_perf"] },
  { name: "outboxx_incremental / debezium_initial", of: "outboxx_incremental", to: ["debezium_initial"] },
  { name: "outboxx_keyless / min(pg_copy, kafka_producer_perf)", of: "outboxx_keyless", to: ["pg_copy", "kafka_producer_perf"] }
] as const

export const summarizeSnapshot = (outcome: SnapshotBenchOutcome): SnapshotReport => {
  const byReader = new Map<SnapshotReaderName, Array<SnapshotResult>>()
  for (const result of outcome.results) byReader.set(result.reader, [...(byReader.get(result.reader) ?? []), result])
  return {
    settings: outcome.settings,
    runs: [...byReader.values()].map((results) => summarize(results)),
    ratios: roundRatios(outcome.results, SNAPSHOT_RATIOS),
    ...(outcome.failures.length > 0 ? { failures: outcome.failures } : {})
  }
}

export const summarizeMemory = (outcome: MemoryBenchOutcome): MemoryReport => {
  const byCase = new Map<MemoryCase, Array<MemoryBenchOutcome["results"][number]>>()
  for (const result of outcome.results) byCase.set(result.case, [...(byCase.get(result.case) ?? []), result])
  const cases = [...byCase.entries()].map(([name, results]): MemoryRow => {
    const highest = Math.max(...results.map((r) => r.peakRssMb))
    return {
      case: name,
      records: median(results.map((r) => r.records)),
      seconds: round(median(results.map((r) => r.seconds)), 2),
      cpu_s: round(median(results.map((r) => r.cpuS)), 1),
      peak_rss_mb: Math.round(median(results.map((r) => r.peakRssMb))),
      peak_rss_mb_max: Math.round(highest),
      bound_mb: results[0]!.boundMb,
      within_bound: highest <= results[0]!.boundMb,
      samples: results.length
    }
  })
  return { settings: outcome.settings, cases, ...(outcome.failures.length > 0 ? { failures: outcome.failures } : {}) }
}

export const markdown = (report: Report): string => {
  const m = report.machine
  const lines = [
    `# Outboxx benchmark`,
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gb} GB, ${m.os}; Node ${m.node}, PostgreSQL ${m.pg}, Kafka ${m.kafka}, Debezium ${m.debezium}.`,
    `Settings: ${Object.entries(report.settings).map(([k, v]) => `${k}=${String(v)}`).join(", ")}.`,
    "",
    "| reader | events | seconds | events/s | MB/s | CPU s | peak RSS MB | startup s | broker CPU s | postgres CPU s | busy during |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...report.runs.map(
      (r) =>
        `| ${r.reader} | ${r.events} | ${r.seconds} | ${r.events_per_s} | ${r.mb_per_s} | ${r.cpu_s} | ${r.peak_rss_mb} | ${r.startup_s ?? ""} | ${serverColumns(r)} |`
    )
  ]
  if (report.ratios && report.ratios.length > 0) {
    lines.push("", "Drain ratios, within each round (median, range over rounds):", "", ...report.ratios.map((r) => `- ${r.name}: ${r.median} (${r.min}..${r.max}, ${r.rounds} rounds)`))
  }
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
  if (report.snapshot) {
    const snap = report.snapshot
    lines.push(
      "",
      `## Snapshot (${Object.entries(snap.settings).map(([k, v]) => `${k}=${String(v)}`).join(", ")})`,
      "",
      "| reader | rows | seconds | rows/s | slowest..fastest | CPU s | peak RSS MB | first row s | busy before | broker CPU s | postgres CPU s | busy during |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...snap.runs.map((r) =>
        `| ${r.reader} | ${r.events} | ${r.seconds} | ${r.events_per_s} | ${r.events_per_s_min ?? ""}..${r.events_per_s_max ?? ""} | ${r.cpu_s} | ${r.peak_rss_mb} | ${r.startup_s ?? ""} | ${r.busy_before ?? ""} | ${serverColumns(r)} |`
      ),
      "",
      "Ratios, computed within each round of interleaved runs (median, range over rounds):",
      "",
      ...snap.ratios.map((r) => `- ${r.name}: ${r.median} (${r.min}..${r.max}, ${r.rounds} rounds)`)
    )
    if (snap.failures && snap.failures.length > 0) lines.push("", "Failed snapshot readers:", "", ...snap.failures.map((f) => `- ${f.reader}: ${f.error}`))
  }
  if (report.memory) {
    const mem = report.memory
    lines.push(
      "",
      `## Memory (${Object.entries(mem.settings).map(([k, v]) => `${k}=${String(v)}`).join(", ")})`,
      "",
      "| case | records | seconds | CPU s | peak RSS MB | highest peak MB | bound MB | within |",
      "|---|---:|---:|---:|---:|---:|---:|---|",
      ...mem.cases.map((c) => `| ${c.case} | ${c.records} | ${c.seconds} | ${c.cpu_s} | ${c.peak_rss_mb} | ${c.peak_rss_mb_max} | ${c.bound_mb} | ${c.within_bound ? "yes" : "NO"} |`)
    )
    if (mem.failures && mem.failures.length > 0) lines.push("", "Failed memory cases:", "", ...mem.failures.map((f) => `- ${f.case}: ${f.error}`))
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

/**
 * latest.* are overwritten; each run also lands in history/<time>.json
 * (kept in git), so a regression shows against earlier runs on the machine.
 */
export const writeReport = (dir: string, report: Report): void => {
  fs.mkdirSync(path.join(dir, "history"), { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
  fs.writeFileSync(path.join(dir, "history", `${stamp}.json`), JSON.stringify(report, null, 2) + "\n")
  fs.writeFileSync(path.join(dir, "latest.json"), JSON.stringify(report, null, 2) + "\n")
  fs.writeFileSync(path.join(dir, "latest.md"), markdown(report))
  fs.writeFileSync(path.join(dir, "latest.svg"), svgChart(report))
}
