/**
 * The fault suite's own PostgreSQL 15 and Kafka, on ports and directories of
 * their own, because the suite restarts, stops and freezes them (the shared
 * dev servers serve other test runs). Binaries and jars are the ones dev/
 * installed (dev/pg.sh, dev/kafka.sh).
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { repoRoot } from "../support/servers.js"

export const faultsDir = path.join(os.tmpdir(), "outboxx-faults")
export const pgPort = Number(process.env.OUTBOXX_FAULTS_PG_PORT ?? 54339)
export const kafkaPort = Number(process.env.OUTBOXX_FAULTS_KAFKA_PORT ?? 59192)
const PG_BIN = "/usr/lib/postgresql/15/bin"
const pgData = path.join(faultsDir, "pg", "data")
const pgLog = path.join(faultsDir, "pg", "postgres.log")
const kafkaDir = path.join(faultsDir, "kafka")
const kafkaLib = path.join(repoRoot, ".dev", "kafka", "lib")

const asPostgres = (cmd: string, args: ReadonlyArray<string>): string =>
  execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

export const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 200) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(everyMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export const pgUrl = (database = "postgres") => `postgres://postgres@127.0.0.1:${pgPort}/${database}`

export const pgUp = async (): Promise<void> => {
  fs.mkdirSync(path.dirname(pgData), { recursive: true })
  fs.chmodSync(faultsDir, 0o777)
  execFileSync("chown", ["postgres:postgres", path.dirname(pgData)])
  if (!fs.existsSync(path.join(pgData, "PG_VERSION"))) {
    asPostgres(`${PG_BIN}/initdb`, ["-D", pgData, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
  }
  const conf = [
    "listen_addresses = '127.0.0.1'",
    `port = ${pgPort}`,
    `unix_socket_directories = '${path.dirname(pgData)}'`,
    "max_connections = 200",
    "wal_level = logical",
    "max_replication_slots = 32",
    "max_wal_senders = 32",
    "wal_sender_timeout = '10s'",
    "fsync = off",
    "log_min_messages = warning"
  ].join("\n")
  fs.writeFileSync(path.join(pgData, "postgresql.auto.conf"), conf + "\n")
  execFileSync("chown", ["postgres:postgres", path.join(pgData, "postgresql.auto.conf")])
  if (await portOpen(pgPort)) return
  asPostgres(`${PG_BIN}/pg_ctl`, ["-D", pgData, "-l", pgLog, "-w", "-t", "60", "start"])
}

/** `pg_ctl restart -m fast|immediate`: returns once the server accepts connections again. */
export const pgRestart = (mode: "fast" | "immediate"): void => {
  asPostgres(`${PG_BIN}/pg_ctl`, ["-D", pgData, "-l", pgLog, "-m", mode, "-w", "-t", "60", "restart"])
}

/**
 * Starts every run from empty servers: the suite's PostgreSQL and Kafka live
 * in $TMPDIR, which outlives a checkout, and each scenario leaves a slot (with
 * its retained WAL) behind; left to accumulate across runs they exhaust
 * `max_replication_slots`. The previous run's logs stay until this point.
 */
export const resetFaultServers = (): void => {
  pgDown()
  killLeftoverKafka()
  for (const dir of ["pg", "kafka", "runs"]) fs.rmSync(path.join(faultsDir, dir), { recursive: true, force: true })
}

export const pgDown = (): void => {
  try {
    asPostgres(`${PG_BIN}/pg_ctl`, ["-D", pgData, "-m", "fast", "-w", "-t", "60", "stop"])
  } catch {}
}

let kafkaPid: number | undefined
const kafkaPidFile = path.join(faultsDir, "kafka.pid")

/** A broker an interrupted run left behind would hold the port. */
const killLeftoverKafka = (): void => {
  let pid: number
  try { pid = Number(fs.readFileSync(kafkaPidFile, "utf8")) } catch { return }
  try {
    if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("kafka.Kafka")) process.kill(pid, "SIGKILL")
  } catch {}
  fs.rmSync(kafkaPidFile, { force: true })
}

