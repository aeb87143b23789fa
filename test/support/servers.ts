/**
 * Helpers for tests against the real local servers that `dev/up.sh` starts
 * (PostgreSQL 15 and Kafka 4, both on loopback). Real clients only: `pg` and
 * `kafkajs`. Every name a test creates is unique, so test files run in
 * parallel without seeing each other's databases, slots or topics.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Kafka, logLevel, type Admin, type IHeaders } from "kafkajs"
import pg from "pg"
import { kafkajsModule } from "../../src/deliver/kafka/kafkajs/module.js"

// The tests' own kafkajs clients get the daemon's fix of its 1 ms idle timer loop
// (kafkajs issues #1704, #1751; module.ts): no spinning timer, no TimeoutNegativeWarning.
kafkajsModule()

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

// ---------------------------------------------------------------------------
// Connection settings

const pgPort = (): string => process.env.OUTBOXX_DEV_PG_PORT ?? "54329"
const kafkaPort = (): string => process.env.OUTBOXX_DEV_KAFKA_PORT ?? "59092"

/** A superuser URL for `database` on the local test cluster. */
export const pgAdminUrl = (database = "postgres"): string => {
  const base = new URL(process.env.OUTBOXX_TEST_PG_URL ?? `postgres://postgres@127.0.0.1:${pgPort()}/postgres`)
  base.pathname = `/${encodeURIComponent(database)}`
  return base.toString()
}

/** The local Kafka bootstrap servers. */
export const kafkaBrokers = (): Array<string> =>
  (process.env.OUTBOXX_TEST_KAFKA_BROKERS ?? `127.0.0.1:${kafkaPort()}`)
    .split(",")
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0)

let nameCounter = 0

/**
 * A name unique across processes and runs, usable unquoted as a PostgreSQL
 * identifier (lower case, <= 63 bytes) and as a Kafka topic name.
 */
export const uniqueName = (prefix: string): string => {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_").replace(/^([^a-z_])/, "_$1").slice(0, 30)
  nameCounter += 1
  const random = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, "0")
  return `${clean}_${process.pid.toString(36)}${Date.now().toString(36)}_${nameCounter}${random}`
}

// ---------------------------------------------------------------------------
// PostgreSQL

/** Runs one statement on a fresh connection and returns its rows. */
export const pgQuery = async <Row extends Record<string, unknown> = Record<string, unknown>>(
  url: string,
  sql: string,
  params?: ReadonlyArray<unknown>
): Promise<Array<Row>> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const result = await client.query<Row>(sql, params as Array<unknown> | undefined)
    return result.rows
  } finally {
    await client.end()
  }
}

export interface TestDatabase {
  readonly name: string
  /** Superuser URL of the new database. */
  readonly url: string
  /** Drops the database, its replication slots first (they would block the drop). */
  readonly drop: () => Promise<void>
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** Creates an empty database with a unique name on the local cluster. */
export const createTestDatabase = async (prefix: string): Promise<TestDatabase> => {
  const name = uniqueName(prefix)
  await pgQuery(pgAdminUrl(), `CREATE DATABASE ${quoteIdent(name)}`)
  return { name, url: pgAdminUrl(name), drop: () => dropTestDatabase(name) }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const dropTestDatabase = async (name: string): Promise<void> => {
  const admin = pgAdminUrl()
  // A logical slot belongs to its database and blocks DROP DATABASE; an active
  // one must lose its walsender first, which takes a moment to let go.
  for (let attempt = 0; ; attempt++) {
    const slots = await pgQuery<{ slot_name: string; active_pid: number | null }>(
      admin,
      "SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1",
      [name]
    )
    if (slots.length === 0) break
    try {
      for (const slot of slots) {
        if (slot.active_pid !== null) {
          await pgQuery(admin, "SELECT pg_terminate_backend($1)", [slot.active_pid])
        }
        await pgQuery(admin, "SELECT pg_drop_replication_slot($1)", [slot.slot_name])
      }
    } catch (error) {
      if (attempt >= 50) throw error
      await sleep(100)
    }
  }
  await pgQuery(admin, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
}

// ---------------------------------------------------------------------------
// Kafka

const kafkaClient = (clientId: string) =>
  new Kafka({
    clientId,
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100 }
  })

const withAdmin = async <A>(use: (admin: Admin) => Promise<A>): Promise<A> => {
  const admin = kafkaClient("outboxx-test-admin").admin()
  await admin.connect()
  try {
    return await use(admin)
  } finally {
    await admin.disconnect()
  }
}

/**
 * Creates a topic and waits until every partition has a leader. A freshly
 * started broker may answer the first metadata requests for a new topic with
 * "This server does not host this topic-partition", so the wait polls.
 */
export const createTopic = async (name: string, partitions = 1): Promise<void> => {
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }] })
    const deadline = Date.now() + 30_000
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [name] })
        const parts = topics[0]?.partitions ?? []
        if (parts.length === partitions && parts.every((p) => p.leader >= 0)) return
      } catch (error) {
        if (Date.now() >= deadline) throw error
      }
      if (Date.now() >= deadline) throw new Error(`topic ${name}: partitions have no leader after 30 s`)
      await sleep(100)
    }
  })
}

