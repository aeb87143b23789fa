/**
 * Process and runtime metrics, read at each scrape (the names prom-client and
 * every Prometheus client library use, so existing dashboards and alerts
 * work): CPU, memory, open file descriptors, start time, V8 heap, event-loop
 * delay. Reading them costs a few syscalls per scrape and nothing between.
 */
import { readdirSync } from "node:fs"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

const cpuSecondsTotal = Metric.counter("process_cpu_seconds_total", {
  description: "Total user and system CPU time spent in seconds",
  incremental: true
})
const residentMemoryBytes = Metric.gauge("process_resident_memory_bytes", { description: "Resident memory size in bytes" })
const startTimeSeconds = Metric.gauge("process_start_time_seconds", {
  description: "Start time of the process since unix epoch in seconds"
})
const openFds = Metric.gauge("process_open_fds", { description: "Number of open file descriptors" })
const heapUsedBytes = Metric.gauge("nodejs_heap_size_used_bytes", { description: "V8 heap in use, in bytes" })
const heapTotalBytes = Metric.gauge("nodejs_heap_size_total_bytes", { description: "V8 heap reserved, in bytes" })
const externalBytes = Metric.gauge("nodejs_external_memory_bytes", {
  description: "Memory of C++ objects bound to JavaScript (Buffers among them), in bytes"
})
const eventLoopDelayP99 = Metric.gauge("nodejs_eventloop_lag_p99_seconds", {
  description: "99th percentile of the event loop's delay since the previous scrape, in seconds"
})
const eventLoopDelayMax = Metric.gauge("nodejs_eventloop_lag_max_seconds", {
  description: "Largest event loop delay since the previous scrape, in seconds"
})

export const processMetrics = [
  cpuSecondsTotal,
  residentMemoryBytes,
  startTimeSeconds,
  openFds,
  heapUsedBytes,
  heapTotalBytes,
  externalBytes,
  eventLoopDelayP99,
  eventLoopDelayMax
] as const

/** Samples the event loop every 20 ms (a timer in libuv, no JavaScript per sample). */
let delay: ReturnType<typeof monitorEventLoopDelay> | undefined
let cpuReported = 0
const startedAt = Date.now() / 1000 - process.uptime()

const countFds = (): number => {
  try {
    return readdirSync("/proc/self/fd").length
  } catch {
    return Number.NaN
  }
}

/** Brings the process metrics up to date; called by GET /metrics before it formats. */
export const refreshProcessMetrics = Effect.suspend(() => {
  if (delay === undefined) {
    delay = monitorEventLoopDelay({ resolution: 20 })
    delay.enable()
  }
  const usage = process.cpuUsage()
  const cpu = (usage.user + usage.system) / 1e6
  const cpuDelta = cpu - cpuReported
  cpuReported = cpu
  const memory = process.memoryUsage()
  const p99 = delay.count > 0 ? delay.percentile(99) / 1e9 : 0
  const max = delay.count > 0 ? delay.max / 1e9 : 0
  delay.reset()
  return Effect.all([
    Metric.update(cpuSecondsTotal, cpuDelta),
    Metric.update(residentMemoryBytes, memory.rss),
    Metric.update(startTimeSeconds, Math.round(startedAt)),
    Metric.update(openFds, countFds()),
    Metric.update(heapUsedBytes, memory.heapUsed),
    Metric.update(heapTotalBytes, memory.heapTotal),
    Metric.update(externalBytes, memory.external),
    Metric.update(eventLoopDelayP99, p99),
    Metric.update(eventLoopDelayMax, max)
  ], { discard: true })
})
