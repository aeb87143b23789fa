/**
 * Proves the test helpers in test/support/servers.ts against the real local
 * PostgreSQL and Kafka: if these fail, every other integration test would
 * fail for reasons that have nothing to do with Outboxx.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  createTestDatabase,
  createTopic,
  deleteTopic,
  kafkaBrokers,
  pgAdminUrl,
  pgQuery,
  produceMessages,
  readTopic,
  repoRoot,
  runCli,
  spawnCli,
  topicExists,
  uniqueName
} from "../support/servers.js"

const fakeCli = path.join(repoRoot, "test", "support", "fixtures", "fake-cli.mjs")

describe("connection settings", () => {
  it("point at loopback only", () => {
    expect(new URL(pgAdminUrl()).hostname).toBe("127.0.0.1")
    expect(new URL(pgAdminUrl("shop")).pathname).toBe("/shop")
    for (const broker of kafkaBrokers()) expect(broker).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it("uniqueName gives distinct, identifier- and topic-safe names", () => {
    const names = Array.from({ length: 200 }, () => uniqueName("My-Test.Case"))
    expect(new Set(names).size).toBe(200)
    for (const name of names) {
      expect(name).toMatch(/^my_test_case_[a-z0-9_]+$/)
      expect(name.length).toBeLessThanOrEqual(63)
    }
  })
})

describe("PostgreSQL helpers", () => {
  it("the cluster is configured for logical replication", async () => {
    const rows = await pgQuery<{ name: string; setting: string }>(
      pgAdminUrl(),
      "SELECT name, setting FROM pg_settings WHERE name = ANY($1) ORDER BY name",
      [["wal_level", "track_commit_timestamp", "server_version_num"]]
    )
    const settings = Object.fromEntries(rows.map((row) => [row.name, row.setting]))
    expect(settings.wal_level).toBe("logical")
    expect(settings.track_commit_timestamp).toBe("on")
    expect(Number(settings.server_version_num)).toBeGreaterThanOrEqual(150000)
  })

  it("createTestDatabase makes a usable database and drop removes it, slots included", async () => {
    const db = await createTestDatabase("support")
    expect(new URL(db.url).pathname).toBe(`/${db.name}`)
    await pgQuery(db.url, "CREATE TABLE orders (id int PRIMARY KEY, status text)")
    await pgQuery(db.url, "INSERT INTO orders VALUES ($1, $2), ($3, $4)", [1, "new", 2, "paid"])
    const rows = await pgQuery<{ id: number; status: string }>(db.url, "SELECT id, status FROM orders ORDER BY id")
    expect(rows).toEqual([
      { id: 1, status: "new" },
      { id: 2, status: "paid" }
    ])
    // A logical slot would block DROP DATABASE: drop() must clear it.
    await pgQuery(db.url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [db.name])
    await db.drop()
    const left = await pgQuery(
      pgAdminUrl(),
      "SELECT 1 FROM pg_database WHERE datname = $1 UNION ALL SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
      [db.name]
    )
    expect(left).toEqual([])
  })
})

describe("Kafka helpers", () => {
  it("produce with kafkajs and readTopic round-trip keys, values, headers and nulls", async () => {
    const topic = uniqueName("support_roundtrip")
    await createTopic(topic, 3)
    try {
      await produceMessages(topic, [
        { key: "a", value: "1", headers: { h: "x" }, partition: 0 },
        { key: "b", value: null, partition: 1 },
        { key: null, value: "3", partition: 2 },
        { key: "a", value: "4", partition: 0 }
      ])
      const messages = await readTopic(topic, { count: 4, timeoutMs: 30_000 })
      expect(messages.map((m) => [m.partition, m.offset, m.key, m.value])).toEqual([
        [0, "0", "a", "1"],
        [0, "1", "a", "4"],
        [1, "0", "b", null],
        [2, "0", null, "3"]
      ])
      expect(messages[0]!.headers).toEqual({ h: "x" })
    } finally {
      await deleteTopic(topic)
    }
    expect(await topicExists(topic)).toBe(false)
  })

  it("readTopic without count stops after idleMs and returns everything there", async () => {
    const topic = uniqueName("support_idle")
    await createTopic(topic)
    try {
      await produceMessages(topic, [{ value: "x" }, { value: "y" }])
      const started = Date.now()
      const messages = await readTopic(topic, { idleMs: 1_000, timeoutMs: 30_000 })
      expect(messages.map((m) => m.value)).toEqual(["x", "y"])
      expect(Date.now() - started).toBeLessThan(25_000)
    } finally {
      await deleteTopic(topic)
    }
  })

  it("readTopic waits for a topic that does not exist yet, without creating it", async () => {
    const topic = uniqueName("support_late")
    const reading = readTopic(topic, { count: 1, timeoutMs: 30_000 })
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(await topicExists(topic)).toBe(false)
    await createTopic(topic, 2)
    await produceMessages(topic, [{ key: "k", value: "late", partition: 1 }])
    try {
      const messages = await reading
      expect(messages.map((m) => [m.partition, m.key, m.value])).toEqual([[1, "k", "late"]])
    } finally {
      await deleteTopic(topic)
    }
  })

  it("readTopic on a topic that never appears returns nothing at the timeout", async () => {
    const topic = uniqueName("support_never")
    const messages = await readTopic(topic, { timeoutMs: 1_500 })
    expect(messages).toEqual([])
    expect(await topicExists(topic)).toBe(false)
  })
})

describe("CLI process helpers", () => {
  it("runCli returns the exit code, output, environment and cwd", async () => {
    const result = await runCli(["exit", "3", "--flag"], {
      entry: fakeCli,
      env: { FAKE_CLI_VALUE: "from-test" },
      cwd: path.join(repoRoot, "test")
    })
    expect(result.code).toBe(3)
    expect(JSON.parse(result.stdout)).toEqual({
      args: ["3", "--flag"],
      env: "from-test",
      cwd: path.join(repoRoot, "test")
    })
    expect(result.stderr).toBe("to stderr\n")
  })

  it("spawnCli waits for a log line and stops the process with a signal", async () => {
    const cli = spawnCli(["serve"], { entry: fakeCli })
    const line = await cli.waitForLine(/"msg":"ready"/, 10_000)
    expect(JSON.parse(line)).toEqual({ msg: "ready", port: 1234 })
    const result = await cli.stop("SIGTERM")
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("got SIGTERM, stopping")
    await expect(cli.waitForLine(/got SIGTERM/)).resolves.toBe("got SIGTERM, stopping")
  })

  it("waitForLine rejects when the process exits without printing the line", async () => {
    const cli = spawnCli(["exit", "0"], { entry: fakeCli })
    await expect(cli.waitForLine(/never printed/, 10_000)).rejects.toThrow(/process exited \(code 0/)
  })
})
