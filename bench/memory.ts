/**
 * The memory benchmark (`npm run bench`, after the drain and the snapshot):
 * the shapes of load that break CDC tools which buffer, each drained by the
 * built CLI into Kafka while its peak RSS is sampled (bench/lib/proc.ts).
 *
 * Cases (a database of its own, `outboxx_bench_mem`, built once and reused
 * while the sizes match; each case has a table, a publication and a template
 * slot created right before its writes, and every run drains a copy):
 * - huge_value: one row whose text value is `--huge-value-mb` MB (hex
 *   digits, so JSON escaping does not change its size), then a small row.
 *   Its topic accepts records up to 4x the value.
 * - huge_values: 20 rows of a fifth of that size each, in one transaction:
 *   a run of large values must not cost their number times their size.
 * - big_transaction: `--big-tx-rows` ~150-byte inserts in ONE transaction.
 * - backlog: `--memory-backlog` ~150-byte inserts in transactions of 10,000,
 *   all of them waiting in the slot when outboxx starts.
 * - tables: `--memory-tables` captured tables, 100 inserts into each (one
 *   transaction per table), all into one topic.
 *
 * Each case has a bound (BOUNDS, docs/benchmark.md#memory): the report says
 * whether its peak stayed within.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { copySlot, dropSlot, rowSelect, tableDdl } from "./backlog.js"
import { drainIntoTopic } from "./lib/drain.js"
import { waitForQuietMachine } from "./lib/proc.js"
import { connect, deleteTopics, kafkaBroker, pgUrl, quoteIdent, quoteLiteral, runName, withAdmin, withClient } from "./lib/servers.js"
import { startOutboxx } from "./readers/outboxx.js"

export const MEMORY_DB = "outboxx_bench_mem"

export const MEMORY_CASES = ["huge_value", "huge_values", "big_transaction", "backlog", "tables"] as const
export type MemoryCase = (typeof MEMORY_CASES)[number]

export interface MemorySizes {
  readonly hugeValueMb: number
  readonly bigTxRows: number
  readonly backlogRows: number
  readonly tables: number
}

/** What one case's slot holds once built. */
interface CaseData {
  readonly tables: ReadonlyArray<string>
  readonly publication: string
  readonly templateSlot: string
  readonly records: number
}

interface MemoryMeta {
  readonly sizes: MemorySizes
  readonly cases: Record<MemoryCase, CaseData>
  readonly buildSeconds: number
}

/**
 * The documented bound of each case's peak RSS, MB, from its size: the idle
 * daemon (about 110 MB: the node binary's pages and the modules) plus what
 * the design lets the case hold. See docs/benchmark.md#memory for why.
 */
export const BOUNDS: Record<MemoryCase, (sizes: MemorySizes) => number> = {
  // The value's copies: the replication connection's receive buffer (pg's
  // parser doubles it: up to 2x while it grows), the decoded message, the
  // event built from it (1.125x: room for the rest of the event), and the
  // produce request the Kafka connection joins its pieces into.
  huge_value: (sizes) => 150 + 4.5 * sizes.hugeValueMb,
  // A run of them: what delivery and the source queue may hold before reading
  // stops (deliver/HeldBytes.ts: 16 MB; the queue: 8 MB, plus one message
  // each), the collector's slack on the buffers already let go, and the
  // parser's regrowth for each message: measured 200 + 8.7x the value at
  // 5, 10 and 25 MB, whatever the number of values.
  huge_values: (sizes) => 220 + 9 * (sizes.hugeValueMb / 5),
  // Flat: the stream is read as it arrives, a transaction is never gathered.
  big_transaction: () => 250,
  backlog: () => 250,
  // A plan per table; the rest is flat.
  tables: () => 250
}

export interface MemoryResult {
  readonly case: MemoryCase
  readonly records: number
  readonly seconds: number
  readonly cpuS: number
  readonly peakRssMb: number
  readonly boundMb: number
  readonly round: number
  readonly busyBefore: number
}

export interface MemoryBenchOutcome {
  readonly results: ReadonlyArray<MemoryResult>
  readonly failures: ReadonlyArray<{ readonly case: MemoryCase; readonly error: string }>
  readonly settings: Record<string, unknown>
}

const readMeta = async (): Promise<MemoryMeta | undefined> => {
  try {
    return await withClient(MEMORY_DB, async (client) => (await client.query<{ meta: MemoryMeta }>("SELECT meta FROM mem_meta")).rows[0]?.meta)
  } catch {
    return undefined
  }
}

const sameSizes = (a: MemorySizes, b: MemorySizes): boolean =>
  a.hugeValueMb === b.hugeValueMb && a.bigTxRows === b.bigTxRows && a.backlogRows === b.backlogRows && a.tables === b.tables