export const kafkaBrokersFaults = () => [`127.0.0.1:${kafkaPort}`]

const kafkaJava = (args: ReadonlyArray<string>) => [
  "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
  `-Dlog4j2.configurationFile=${path.join(kafkaDir, "log4j2.properties")}`,
  "-cp", `${kafkaLib}/*`, ...args
]

export const kafkaUp = async (): Promise<void> => {
  const data = path.join(kafkaDir, "data")
  fs.mkdirSync(data, { recursive: true })
  const props = path.join(kafkaDir, "server.properties")
  fs.writeFileSync(props, [
    "process.roles=broker,controller", "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${kafkaPort + 1}`,
    `listeners=PLAINTEXT://127.0.0.1:${kafkaPort},CONTROLLER://127.0.0.1:${kafkaPort + 1}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${kafkaPort}`,
    "controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    `log.dirs=${data}`, "num.partitions=1", "auto.create.topics.enable=true",
    "offsets.topic.replication.factor=1", "offsets.topic.num.partitions=1",
    "transaction.state.log.replication.factor=1", "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=1", "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1", "min.insync.replicas=1", "default.replication.factor=1",
    "group.initial.rebalance.delay.ms=0"
  ].join("\n") + "\n")
  fs.writeFileSync(path.join(kafkaDir, "log4j2.properties"), [
    "status = warn", "appender.file.type = File", "appender.file.name = file",
    `appender.file.fileName = ${path.join(kafkaDir, "server.log")}`,
    "appender.file.layout.type = PatternLayout", "appender.file.layout.pattern = [%d] %p %m (%c)%n",
    "rootLogger.level = info", "rootLogger.appenderRef.file.ref = file"
  ].join("\n") + "\n")
  if (!fs.existsSync(path.join(data, "meta.properties"))) {
    const id = execFileSync("java", kafkaJava(["kafka.tools.StorageTool", "random-uuid"]), { encoding: "utf8" }).trim().split("\n").pop()!
    execFileSync("java", kafkaJava(["kafka.tools.StorageTool", "format", "-t", id, "-c", props]), { stdio: "ignore" })
  }
  if (await portOpen(kafkaPort)) throw new Error(`port ${kafkaPort} is taken; set OUTBOXX_FAULTS_KAFKA_PORT`)
  try { fs.renameSync(path.join(kafkaDir, "server.log"), path.join(kafkaDir, "server.log.1")) } catch {}
  const child = spawn("java", kafkaJava(["kafka.Kafka", props]), { detached: true, stdio: "ignore" })
  child.unref()
  kafkaPid = child.pid
  fs.writeFileSync(kafkaPidFile, String(child.pid))
  await waitFor("the fault suite's Kafka", async () =>
    (await portOpen(kafkaPort)) &&
    fs.existsSync(path.join(kafkaDir, "server.log")) &&
    fs.readFileSync(path.join(kafkaDir, "server.log"), "utf8").includes("Kafka Server started"), 120_000)
}

/** Stops the broker (SIGTERM, then SIGKILL after 30 s). */
export const kafkaDown = async (): Promise<void> => {
  const pid = kafkaPid
  if (pid === undefined) return
  try { process.kill(pid, "SIGTERM") } catch { return }
  const alive = () => { try { process.kill(pid, 0); return true } catch { return false } }
  await waitFor("Kafka to stop", () => !alive(), 30_000).catch(() => process.kill(pid, "SIGKILL"))
  await waitFor("Kafka to die", () => !alive(), 10_000)
  kafkaPid = undefined
}

export const kafkaSignal = (signal: "SIGSTOP" | "SIGCONT") => {
  if (kafkaPid !== undefined) process.kill(kafkaPid, signal)
}
