/**
 * The local servers of dev/ as the benchmark sees them: connection settings,
 * small PostgreSQL and Kafka helpers on the real clients (pg, kafkajs).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Kafka, logLevel, type Admin } from "kafkajs"
import pg from "pg"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const devDir = path.join(repoRoot, ".dev")
export const pgBin = "/usr/lib/postgresql/15/bin"

export const pgPort = Number(process.env.OUTBOXX_DEV_PG_PORT ?? "54329")
export const kafkaPort = Number(process.env.OUTBOXX_DEV_KAFKA_PORT ?? "59092")
export const kafkaBroker = `127.0.0.1:${kafkaPort}`
export const kafkaDataDir = path.join(devDir, "kafka", "data")

export const BENCH_DB = "outboxx_bench"

export const pgUrl = (database: string): string => `postgres://postgres@127.0.0.1:${pgPort}/${database}`

/** libpq keyword form, for pg_recvlogical. */
export const pgConninfo = (database: string): string =>
  `host=127.0.0.1 port=${pgPort} user=postgres dbname=${database}`

export const connect = async (database: string): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: pgUrl(database), application_name: "outboxx-bench" })
  await client.connect()
  return client
}

export const withClient = async <A>(database: string, use: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = await connect(database)
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`
export const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`

/** A short name unique to this benchmark process, for slots and topics. */
let counter = 0
export const runName = (prefix: string): string => {
  counter += 1
  return `${prefix}_${Date.now().toString(36)}_${counter}`
}

// ---------------------------------------------------------------------------
// Kafka

export const kafka = new Kafka({ clientId: "outboxx-bench", brokers: [kafkaBroker], logLevel: logLevel.NOTHING })

export const withAdmin = async <A>(use: (admin: Admin) => Promise<A>): Promise<A> => {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return await use(admin)
  } finally {
    await admin.disconnect()
  }
}

/** A new one-partition topic; LogAppendTime so record timestamps are the broker's append time. */
export const createTopic = async (admin: Admin, topic: string): Promise<void> => {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: 1,
        replicationFactor: 1,
        configEntries: [{ name: "message.timestamp.type", value: "LogAppendTime" }]
      }
    ]
  })
}

export const deleteTopics = async (admin: Admin, topics: ReadonlyArray<string>): Promise<void> => {
  if (topics.length === 0) return
  try {
    await admin.deleteTopics({ topics: [...topics], timeout: 30_000 })
  } catch {
    // A topic that does not exist (a reader that failed early) is not a problem.
  }
}

/** Records in the topic: the sum of its partitions' end offsets (no compaction, one producer). */
export const topicRecordCount = async (admin: Admin, topic: string): Promise<number> => {
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets.reduce((sum, partition) => sum + Number(partition.high) - Number(partition.low), 0)
  } catch {
    return 0 // not created yet (Debezium creates its topic lazily when we did not)
  }
}

/** Bytes the topic occupies in the local broker's log segments (record batches as stored). */
export const topicLogBytes = (topic: string): number => {
  let total = 0
  let dirs: Array<string> = []
  try {
    dirs = fs.readdirSync(kafkaDataDir).filter((dir) => dir.startsWith(`${topic}-`) && /^\d+$/.test(dir.slice(topic.length + 1)))
  } catch {
    return 0
  }
  for (const dir of dirs) {
    for (const file of fs.readdirSync(path.join(kafkaDataDir, dir))) {
      if (file.endsWith(".log")) total += fs.statSync(path.join(kafkaDataDir, dir, file)).size
    }
  }
  return total
}