const dropMemoryDatabase = async (): Promise<void> => {
  await withClient("postgres", async (client) => {
    const slots = await client.query<{ slot_name: string }>("SELECT slot_name FROM pg_replication_slots WHERE database = $1", [MEMORY_DB])
    for (const slot of slots.rows) await dropSlot("postgres", slot.slot_name)
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(MEMORY_DB)} WITH (FORCE)`)
  })
}

const ensureMemoryData = async (sizes: MemorySizes, rebuild: boolean, log: (line: string) => void): Promise<MemoryMeta> => {
  if (!rebuild) {
    const existing = await readMeta()
    if (existing !== undefined && sameSizes(existing.sizes, sizes)) {
      log(`reusing the memory cases in ${MEMORY_DB}; --rebuild to redo them`)
      return existing
    }
  }
  const started = performance.now()
  await dropMemoryDatabase()
  await withClient("postgres", (client) => client.query(`CREATE DATABASE ${quoteIdent(MEMORY_DB)}`))
  const client = await connect(MEMORY_DB)
  try {
    await client.query("SET synchronous_commit = on")
    await client.query("CREATE TABLE mem_meta (meta jsonb NOT NULL)")
    const prepare = async (name: string, tables: ReadonlyArray<string>): Promise<{ publication: string; templateSlot: string }> => {
      const publication = `${name}_pub`
      const templateSlot = `${name}_template`
      await client.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${tables.map(quoteIdent).join(", ")}`)
      await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [templateSlot])
      return { publication, templateSlot }
    }

    log(`building huge_value: one ${sizes.hugeValueMb} MB value`)
    await client.query("CREATE TABLE mem_huge (id int8 PRIMARY KEY, v text NOT NULL)")
    const huge = await prepare("mem_huge", ["mem_huge"])
    // md5 hex: 32 bytes per step, nothing JSON must escape.
    await client.query(
      `INSERT INTO mem_huge SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, ${Math.ceil((sizes.hugeValueMb * 1024 * 1024) / 32)}) AS g`
    )
    await client.query("INSERT INTO mem_huge VALUES (2, 'small')")

    log(`building huge_values: 20 values of ${sizes.hugeValueMb / 5} MB in one transaction`)
    await client.query("CREATE TABLE mem_huges (id int8 PRIMARY KEY, v text NOT NULL)")
    const huges = await prepare("mem_huges", ["mem_huges"])
    await client.query(
      `INSERT INTO mem_huges SELECT i, (SELECT string_agg(md5((g + i)::text), '') FROM generate_series(1, ${Math.ceil((sizes.hugeValueMb * 1024 * 1024) / 5 / 32)}) AS g) FROM generate_series(1, 20) AS i`
    )

    log(`building big_transaction: ${sizes.bigTxRows} inserts in one transaction`)
    await client.query(tableDdl("mem_bigtx"))
    const bigTx = await prepare("mem_bigtx", ["mem_bigtx"])
    await client.query(`INSERT INTO mem_bigtx SELECT ${rowSelect("g")} FROM generate_series(1, ${sizes.bigTxRows}) AS g`)

    log(`building backlog: ${sizes.backlogRows} inserts in transactions of 10000`)
    await client.query(tableDdl("mem_backlog"))
    const backlog = await prepare("mem_backlog", ["mem_backlog"])
    for (let from = 1; from <= sizes.backlogRows; from += 10_000) {
      const to = Math.min(sizes.backlogRows, from + 9_999)
      await client.query(`INSERT INTO mem_backlog SELECT ${rowSelect("g")} FROM generate_series(${from}, ${to}) AS g`)
    }

    log(`building tables: ${sizes.tables} tables, 100 inserts into each`)
    const names = Array.from({ length: sizes.tables }, (_, i) => `mem_t${String(i).padStart(4, "0")}`)
    for (const name of names) await client.query(`CREATE TABLE ${quoteIdent(name)} (id int8 PRIMARY KEY, v text NOT NULL)`)
    const many = await prepare("mem_tables", names)
    for (const name of names) {
      await client.query(`INSERT INTO ${quoteIdent(name)} SELECT g, 'row ' || g || ' of ' || ${quoteLiteral(name)} FROM generate_series(1, 100) AS g`)
    }

    const meta: MemoryMeta = {
      sizes,
      cases: {
        huge_value: { tables: ["mem_huge"], ...huge, records: 2 },
        huge_values: { tables: ["mem_huges"], ...huges, records: 20 },
        big_transaction: { tables: ["mem_bigtx"], ...bigTx, records: sizes.bigTxRows },
        backlog: { tables: ["mem_backlog"], ...backlog, records: sizes.backlogRows },
        tables: { tables: names, ...many, records: sizes.tables * 100 }
      },
      buildSeconds: (performance.now() - started) / 1000
    }
    await client.query(`INSERT INTO mem_meta VALUES (${quoteLiteral(JSON.stringify(meta))}::jsonb)`)
    log(`memory cases built in ${meta.buildSeconds.toFixed(1)} s`)
    return meta
  } finally {
    await client.end()
  }
}

