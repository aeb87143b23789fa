/**
 * Latency mode: steady writes at fixed rates (default 2,000 and 10,000
 * changes/s for 60 s) while outboxx or Debezium streams them; for each row,
 * the time from its transaction's commit (the commit time pgoutput carries)
 * to its append in Kafka (the topic uses LogAppendTime, so the record
 * timestamp is the broker's). Same machine, same clock.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { rowSelect, tableDdl, type Backlog } from "./backlog.js"
import { dropSlot } from "./backlog.js"
import { pollUntil, waitForQuietMachine, type Measured } from "./lib/proc.js"
import { BENCH_DB, connect, createTopic, deleteTopics, kafka, quoteIdent, runName, topicRecordCount, withAdmin, withClient } from "./lib/servers.js"
import { debeziumTopic, startDebezium } from "./readers/debezium.js"
import { outboxxConfig, startOutboxx } from "./readers/outboxx.js"

export type LatencyReader = "outboxx" | "debezium"

export interface LatencyResult {
  readonly reader: LatencyReader
  readonly rate: number
  readonly rows: number
  readonly p50_ms: number
  readonly p99_ms: number
  readonly max_ms: number
}

export interface LatencyReport {
  readonly seconds: number
  readonly warmup_seconds: number
  readonly results: ReadonlyArray<LatencyResult>
  readonly failures?: ReadonlyArray<{ readonly reader: LatencyReader; readonly rate: number; readonly error: string }>
}

const TICK_MS = 10

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

/** A timestamptz as either reader prints it ("...T...Z", "... +00", microseconds) to epoch ms. */
export const parseTimestamp = (text: string): number => {
  let s = text.trim().replace(" ", "T")
  s = s.replace(/(\.\d{3})\d+/, "$1")
  s = s.replace(/([+-]\d{2})$/, "$1:00")
  return Date.parse(s)
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Writes `rate` rows/s for `seconds`, in batches every 10 ms (catching up if a batch ran late). */
const steadyWrites = async (table: string, rate: number, seconds: number, firstId: number): Promise<number> => {
  const client = await connect(BENCH_DB)
  try {
    // As on a production server: the commit is flushed, so the walsender may
    // send it at once (the dev cluster's default, off, delays it up to wal_writer_delay).
    await client.query("SET synchronous_commit = on")
    const total = Math.round(rate * seconds)
    const started = performance.now()
    let written = 0
    while (written < total) {
      const elapsed = performance.now() - started
      const due = Math.min(total, Math.floor((elapsed / 1000) * rate))
      if (due > written) {
        await client.query(
          `INSERT INTO ${quoteIdent(table)} SELECT ${rowSelect("g")} FROM generate_series(${firstId + written}, ${firstId + due - 1}) AS g`
        )
        written = due
      }
      const nextTick = started + (Math.floor(elapsed / TICK_MS) + 1) * TICK_MS
      await sleep(Math.max(0, nextTick - performance.now()))
    }
    return written
  } finally {
    await client.end()
  }
}

/** Reads every record of the topic: latency = append time - the commit time of the row's transaction. */
const readLatencies = async (topic: string, expected: number, reader: LatencyReader, timeoutMs: number): Promise<Array<number>> => {
  const consumer = kafka.consumer({ groupId: runName("bench_latency_reader"), maxBytes: 64 * 1024 * 1024 })
  const latencies: Array<number> = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    let seen = 0
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          seen += 1
          if (!message.value) continue
          const value = JSON.parse(message.value.toString("utf8"))
          const row = reader === "outboxx" ? value.after : value
          if (!row || Number(row.id) <= 0) continue // the warm-up rows
          // The transaction's commit time as PostgreSQL decoded it (pgoutput's Begin message).
          const committedAt = reader === "outboxx" ? parseTimestamp(String(value.source.commitTs)) : Number(value.__source_ts_ms)
          latencies.push(Number(message.timestamp) - committedAt)
        }
      }
    })
    await pollUntil(`reading ${expected} records back from ${topic}`, timeoutMs, 100, async () => (seen >= expected ? true : undefined))
  } finally {
    await consumer.disconnect()
  }
  return latencies
}