/** Deletes a topic and waits until the broker no longer lists it; a missing topic is not an error. */
export const deleteTopic = async (name: string): Promise<void> => {
  await withAdmin(async (admin) => {
    if (!(await admin.listTopics()).includes(name)) return
    await admin.deleteTopics({ topics: [name] })
    // Deletion completes asynchronously in KRaft mode.
    const deadline = Date.now() + 30_000
    while ((await admin.listTopics()).includes(name)) {
      if (Date.now() >= deadline) throw new Error(`topic ${name} still listed 30 s after its deletion`)
      await sleep(100)
    }
  })
}

export const topicExists = (name: string): Promise<boolean> =>
  withAdmin(async (admin) => (await admin.listTopics()).includes(name))

export interface ProducedMessage {
  readonly key?: string | null
  readonly value: string | null
  readonly headers?: Record<string, string>
  readonly partition?: number
}

/** Produces messages with kafkajs (acks = all). */
export const produceMessages = async (topic: string, messages: ReadonlyArray<ProducedMessage>): Promise<void> => {
  const producer = kafkaClient("outboxx-test-producer").producer({ allowAutoTopicCreation: true })
  await producer.connect()
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((message) => ({
        key: message.key ?? null,
        value: message.value,
        ...(message.headers === undefined ? {} : { headers: message.headers }),
        ...(message.partition === undefined ? {} : { partition: message.partition })
      }))
    })
  } finally {
    await producer.disconnect()
  }
}

export interface TopicMessage {
  readonly key: string | null
  readonly value: string | null
  readonly partition: number
  /** The offset as a decimal string, as Kafka reports it. */
  readonly offset: string
  readonly headers: Record<string, string>
}

export interface ReadTopicOptions {
  /** Stop as soon as this many messages arrived. */
  readonly count?: number
  /**
   * Stop after this much silence. Without `count`: defaults to 2000 ms and
   * counts from when the consumer is ready. With `count`: only applies when
   * given, and counts from the last message received.
   */
  readonly idleMs?: number
  /** Hard bound on the whole read, including waiting for the topic to appear. Default 30 s. */
  readonly timeoutMs?: number
}

const decodeHeaders = (headers: IHeaders | undefined): Record<string, string> => {
  const decoded: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue
    const first = Array.isArray(value) ? value[0] : value
    decoded[name] = first === undefined ? "" : first.toString()
  }
  return decoded
}

/**
 * Reads a topic from the beginning with a fresh consumer group. Returns every
 * message received (sorted by partition, then offset) once `count` arrived,
 * after `idleMs` of silence, or at `timeoutMs`, whichever comes first. A topic
 * that does not exist yet is waited for (and never auto-created by the read);
 * if it never appears the result is empty.
 */
export const readTopic = async (topic: string, options: ReadTopicOptions = {}): Promise<Array<TopicMessage>> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  const count = options.count
  const idleMs = options.idleMs ?? (count === undefined ? 2_000 : undefined)

  const kafka = kafkaClient("outboxx-test-reader")
  const admin = kafka.admin()
  await admin.connect()
  try {
    while (!(await admin.listTopics()).includes(topic)) {
      if (Date.now() >= deadline) return []
      await sleep(200)
    }
  } finally {
    await admin.disconnect()
  }

  const messages: Array<TopicMessage> = []
  const consumer = kafka.consumer({
    groupId: uniqueName("outboxx_test_reader"),
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 100
  })
  await consumer.connect()
  try {
    let lastActivity = Date.now()
    let ready = false
    consumer.on(consumer.events.GROUP_JOIN, () => {
      ready = true
      lastActivity = Date.now()
    })
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        messages.push({
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
          partition,
          offset: message.offset,
          headers: decodeHeaders(message.headers)
        })
        lastActivity = Date.now()
      }
    })
    for (;;) {
      const now = Date.now()
      if (count !== undefined && messages.length >= count) break
      if (now >= deadline) break
      if (idleMs !== undefined && ready && (count === undefined || messages.length > 0) && now - lastActivity >= idleMs) {
        break
      }
      await sleep(50)
    }
  } finally {
    await consumer.disconnect()
  }
  return messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
}

// ---------------------------------------------------------------------------
// The CLI as a child process