const memoryConfig = (data: CaseData, slot: string, topic: string, stateDir: string): string => `# Generated by bench/memory.ts.
[postgres]
url = "${pgUrl(MEMORY_DB)}"
slot = "${slot}"
publication = "${data.publication}"
publication_mode = "existing"
snapshot = "never"

[kafka]
brokers = ["${kafkaBroker}"]
client_id = "outboxx-bench"
create_topics = false

[state]
dir = "${stateDir}"

[http]
listen = ""

[log]
level = "info"

[[streams]]
name = "bench"
tables = [${data.tables.map((table) => `"public.${table}"`).join(", ")}]
topic = "${topic}"
tombstones = false
`

const runCase = async (
  name: MemoryCase,
  meta: MemoryMeta,
  workDir: string,
  timeoutMs: number
): Promise<Omit<MemoryResult, "round" | "busyBefore">> => {
  const data = meta.cases[name]
  const slot = runName("bench_mem")
  const topic = runName(`bench_mem_${name}`)
  // Room for the huge value's record (the broker's socket.request.max.bytes is 100 MB).
  const maxMessageBytes = name === "huge_value" || name === "huge_values" ? Math.min(100 * 1024 * 1024 - 1024, 4 * meta.sizes.hugeValueMb * 1024 * 1024) : undefined
  await withAdmin((admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [
            { name: "message.timestamp.type", value: "LogAppendTime" },
            ...(maxMessageBytes === undefined ? [] : [{ name: "max.message.bytes", value: String(maxMessageBytes) }])
          ]
        }
      ]
    })
  )
  await copySlot({ database: MEMORY_DB, templateSlot: data.templateSlot }, slot)
  try {
    const config = memoryConfig(data, slot, topic, path.join(workDir, "state"))
    const result = await drainIntoTopic({
      what: `outboxx (${name})`,
      topic,
      expected: data.records,
      timeoutMs,
      start: () => startOutboxx(workDir, config, timeoutMs + 60_000)
    })
    const boundMb = BOUNDS[name](meta.sizes)
    return { case: name, records: result.events, seconds: result.seconds, cpuS: result.cpuS, peakRssMb: result.peakRssMb, boundMb }
  } finally {
    await withAdmin((admin) => deleteTopics(admin, [topic]))
    await dropSlot(MEMORY_DB, slot).catch(() => undefined)
  }
}

export const runMemoryBench = async (options: {
  readonly sizes: MemorySizes
  readonly cases: ReadonlyArray<MemoryCase>
  readonly runs: number
  readonly rebuild: boolean
  readonly timeoutMs: number
  readonly workRoot: string
  readonly log: (line: string) => void
}): Promise<MemoryBenchOutcome> => {
  const { log } = options
  const meta = await ensureMemoryData(options.sizes, options.rebuild, log)
  const results: Array<MemoryResult> = []
  const failures: Array<{ case: MemoryCase; error: string }> = []
  for (let round = 1; round <= options.runs; round++) {
    for (const name of MEMORY_CASES.filter((c) => options.cases.includes(c))) {
      if (failures.some((failure) => failure.case === name)) continue
      const workDir = path.join(options.workRoot, `memory-${name}-${round}`)
      fs.mkdirSync(workDir, { recursive: true })
      const busy = await waitForQuietMachine()
      log(`memory run ${round}/${options.runs}: ${name} (machine ${Math.round(busy * 100)}% busy before the start)`)
      try {
        const result = await runCase(name, meta, workDir, options.timeoutMs)
        if (result.records < meta.cases[name].records) throw new Error(`delivered ${result.records} of ${meta.cases[name].records} records`)
        log(
          `memory run ${round}/${options.runs}: ${name}: ${result.records} records in ${result.seconds.toFixed(2)} s, cpu ${result.cpuS.toFixed(2)} s, ` +
            `peak RSS ${result.peakRssMb.toFixed(0)} MB (bound ${result.boundMb} MB${result.peakRssMb > result.boundMb ? ", EXCEEDED" : ""})`
        )
        results.push({ ...result, round, busyBefore: busy })
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        log(`memory run ${round}/${options.runs}: ${name} FAILED: ${message} (logs in ${workDir})`)
        failures.push({ case: name, error: message })
      }
    }
  }
  return {
    results,
    failures,
    settings: {
      huge_value_mb: options.sizes.hugeValueMb,
      big_tx_rows: options.sizes.bigTxRows,
      backlog_rows: options.sizes.backlogRows,
      tables: options.sizes.tables,
      runs: options.runs,
      build_s: Number(meta.buildSeconds.toFixed(1))
    }
  }
}