const measureOne = async (
  reader: LatencyReader,
  rate: number,
  seconds: number,
  warmupSeconds: number,
  workRoot: string,
  log: (line: string) => void
): Promise<LatencyResult> => {
  const id = runName("lat")
  const table = `${id}_rows`
  const publication = `${id}_pub`
  const slot = `${id}_slot`
  const workDir = path.join(workRoot, `${reader}-${rate}`)
  fs.mkdirSync(workDir, { recursive: true })
  const backlog: Pick<Backlog, "database" | "publication" | "table"> = { database: BENCH_DB, publication, table }
  const topic = reader === "outboxx" ? `${id}_outboxx` : debeziumTopic(`${id}_dbz`, table)
  await withClient(BENCH_DB, async (client) => {
    await client.query(tableDdl(table))
    await client.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${quoteIdent(table)}`)
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot])
  })
  await withAdmin((admin) => createTopic(admin, topic))
  const busy = await waitForQuietMachine()
  log(`latency: ${reader} at ${rate}/s: machine ${Math.round(busy * 100)}% busy before the start`)
  let run: Measured | undefined
  try {
    const timeoutMs = (seconds + 180) * 1000
    run =
      reader === "outboxx"
        ? startOutboxx(workDir, outboxxConfig({ backlog, slot, topic, stateDir: path.join(workDir, "state") }), timeoutMs)
        : await startDebezium({ workDir, backlog, slot, topicPrefix: `${id}_dbz`, timeoutMs, commitTime: true })
    // One row (id 0) through first, so the reader is streaming before the clock starts.
    await withClient(BENCH_DB, (client) =>
      client.query(`INSERT INTO ${quoteIdent(table)} SELECT ${rowSelect("g")} FROM generate_series(0, 0) AS g`)
    )
    await withAdmin((admin) =>
      pollUntil(`${reader} to deliver the warm-up row`, 120_000, 100, async () =>
        (await topicRecordCount(admin, topic)) >= 1 ? true : undefined
      )
    )
    // Then `warmupSeconds` at the rate, not counted (ids <= 0): JIT compilers and
    // batching settle, as they would in a long-running deployment.
    log(`latency: ${reader} at ${rate}/s: ${warmupSeconds} s warm-up, then ${seconds} s measured`)
    const warmup = warmupSeconds > 0 ? await steadyWrites(table, rate, warmupSeconds, -Math.round(rate * warmupSeconds)) : 0
    const rows = await steadyWrites(table, rate, seconds, 1)
    const expected = 1 + warmup + rows
    await withAdmin((admin) =>
      pollUntil(`${reader} to deliver ${rows} rows`, 120_000, 100, async () =>
        (await topicRecordCount(admin, topic)) >= expected ? true : undefined
      )
    )
    await run.stop()
    run = undefined
    const latencies = (await readLatencies(topic, expected, reader, 120_000)).sort((a, b) => a - b)
    return {
      reader,
      rate,
      rows: latencies.length,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      max_ms: latencies[latencies.length - 1] ?? NaN
    }
  } finally {
    if (run) await run.stop()
    await dropSlot(BENCH_DB, slot).catch(() => undefined)
    await withClient(BENCH_DB, async (client) => {
      await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`)
      await client.query(`DROP TABLE IF EXISTS ${quoteIdent(table)}`)
    }).catch(() => undefined)
    await withAdmin((admin) => deleteTopics(admin, [topic]))
  }
}

export const runLatency = async (options: {
  readonly readers: ReadonlyArray<LatencyReader>
  readonly rates: ReadonlyArray<number>
  readonly seconds: number
  readonly warmupSeconds: number
  readonly workRoot: string
  readonly log: (line: string) => void
}): Promise<LatencyReport> => {
  const results: Array<LatencyResult> = []
  const failures: Array<{ reader: LatencyReader; rate: number; error: string }> = []
  for (const rate of options.rates) {
    for (const reader of options.readers) {
      try {
        const result = await measureOne(reader, rate, options.seconds, options.warmupSeconds, options.workRoot, options.log)
        options.log(`latency: ${reader} at ${rate}/s: p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms over ${result.rows} rows`)
        results.push(result)
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        options.log(`latency: ${reader} at ${rate}/s FAILED: ${message}`)
        failures.push({ reader, rate, error: message })
      }
    }
  }
  const base = { seconds: options.seconds, warmup_seconds: options.warmupSeconds, results }
  return failures.length > 0 ? { ...base, failures } : base
}
