/**
 * `npm run bench` (bench/run.sh): builds the WAL backlog once, then drains a
 * copy of its slot with each reader, `--runs` times, and writes the medians
 * to bench/results/latest.{json,md,svg}. `--latency` adds the steady-rate
 * latency mode. See docs/benchmark.md.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { copySlot, dropSlot, ensureBacklog, type Backlog } from "./backlog.js"
import { runLatency, type LatencyReader } from "./latency.js"
import { type ServerCost, serverCost, serverUsage, waitForQuietMachine } from "./lib/proc.js"
import { BENCH_DB, repoRoot, runName, withClient } from "./lib/servers.js"
import { debezium } from "./readers/debezium.js"
import { kafkaProducerPerf } from "./readers/kafkaProducerPerf.js"
import { outboxxOutboxTable, outboxxPublish } from "./readers/outbox.js"
import { outboxx, outboxxWithFormat } from "./readers/outboxx.js"
import { pgRecvlogical } from "./readers/pgRecvlogical.js"
import { serverDecode } from "./readers/serverDecode.js"
import { MEMORY_CASES, runMemoryBench, type MemoryCase } from "./memory.js"
import { runSnapshotBench, SNAPSHOT_READERS, type SnapshotReaderName } from "./snapshot.js"
import { READERS, type ReaderContext, type ReaderName, type ReaderResult } from "./readers/types.js"
import { DRAIN_RATIOS, describeMachine, roundRatios, summarize, summarizeMemory, summarizeSnapshot, writeReport, type Report } from "./report.js"

const USAGE = `usage: npm run bench -- [options]
  --changes N          changes in the backlog (default 1000000: 80% inserts, 15% updates, 5% deletes)
  --runs N             runs per reader; medians are reported (default 3)
  --readers a,b        subset of ${READERS.join(",")} (default all)
  --batch N            rows per transaction when building the backlog (default 10000)
  --outbox-events N    outboxx.publish messages, and as many outbox rows, for the outbox readers (default changes / 5)
  --rebuild            rebuild the backlog even if one of the same size exists
  --timeout S          limit per reader run, seconds (default 1800)
  --latency            also run the latency mode (outboxx and debezium)
  --no-drain           skip the drain benchmark (with --latency: latency only)
  --no-snapshot        skip the snapshot benchmark
  --snapshot-rows N    rows of the snapshot benchmark's keyed table (default 10000000)
  --keyless-rows N     rows of its keyless table (default: --snapshot-rows)
  --snapshot-readers a,b  subset of ${SNAPSHOT_READERS.join(",")} (default all)
  --snapshot-runs N    runs per snapshot reader (default: --runs)
  --no-memory          skip the memory benchmark
  --memory-cases a,b   subset of ${MEMORY_CASES.join(",")} (default all)
  --memory-runs N      runs per memory case (default 1)
  --huge-value-mb N    the huge_value case's value, MB (default 50)
  --big-tx-rows N      rows of the big_transaction case's one transaction (default 1000000)
  --memory-backlog N   inserts waiting in the backlog case's slot (default 10000000)
  --memory-tables N    captured tables of the tables case (default 1000)
  --rates a,b          latency mode write rates, changes/s (default 2000,10000)
  --latency-seconds S  latency mode duration per rate (default 60)
  --latency-warmup S   writes at the rate before measuring, not counted (default 10)
  --out DIR            results directory (default bench/results)
  --keep               keep the scratch directory (configs, logs) even when all went well
  --no-build           (bench/run.sh) do not rebuild outboxx first`

const { values } = parseArgs({
  options: {
    changes: { type: "string", default: "1000000" },
    runs: { type: "string", default: "3" },
    readers: { type: "string", default: READERS.join(",") },
    batch: { type: "string", default: "10000" },
    "outbox-events": { type: "string" },
    rebuild: { type: "boolean", default: false },
    timeout: { type: "string", default: "1800" },
    latency: { type: "boolean", default: false },
    "no-drain": { type: "boolean", default: false },
    "no-snapshot": { type: "boolean", default: false },
    "snapshot-rows": { type: "string", default: "10000000" },
    "keyless-rows": { type: "string" },
    "snapshot-readers": { type: "string", default: SNAPSHOT_READERS.join(",") },
    "snapshot-runs": { type: "string" },
    "no-memory": { type: "boolean", default: false },
    "memory-cases": { type: "string", default: MEMORY_CASES.join(",") },
    "memory-runs": { type: "string", default: "1" },
    "huge-value-mb": { type: "string", default: "50" },
    "big-tx-rows": { type: "string", default: "1000000" },
    "memory-backlog": { type: "string", default: "10000000" },
    "memory-tables": { type: "string", default: "1000" },
    rates: { type: "string", default: "2000,10000" },
    "latency-seconds": { type: "string", default: "60" },
    "latency-warmup": { type: "string", default: "10" },
    out: { type: "string", default: path.join(repoRoot, "bench", "results") },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})

if (values.help) {
  console.log(USAGE)
  process.exit(0)
}

const positiveInt = (name: string, text: string): number => {
  const n = Number(text)
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name}: expected a positive integer, found ${JSON.stringify(text)}\n${USAGE}`)
    process.exit(2)
  }
  return n
}

const changes = positiveInt("changes", values.changes)
const runs = positiveInt("runs", values.runs)
const batch = positiveInt("batch", values.batch)
const outboxEvents = values["outbox-events"] === undefined ? Math.max(1, Math.floor(changes / 5)) : positiveInt("outbox-events", values["outbox-events"])
const timeoutMs = positiveInt("timeout", values.timeout) * 1000
const rates = values.rates.split(",").map((rate) => positiveInt("rates", rate.trim()))
const latencySeconds = positiveInt("latency-seconds", values["latency-seconds"])
const latencyWarmup = values["latency-warmup"] === "0" ? 0 : positiveInt("latency-warmup", values["latency-warmup"])
const snapshotRows = positiveInt("snapshot-rows", values["snapshot-rows"])
const keylessRows = values["keyless-rows"] === undefined ? snapshotRows : positiveInt("keyless-rows", values["keyless-rows"])
const snapshotRuns = values["snapshot-runs"] === undefined ? runs : positiveInt("snapshot-runs", values["snapshot-runs"])
const snapshotReaders = values["snapshot-readers"].split(",").map((name) => name.trim()) as Array<SnapshotReaderName>
for (const reader of snapshotReaders) {
  if (!(SNAPSHOT_READERS as ReadonlyArray<string>).includes(reader)) {
    console.error(`--snapshot-readers: unknown reader ${JSON.stringify(reader)}; known: ${SNAPSHOT_READERS.join(", ")}`)
    process.exit(2)
  }
}
const memoryCases = values["memory-cases"].split(",").map((name) => name.trim()) as Array<MemoryCase>
for (const name of memoryCases) {
  if (!(MEMORY_CASES as ReadonlyArray<string>).includes(name)) {
    console.error(`--memory-cases: unknown case ${JSON.stringify(name)}; known: ${MEMORY_CASES.join(", ")}`)
    process.exit(2)
  }
}
const memorySizes = {
  hugeValueMb: positiveInt("huge-value-mb", values["huge-value-mb"]),
  bigTxRows: positiveInt("big-tx-rows", values["big-tx-rows"]),
  backlogRows: positiveInt("memory-backlog", values["memory-backlog"]),
  tables: positiveInt("memory-tables", values["memory-tables"])
}
const memoryRuns = positiveInt("memory-runs", values["memory-runs"])
const readers = values.readers.split(",").map((name) => name.trim()) as Array<ReaderName>
for (const reader of readers) {
  if (!(READERS as ReadonlyArray<string>).includes(reader)) {
    console.error(`--readers: unknown reader ${JSON.stringify(reader)}; known: ${READERS.join(", ")}`)
    process.exit(2)
  }
}

const log = (line: string): void => {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`)
}

const RUNNERS: Record<ReaderName, (context: ReaderContext) => Promise<ReaderResult>> = {
  server_decode: serverDecode,
  pg_recvlogical: pgRecvlogical,
  outboxx,
  outboxx_debezium: outboxxWithFormat("debezium"),
  outboxx_avro: outboxxWithFormat("avro"),
  outboxx_cloudevents: outboxxWithFormat("cloudevents"),
  outboxx_publish: outboxxPublish,
  outboxx_outbox_table: outboxxOutboxTable,
  debezium,
  kafka_producer_perf: kafkaProducerPerf
}
// kafka_producer_perf last: it copies the record size outboxx produced.
const ORDER: ReadonlyArray<ReaderName> = [
  "server_decode",
  "pg_recvlogical",
  "outboxx",
  "outboxx_debezium",
  "outboxx_avro",
  "outboxx_cloudevents",
  "outboxx_publish",
  "outboxx_outbox_table",
  "debezium",
  "kafka_producer_perf"
]
const USES_SLOT = new Set<ReaderName>(["server_decode", "pg_recvlogical", "outboxx", "outboxx_debezium", "outboxx_avro", "outboxx_cloudevents", "debezium"])

/** Copies left by an interrupted earlier run would pin WAL forever. */
const dropStaleCopies = async (): Promise<void> => {
  const stale = await withClient("postgres", async (client) =>
    (
      await client.query<{ slot_name: string }>(
        "SELECT slot_name FROM pg_replication_slots WHERE database = $1 AND (slot_name LIKE 'bench\\_copy\\_%' OR slot_name LIKE 'lat\\_%')",
        [BENCH_DB]
      )
    ).rows.map((row) => row.slot_name)
  ).catch(() => [] as Array<string>)
  for (const slot of stale) {
    log(`dropping stale slot ${slot}`)
    await dropSlot(BENCH_DB, slot)
  }
}

