/**
 * One fault scenario: its own database, table, slot, topic and state dir on
 * the fault suite's servers; a continuous writer; outboxx as a real process
 * (the built CLI, `node dist/main.js run`);
 * and the verdict: every source row in Kafka, duplicates counted.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import pg from "pg"
import { repoRoot } from "../support/servers.js"
import { faultsDir, kafkaBrokersFaults, pgUrl, sleep, waitFor } from "./servers.js"

const nodeBin = process.execPath

export interface Daemon {
  readonly child: ChildProcess
  readonly logFile: string
  readonly exited: Promise<number | null>
  readonly log: () => string
}

/** Per-instance additions: the HTTP port, and lines for the [postgres] and [kafka] sections. */
export interface ScenarioExtra {
  readonly http?: number
  readonly postgres?: string
  readonly kafka?: string
}

export class Scenario {
  readonly db: string
  readonly topic: string
  readonly dir: string
  private writerOn = false
  private writerDone: Promise<void> = Promise.resolve()
  private nextLog = 0
  written = 0
  writeErrors = 0

  constructor(readonly name: string) {
    this.db = `f_${name}_${Date.now().toString(36)}`
    this.topic = `${this.db}.t`
    this.dir = path.join(faultsDir, "runs", this.db)
  }

  async setup(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true })
    const admin = new pg.Client({ connectionString: pgUrl() })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${this.db}`)
    await admin.end()
    const c = new pg.Client({ connectionString: pgUrl(this.db) })
    await c.connect()
    await c.query("CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL)")
    await c.end()
  }

  config(instance: string, extra: ScenarioExtra = {}): string {
    const file = path.join(this.dir, `${instance}.toml`)
    fs.writeFileSync(file, `[postgres]
url = "${pgUrl(this.db)}"
slot = "${this.db}"
publication = "${this.db}"
status_interval = "1s"
heartbeat_interval = "2s"
liveness_timeout = "15s"
connect_timeout = "5s"
${extra.postgres ?? ""}
[kafka]
brokers = ${JSON.stringify(kafkaBrokersFaults())}
${extra.kafka ?? ""}
[state]
dir = "${path.join(this.dir, `state-${instance}`)}"
[http]
listen = "${extra.http === undefined ? "" : `127.0.0.1:${extra.http}`}"
[log]
format = "json"
level = "info"
[[streams]]
name = "s"
tables = ["t"]
topic = "${this.topic}"
`)
    return file
  }

  start(instance = "a", extra: ScenarioExtra = {}): Daemon {
    const config = this.config(instance, extra)
    const logFile = path.join(this.dir, `${instance}-${this.nextLog++}.log`)
    const out = fs.openSync(logFile, "a")
    const args = [path.join(repoRoot, "dist", "main.js"), "run", "-c", config]
    const child = spawn(nodeBin, args, { cwd: repoRoot, stdio: ["ignore", out, out] })
    fs.closeSync(out)
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    return { child, logFile, exited, log: () => fs.readFileSync(logFile, "utf8") }
  }

  async waitStreaming(d: Daemon, timeoutMs = 60_000, fromOffset = 0): Promise<void> {
    await waitFor(`${this.name}: "streaming slot" in ${d.logFile}`, () => d.log().slice(fromOffset).includes("streaming slot"), timeoutMs)
  }

  /** Inserts rows continuously (one per transaction, ~`perSecond`), reconnecting through outages. */
  startWriter(perSecond = 100): void {
    this.writerOn = true
    this.writerDone = (async () => {
      let client: pg.Client | undefined
      while (this.writerOn) {
        try {
          if (client === undefined) {
            client = new pg.Client({ connectionString: pgUrl(this.db), connectionTimeoutMillis: 2000 })
            client.on("error", () => {})
            await client.connect()
          }
          await client.query("INSERT INTO t (v) VALUES ($1)", [`row-${this.written}`])
          this.written++
          await sleep(1000 / perSecond)
        } catch {
          this.writeErrors++
          client?.end().catch(() => {})
          client = undefined
          await sleep(200)
        }
      }
      await client?.end().catch(() => {})
    })()
  }

  async stopWriter(): Promise<void> {
    this.writerOn = false
    await this.writerDone
  }

  async sourceIds(): Promise<Set<string>> {
    const c = new pg.Client({ connectionString: pgUrl(this.db) })
    await c.connect()
    const rows = (await c.query<{ id: string }>("SELECT id::text FROM t")).rows
    await c.end()
    return new Set(rows.map((r) => r.id))
  }

  /** Every record's row id in the topic (values are outboxx change events). */
  async topicIds(expected: number, timeoutMs = 90_000, readUncommitted = false): Promise<Array<string>> {
    const kafka = new Kafka({ clientId: "faults-reader", brokers: kafkaBrokersFaults(), logLevel: logLevel.NOTHING })
    const consumer = kafka.consumer({ groupId: `faults-${this.db}-${Date.now()}`, readUncommitted })
    await consumer.connect()
    await consumer.subscribe({ topic: this.topic, fromBeginning: true })
    const ids: Array<string> = []
    const seen = new Set<string>()
    let last = Date.now()
    await consumer.run({
      eachMessage: async ({ message }) => {
        last = Date.now()
        if (message.value === null) return
        const event = JSON.parse(message.value.toString()) as { after?: { id?: number | string } }
        const id = String(event.after?.id)
        ids.push(id)
        seen.add(id)
      }
    })
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline && (seen.size < expected || Date.now() - last < 3000)) await sleep(250)
    await consumer.disconnect()
    return ids
  }

  async verdict(): Promise<{ source: number; delivered: number; missing: number; duplicates: number }> {
    const source = await this.sourceIds()
    const ids = await this.topicIds(source.size)
    const distinct = new Set(ids)
    const missingIds = [...source].filter((id) => !distinct.has(id))
    if (missingIds.length > 0) {
      // Evidence for the report: are the missing rows in the topic at all, outside committed transactions?
      const uncommitted = new Set(await this.topicIds(source.size, 30_000, true))
      const present = missingIds.filter((id) => uncommitted.has(id))
      console.log(`${this.name}: missing ids ${missingIds.slice(0, 20).join(", ")}; ${present.length} of them in the topic read uncommitted`)
    }
    return { source: source.size, delivered: ids.length, missing: missingIds.length, duplicates: ids.length - distinct.size }
  }

  async slotActivePid(): Promise<number | null> {
    const c = new pg.Client({ connectionString: pgUrl() })
    await c.connect()
    const rows = (await c.query<{ active_pid: number | null }>("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", [this.db])).rows
    await c.end()
    return rows[0]?.active_pid ?? null
  }
}

export interface FaultResult {
  readonly fault: string
  readonly source: number
  readonly delivered: number
  readonly missing: number
  readonly duplicates: number
  readonly outcome: string
}

export const resultsFile = path.join(faultsDir, "results.json")

export const recordResult = (r: FaultResult): void => {
  const all: Array<FaultResult> = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, "utf8")) : []
  all.push(r)
  fs.writeFileSync(resultsFile, JSON.stringify(all, null, 2))
}

export const resultsTable = (): string => {
  const all: Array<FaultResult> = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, "utf8")) : []
  const lines = ["| fault | source rows | records in Kafka | missing | duplicates | outcome |", "|---|---|---|---|---|---|"]
  for (const r of all) lines.push(`| ${r.fault} | ${r.source} | ${r.delivered} | ${r.missing} | ${r.duplicates} | ${r.outcome} |`)
  return lines.join("\n")
}