export interface CliOptions {
  /** Added to (and overriding) the test process's environment; `undefined` removes a variable. */
  readonly env?: Record<string, string | undefined>
  readonly cwd?: string
  /** `runCli`: kill the process (SIGKILL) after this long. Default 60 s. */
  readonly timeoutMs?: number
  /** The script to run instead of dist/main.js (for testing these helpers). */
  readonly entry?: string
}

export interface CliResult {
  /** The exit code, or null when a signal ended the process. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const cliEntry = (options: CliOptions) => options.entry ?? path.join(repoRoot, "dist", "main.js")

const cliEnv = (options: CliOptions): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  // The test runner's own settings must not leak into the CLI under test.
  delete env.OUTBOXX_CONFIG
  delete env.OUTBOXX_POSTGRES_URL
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

const spawnNode = (args: ReadonlyArray<string>, options: CliOptions): ChildProcess =>
  spawn(process.execPath, [cliEntry(options), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: cliEnv(options),
    stdio: ["ignore", "pipe", "pipe"]
  })

/** Runs `node dist/main.js ...args` to completion. */
export const runCli = (args: ReadonlyArray<string>, options: CliOptions = {}): Promise<CliResult> => {
  const cli = spawnCli(args, options)
  const timeoutMs = options.timeoutMs ?? 60_000
  const timer = setTimeout(() => cli.child.kill("SIGKILL"), timeoutMs)
  return cli.exited.finally(() => clearTimeout(timer))
}

export interface CliProcess {
  readonly child: ChildProcess
  /** Everything written to stdout / stderr so far. */
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the process's result when it exits. */
  readonly exited: Promise<CliResult>
  /**
   * Resolves with the first line (stdout or stderr, past or future) matching
   * `pattern`; rejects at `timeoutMs` (default 30 s) or when the process exits first.
   */
  readonly waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  readonly signal: (signal: NodeJS.Signals) => void
  /** Sends `signal` (default SIGTERM), then SIGKILL after `timeoutMs` (default 15 s); resolves on exit. */
  readonly stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<CliResult>
}

/** Starts `node dist/main.js ...args` and returns a handle to it. */
export const spawnCli = (args: ReadonlyArray<string>, options: CliOptions = {}): CliProcess => {
  const child = spawnNode(args, options)
  let stdout = ""
  let stderr = ""
  const lines: Array<string> = []
  const watchers = new Set<(line: string) => void>()
  const lineReader = () => {
    let pending = ""
    return (chunk: string, flush: boolean) => {
      pending += chunk
      const parts = pending.split("\n")
      pending = flush ? "" : (parts.pop() ?? "")
      for (const line of parts) {
        if (flush && line === "") continue
        lines.push(line)
        for (const watcher of watchers) watcher(line)
      }
    }
  }
  const outLines = lineReader()
  const errLines = lineReader()
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    outLines(chunk, false)
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
    errLines(chunk, false)
  })

  let exitedResult: CliResult | undefined
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject)
    // "close" (not "exit"): all output has been read by then.
    child.on("close", (code, signal) => {
      outLines("", true)
      errLines("", true)
      exitedResult = { code, signal, stdout, stderr }
      resolve(exitedResult)
    })
  })

  const waitForLine = (pattern: RegExp, timeoutMs = 30_000): Promise<string> => {
    const seen = lines.find((line) => pattern.test(line))
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise<string>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        watchers.delete(watcher)
      }
      const watcher = (line: string) => {
        if (pattern.test(line)) {
          done()
          resolve(line)
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`))
      }, timeoutMs)
      watchers.add(watcher)
      const exitedFirst = (why: string) => {
        if (!watchers.has(watcher)) return
        done()
        reject(new Error(`${why} before a line matched ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
      }
      exited.then(
        (result) => exitedFirst(`process exited (code ${result.code}, signal ${result.signal})`),
        (error: unknown) => exitedFirst(`process failed to start (${String(error)})`)
      )
    })
  }

  const signal = (sig: NodeJS.Signals) => {
    if (exitedResult === undefined) child.kill(sig)
  }

  const stop = async (sig: NodeJS.Signals = "SIGTERM", timeoutMs = 15_000): Promise<CliResult> => {
    if (exitedResult !== undefined) return exitedResult
    signal(sig)
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }

  return { child, stdout: () => stdout, stderr: () => stderr, exited, waitForLine, signal, stop }
}

// ---------------------------------------------------------------------------
// Small helpers for the tests that start other processes

/** A TCP port free on 127.0.0.1 right now (for a child's listener). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

/** A Java .properties file's text (Kafka Connect worker and connector configs). */
export const javaProperties = (entries: Record<string, string>): string =>
  Object.entries(entries).map(([key, value]) => `${key}=${value}`).join("\n") + "\n"