const drain = async (workRoot: string): Promise<Pick<Report, "runs" | "failures" | "settings" | "ratios">> => {
  const backlog: Backlog = await ensureBacklog({ changes, batch, rebuild: values.rebuild }, log)
  const results = new Map<ReaderName, Array<ReaderResult & { readonly busyBefore: number; readonly round: number; readonly servers?: ServerCost }>>()
  const failures: Array<{ reader: ReaderName; error: string }> = []
  let recordSize = 0
  let pgoutputBytes = 0
  for (let run = 1; run <= runs; run++) {
    for (const reader of ORDER.filter((name) => readers.includes(name))) {
      if (failures.some((failure) => failure.reader === reader)) continue // failed once: do not retry each run
      const slot = runName("bench_copy")
      const workDir = path.join(workRoot, `${reader}-${run}`)
      fs.mkdirSync(workDir, { recursive: true })
      const busy = await waitForQuietMachine()
      log(`run ${run}/${runs}: ${reader} (machine ${Math.round(busy * 100)}% busy before the start)`)
      try {
        if (USES_SLOT.has(reader)) await copySlot(backlog, slot)
        const usage = await serverUsage()
        const result = await RUNNERS[reader]({
          backlog,
          slot,
          workDir,
          timeoutMs,
          log,
          recordSize: recordSize > 0 ? recordSize : 300,
          pgoutputBytes,
          outboxEvents
        })
        const servers = serverCost(usage, await serverUsage(1_000))
        const expected = result.expected ?? backlog.changes
        if (result.events < expected) throw new Error(`delivered ${result.events} of ${expected} events`)
        if (reader === "server_decode") pgoutputBytes = result.bytes
        if (reader === "outboxx" && result.events > 0) recordSize = Math.round(result.bytes / result.events)
        log(
          `run ${run}/${runs}: ${reader}: ${result.events} events in ${result.seconds.toFixed(2)} s = ${Math.round(result.events / result.seconds)}/s, ` +
            `cpu ${result.cpuS.toFixed(2)} s, peak RSS ${result.peakRssMb.toFixed(0)} MB` +
            (result.startupS !== undefined ? `, startup ${result.startupS.toFixed(2)} s` : "") +
            (servers !== undefined
              ? `; broker cpu ${servers.brokerCpuS.toFixed(1)} s, postgres cpu ${servers.postgresCpuS.toFixed(1)} s, machine ${Math.round(servers.busyDuring * 100)}% busy`
              : "")
        )
        results.set(reader, [...(results.get(reader) ?? []), { ...result, busyBefore: busy, round: run, ...(servers !== undefined ? { servers } : {}) }])
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        log(`run ${run}/${runs}: ${reader} FAILED: ${message} (logs in ${workDir})`)
        failures.push({ reader, error: message })
      } finally {
        if (USES_SLOT.has(reader)) await dropSlot(backlog.database, slot).catch(() => undefined)
      }
    }
  }
  const rows = READERS.filter((reader) => results.has(reader)).map((reader) => summarize(results.get(reader)!))
  return {
    runs: rows,
    ratios: roundRatios([...results.values()].flat(), DRAIN_RATIOS),
    ...(failures.length > 0 ? { failures } : {}),
    settings: {
      changes: backlog.changes,
      inserts: backlog.inserts,
      updates: backlog.updates,
      deletes: backlog.deletes,
      runs,
      end_lsn: backlog.endLsn,
      backlog_build_s: Number(backlog.buildSeconds.toFixed(1)),
      kafka_record_size: recordSize
    }
  }
}

