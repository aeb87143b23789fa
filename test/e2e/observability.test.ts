/**
 * What an operator sees, checked against the real components: the built CLI
 * (`node dist/main.js run`) exports traces to a real Jaeger v2 (dev/jaeger.sh,
 * built from the Go module proxy) and is scraped by a real Prometheus
 * (Debian's package, dev/prometheus.sh) that loads the shipped alert rules.
 *
 * - Ten transactions, each committed alone: ten separate traces rooted at
 *   `outboxx.batch`, with the commit LSN, xid, table and destination topic;
 *   every span's parent is in the same trace (nothing hangs under a span that
 *   is never exported); each Kafka record carries its trace's `traceparent`;
 *   no process-long span, no spans for probes and scrapes.
 * - `sample_ratio = 0`: not one span of that instance reaches Jaeger.
 * - Prometheus scrapes every series (up = 1), evaluates every alert rule
 *   without error, and the lag it stores is the server's.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import {
  createTestDatabase,
  freePort,
  kafkaBrokers,
  pgQuery,
  readTopic,
  repoRoot,
  spawnCli,
  type TestDatabase,
  uniqueName
} from "../support/servers.js"

const settingsOf = (output: string): Record<string, string> =>
  Object.fromEntries(output.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]))


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const waitFor = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await sleep(250)
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${String(last)}`}`)
}

interface JaegerSpan {
  readonly traceID: string
  readonly spanID: string
  readonly operationName: string
  readonly references: ReadonlyArray<{ readonly refType: string; readonly spanID: string; readonly traceID: string }>
  readonly tags: ReadonlyArray<{ readonly key: string; readonly value: unknown }>
  readonly processID: string
}
interface JaegerTrace {
  readonly traceID: string
  readonly spans: ReadonlyArray<JaegerSpan>
  readonly processes: Record<string, { readonly serviceName: string; readonly tags: ReadonlyArray<{ readonly key: string; readonly value: unknown }> }>
}

const tag = (tags: ReadonlyArray<{ readonly key: string; readonly value: unknown }>, key: string) => tags.find((t) => t.key === key)?.value

let jaeger: { otlp: string; query: string }
let prometheusBin: string
let promtoolBin: string
let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-observability-"))
const children: Array<ChildProcess> = []

beforeAll(async () => {
  // First run on a machine: builds Jaeger (about 6 minutes); later runs reuse the binary.
  const j = settingsOf(execFileSync("bash", [path.join(repoRoot, "dev/jaeger.sh"), "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }))
  jaeger = { otlp: j.OUTBOXX_TEST_JAEGER_OTLP!, query: j.OUTBOXX_TEST_JAEGER_QUERY! }
  const p = settingsOf(execFileSync("bash", [path.join(repoRoot, "dev/prometheus.sh"), "install"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }))
  prometheusBin = p.OUTBOXX_TEST_PROMETHEUS!
  promtoolBin = p.OUTBOXX_TEST_PROMTOOL!
  db = await createTestDatabase("e2e_obs")
  await pgQuery(db.url, "CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)")
}, 900_000)

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL")
  await db?.drop()
})

/** Every trace Jaeger has for service outboxx since `since` (ms), whose process is this slot's. */
const tracesOf = async (slot: string, sinceMs: number): Promise<Array<JaegerTrace>> => {
  const url = `${jaeger.query}/api/traces?service=outboxx&limit=2000&start=${sinceMs * 1000}&end=${(Date.now() + 60_000) * 1000}`
  const body = await (await fetch(url)).json() as { data: Array<JaegerTrace> | null }
  return (body.data ?? []).filter((trace) =>
    Object.values(trace.processes).some((process) => tag(process.tags, "outboxx.slot") === slot)
  )
}

const config = (name: string, port: number, sampleRatio: number) =>
  writeRunConfig({
    dir: workDir,
    name,
    url: db.url,
    // Only the changes made while it runs (the table already has rows from the other runs).
    postgres: `snapshot = "never"`,
    http: `127.0.0.1:${port}`,
    sections: `
[tracing]
otlp_endpoint = "${jaeger.otlp}"
sample_ratio = ${sampleRatio}
`,
    streams: `
[[streams]]
name = "orders"
tables = ["orders"]
topic = "PREFIX.orders"
`
  })