const main = async (): Promise<void> => {
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "outboxx-bench-"))
  log(`scratch files in ${workRoot}`)
  await dropStaleCopies()
  const machine = await describeMachine()
  const previous: Partial<Report> = (() => {
    try {
      return JSON.parse(fs.readFileSync(path.join(values.out, "latest.json"), "utf8")) as Report
    } catch {
      return {}
    }
  })()
  const drained = values["no-drain"] ? { runs: previous.runs ?? [], settings: previous.settings ?? {}, ...(previous.ratios ? { ratios: previous.ratios } : {}) } : await drain(workRoot)
  const snapshot = values["no-snapshot"]
    ? previous.snapshot
    : summarizeSnapshot(
        await runSnapshotBench({
          rows: snapshotRows,
          keylessRows,
          runs: snapshotRuns,
          readers: snapshotReaders,
          rebuild: values.rebuild,
          timeoutMs,
          workRoot,
          log
        })
      )
  const memory = values["no-memory"]
    ? previous.memory
    : summarizeMemory(
        await runMemoryBench({ sizes: memorySizes, cases: memoryCases, runs: memoryRuns, rebuild: values.rebuild, timeoutMs, workRoot, log })
      )
  let latency = previous.latency
  if (values.latency) {
    await withClient("postgres", async (client) => {
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [BENCH_DB])
      if (exists.rows.length === 0) await client.query(`CREATE DATABASE ${BENCH_DB}`)
    })
    const latencyReaders = (["outboxx", "debezium"] as const).filter((reader) => readers.includes(reader)) as Array<LatencyReader>
    latency = await runLatency({ readers: latencyReaders, rates, seconds: latencySeconds, warmupSeconds: latencyWarmup, workRoot, log })
  }
  const report: Report = { machine, ...drained, ...(snapshot ? { snapshot } : {}), ...(memory ? { memory } : {}), ...(latency ? { latency } : {}) }
  writeReport(values.out, report)
  log(`wrote ${path.join(values.out, "latest.json")}, latest.md and latest.svg`)
  console.log(fs.readFileSync(path.join(values.out, "latest.md"), "utf8"))
  const failed = (drained as { failures?: ReadonlyArray<unknown> }).failures?.length ?? 0
  if (!values.keep && failed === 0 && (snapshot?.failures?.length ?? 0) === 0 && (memory?.failures?.length ?? 0) === 0 && !(latency?.failures && latency.failures.length > 0)) fs.rmSync(workRoot, { recursive: true, force: true })
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  }
)