describe("operator signals against Jaeger and Prometheus", () => {
  let port: number
  let slot: string
  let topic: string

  it("ten transactions are ten traces with LSN, xid, table and destination; records carry their traceparent", async () => {
    port = await freePort()
    const run = config("e2e_obs_traced", port, 1)
    slot = run.slot
    topic = `${run.prefix}.orders`
    const since = Date.now()
    const cli = spawnCli(["run", "-c", run.file])
    children.push(cli.child)
    await cli.waitForLine(/streaming slot/, 60_000)
    for (let i = 0; i < 10; i++) {
      await pgQuery(db.url, "INSERT INTO orders (note) VALUES ($1)", [`order ${i}`])
      await sleep(400)
    }
    // Probes and scrapes, which must not become traces.
    for (let i = 0; i < 5; i++) {
      await fetch(`http://127.0.0.1:${port}/readyz`)
      await fetch(`http://127.0.0.1:${port}/metrics`)
    }
    const records = await readTopic(topic, { count: 10, timeoutMs: 30_000 })
    expect(records).toHaveLength(10)

    const traces = await waitFor("ten checkpointed batch traces in Jaeger", async () => {
      const all = await tracesOf(slot, since)
      const found = all.filter((t) =>
        t.spans.some((s) => s.operationName === "outboxx.batch") && t.spans.some((s) => s.operationName === "outboxx.checkpoint")
      )
      if (found.length >= 10) return found
      throw new Error(`${found.length} of ${all.length} traces so far: ${JSON.stringify(all.map((t) => t.spans.map((s) => s.operationName).sort()))}`)
    }, 60_000)
    expect(traces).toHaveLength(10)

    const lsns = new Set<unknown>()
    for (const trace of traces) {
      const ids = new Set(trace.spans.map((s) => s.spanID))
      // No span points at a parent that was never exported.
      for (const span of trace.spans) {
        for (const ref of span.references.filter((r) => r.refType === "CHILD_OF")) {
          expect(ids.has(ref.spanID), `${span.operationName}'s parent is in the trace`).toBe(true)
        }
      }
      const root = trace.spans.find((s) => s.operationName === "outboxx.batch")!
      expect(root.references.filter((r) => r.refType === "CHILD_OF")).toHaveLength(0)
      expect(tag(root.tags, "outboxx.slot")).toBe(slot)
      expect(tag(root.tags, "messaging.system")).toBe("kafka")
      expect(tag(root.tags, "messaging.destination.name")).toBe(topic)
      expect(String(tag(root.tags, "outboxx.commit_lsn"))).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
      expect(Number(tag(root.tags, "outboxx.xid"))).toBeGreaterThan(0)
      expect(String(tag(root.tags, "outboxx.tables"))).toContain("public.orders")
      lsns.add(tag(root.tags, "outboxx.commit_lsn"))
      const names = trace.spans.map((s) => s.operationName)
      for (const name of ["outboxx.decode", "outboxx.route", "KafkaProducer.send", "outboxx.checkpoint"]) expect(names).toContain(name)
      const send = trace.spans.find((s) => s.operationName === "KafkaProducer.send")!
      expect(tag(send.tags, "messaging.destination.name")).toBe(topic)
      expect(tag(send.tags, "span.kind")).toBe("producer")
      const process = trace.processes[root.processID]!
      expect(String(tag(process.tags, "service.instance.id"))).toMatch(/^[0-9a-f-]{36}$/)
    }
    expect(lsns.size).toBe(10)

    // Each record's traceparent names its batch's trace: consumers join it.
    const traceIds = new Set(traces.map((t) => t.traceID.padStart(32, "0")))
    for (const record of records) {
      const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(record.headers.traceparent ?? "")
      expect(match, `traceparent on ${record.value}`).not.toBeNull()
      expect(traceIds.has(match![1]!)).toBe(true)
    }

    // Nothing process-long, no spans for HTTP probes, and no huge trace.
    const all = await tracesOf(slot, since)
    for (const trace of all) {
      expect(trace.spans.length).toBeLessThan(50)
      for (const span of trace.spans) {
        expect(["cli.run", "Pipeline.runStreaming", "GET", "http.server GET"]).not.toContain(span.operationName)
      }
    }
    expect(all.some((t) => t.spans.some((s) => s.operationName === "outboxx.start"))).toBe(true)
  }, 180_000)

  it("Prometheus scrapes every series, evaluates the shipped alert rules, and stores the server's lag", async () => {
    const promPort = await freePort()
    const dir = mkdtempSync(path.join(workDir, "prometheus-"))
    const configFile = path.join(dir, "prometheus.yml")
    writeFileSync(configFile, `
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - ${path.join(repoRoot, "deploy/prometheus/outboxx-alerts.yml")}
scrape_configs:
  - job_name: outboxx
    static_configs:
      - targets: ["127.0.0.1:${port}"]
`)
    const prometheus = spawn(prometheusBin, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`
    ], { stdio: "ignore" })
    children.push(prometheus)
    const api = `http://127.0.0.1:${promPort}/api/v1`
    const query = async (q: string) =>
      ((await (await fetch(`${api}/query?query=${encodeURIComponent(q)}`)).json()) as {
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
      }).data.result

    await waitFor("Prometheus to scrape outboxx", async () => ((await query('up{job="outboxx"}'))[0]?.value[1] === "1" ? true : undefined), 60_000)
    await pgQuery(db.url, "INSERT INTO orders (note) VALUES ('after prometheus')")
    const series = await waitFor("the outboxx series", async () => {
      const names = new Set((await query('{job="outboxx"}')).map((r) => r.metric.__name__!))
      return names.has("outboxx_slot_retained_wal_bytes") && names.has("outboxx_events_total") ? names : undefined
    }, 30_000)
    for (
      const name of [
        "outboxx_replication_lag_bytes",
        "outboxx_replication_lag_seconds",
        "outboxx_slot_retained_wal_bytes",
        "outboxx_slot_wal_status",
        "outboxx_kafka_circuit_open",
        "outboxx_ready",
        "outboxx_build_info",
        "outboxx_kafka_produce_duration_seconds_bucket",
        "outboxx_end_to_end_latency_seconds_bucket",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "nodejs_eventloop_lag_p99_seconds"
      ]
    ) expect(series.has(name), name).toBe(true)
    expect((await query("outboxx_ready"))[0]?.value[1]).toBe("1")
    // The exposition passes Prometheus's own lint (names, types, help, units).
    const exposition = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(execFileSync(promtoolBin, ["check", "metrics"], { input: exposition, encoding: "utf8" })).toBe("")
    expect((await query('outboxx_slot_wal_status{status="reserved"}'))[0]?.value[1]).toBe("1")

    // Every shipped rule loaded and evaluated without error; none fires on a healthy pipeline.
    const rules = await waitFor("the rules evaluated", async () => {
      const body = await (await fetch(`${api}/rules`)).json() as {
        data: { groups: Array<{ rules: Array<{ name: string; health: string; state: string; lastError?: string }> }> }
      }
      const all = body.data.groups.flatMap((g) => g.rules)
      return all.length > 0 && all.every((r) => r.health === "ok") ? all : undefined
    }, 30_000)
    expect(rules.length).toBeGreaterThanOrEqual(10)
    expect(rules.filter((r) => r.state === "firing").map((r) => r.name)).toEqual([])

    // The lag Prometheus stored against the server's own view at about the same moment (idle: both small).
    // Other tests share the server and write WAL between the scrape and the query, which moves the
    // server's figure by itself: the two must agree at some moment, not at the first try.
    const lagPair = async () => {
      const [stored] = await query("outboxx_replication_lag_bytes")
      const [{ lag }] = await pgQuery<{ lag: string }>(
        db.url,
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag FROM pg_replication_slots WHERE slot_name = $1",
        [slot]
      )
      return { stored: Number(stored!.value[1]), server: Number(lag) }
    }
    let last = await lagPair()
    const agreed = await waitFor("the stored lag to match the server's", async () => {
      last = await lagPair()
      return Math.abs(last.stored - last.server) < 64 * 1024 ? last : undefined
    }, 20_000).catch(() => undefined)
    expect(agreed, `stored ${last.stored} B, server ${last.server} B`).toBeDefined()
  }, 120_000)

  it("Kafka unreachable at start: /readyz and /status name Kafka with its error, PostgreSQL is connected, errors are counted", async () => {
    const closed = await freePort()
    const httpPort = await freePort()
    const run = writeRunConfig({
      dir: workDir,
      name: "e2e_obs_nokafka",
      url: db.url,
      brokers: [`127.0.0.1:${closed}`],
      http: `127.0.0.1:${httpPort}`,
      streams: `
[[streams]]
name = "orders"
tables = ["orders"]
topic = "PREFIX.orders"
`
    })
    const cli = spawnCli(["run", "-c", run.file])
    children.push(cli.child)
    const base = `http://127.0.0.1:${httpPort}`
    const reason = await waitFor("/readyz to name Kafka", async () => {
      const response = await fetch(`${base}/readyz`)
      const body = await response.json() as { reason?: string }
      // Until the first attempt failed it is just "kafka not connected"; then with the broker's error.
      return response.status === 503 && body.reason?.startsWith("kafka not connected:") === true ? body.reason : undefined
    }, 30_000)
    expect(reason).toContain(`127.0.0.1:${closed}`)
    const status = await (await fetch(`${base}/status`)).json() as {
      postgres: { connected: boolean }
      kafka: { connected: boolean; error: string | null }
      lastError: string | null
    }
    expect(status.postgres.connected).toBe(true)
    expect(status.kafka.connected).toBe(false)
    expect(status.kafka.error).toContain("ECONNREFUSED")
    expect(status.lastError).toBeTruthy()
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(Number(/^outboxx_kafka_errors_total (\d+)$/m.exec(metrics)![1])).toBeGreaterThan(0)
    expect(metrics).toMatch(/^outboxx_kafka_connected 0$/m)
    expect(metrics).toMatch(/^outboxx_postgres_connected 1$/m)
    // Logs: one JSON object per line, message always a string.
    const lines = cli.stdout().split("\n").filter((l) => l !== "")
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) expect(typeof (JSON.parse(line) as { message: unknown }).message).toBe("string")
    await cli.stop()
  }, 60_000)

  it("sample_ratio = 0 exports nothing", async () => {
    const run = config("e2e_obs_unsampled", await freePort(), 0)
    const since = Date.now()
    const cli = spawnCli(["run", "-c", run.file])
    children.push(cli.child)
    await cli.waitForLine(/streaming slot/, 60_000)
    for (let i = 0; i < 10; i++) await pgQuery(db.url, "INSERT INTO orders (note) VALUES ($1)", [`unsampled ${i}`])
    expect(await readTopic(`${run.prefix}.orders`, { count: 10, timeoutMs: 30_000 })).toHaveLength(10)
    // Stop it cleanly (pending spans are flushed at shutdown), then give Jaeger time to store anything it got.
    await cli.stop()
    await sleep(2000)
    expect(await tracesOf(run.slot, since)).toEqual([])
  }, 120_000)

  it("a cluster runner's batch traces name the pipeline and the runner (control database = the captured one)", async () => {
    const dir = path.join(workDir, "cluster")
    mkdirSync(path.join(dir, "pipelines"), { recursive: true })
    const slot = uniqueName("obscluster")
    writeFileSync(
      path.join(dir, "pipelines", "orders.toml"),
      `
[postgres]
url = "${db.url}"
slot = "${slot}"
publication = "${slot}"
snapshot = "never"
status_interval = "1s"
[kafka]
brokers = ${JSON.stringify([kafkaBrokers()[0]])}
[[streams]]
name = "orders"
tables = ["orders"]
topic = "${uniqueName("obscluster.t")}"
`
    )
    const runnerPort = await freePort()
    const runner = `127.0.0.1:${runnerPort}`
    writeFileSync(
      path.join(dir, "runner.toml"),
      `
[cluster]
url = "${db.url}"
runner = "${runner}"
lock_expiration = "10s"
[http]
listen = ""
[tracing]
otlp_endpoint = "${jaeger.otlp}"
sample_ratio = 1
`
    )
    const since = Date.now()
    const cli = spawnCli(["run", "-c", path.join(dir, "runner.toml")])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      for (let i = 0; i < 20; i++) await pgQuery(db.url, "INSERT INTO orders (note) VALUES ('cluster')")
      const roots = await waitFor("batch traces of the cluster pipeline in Jaeger", async () => {
        const url = `${jaeger.query}/api/traces?service=outboxx&limit=2000&start=${since * 1000}&end=${(Date.now() + 60_000) * 1000}`
        const body = await (await fetch(url)).json() as { data: Array<JaegerTrace> | null }
        const found = (body.data ?? []).flatMap((trace) =>
          trace.spans.filter((s) => s.operationName === "outboxx.batch" && tag(s.tags, "outboxx.slot") === slot)
            .map((s) => ({ span: s, process: trace.processes[s.processID]! }))
        )
        return found.length > 0 ? found : undefined
      }, 60_000)
      for (const { process, span } of roots) {
        expect(tag(span.tags, "outboxx.pipeline")).toBe("orders")
        expect(tag(span.tags, "outboxx.runner")).toBe(runner)
        expect(tag(process.tags, "outboxx.runner")).toBe(runner)
      }
    } finally {
      await cli.stop("SIGTERM", 30_000)
    }
  }, 180_000)
})
