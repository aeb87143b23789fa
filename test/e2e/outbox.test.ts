/**
 * The WAL-message outbox end to end, with the built CLI against the real
 * servers: `outboxx outbox install` (idempotent, grants, clear errors), an
 * application role publishing with `outboxx.publish` inside its own
 * transactions (committed and rolled back), `outboxx run` delivering each
 * message to its topic with key, value and headers at its place in the
 * transaction, and every message it must not deliver (a destination outside
 * `[outbox] topics`, a forged message) on the dead-letter topic with the
 * reason.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import { createTestDatabase, pgQuery, readTopic, runCli, spawnCli, type TestDatabase, uniqueName } from "../support/servers.js"

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-outbox-"))
const app = uniqueName("app")
const stranger = uniqueName("stranger")

const roleUrl = (role: string): string => {
  const url = new URL(db.url)
  url.username = role
  return url.toString()
}

beforeAll(async () => {
  db = await createTestDatabase("outbox")
  await pgQuery(db.url, `CREATE ROLE ${app} LOGIN; CREATE ROLE ${stranger} LOGIN;
    CREATE TABLE orders (id int PRIMARY KEY, status text);
    GRANT INSERT, SELECT ON orders TO ${app}`)
}, 60_000)
afterAll(async () => {
  await db?.drop()
  await pgQuery(db.url.replace(/\/[^/]*$/, "/postgres"), `DROP ROLE IF EXISTS ${app}; DROP ROLE IF EXISTS ${stranger}`).catch(() => {})
})

describe("outboxx outbox install", () => {
  it("installs idempotently, grants publishing to the roles named, and explains what it cannot do", async () => {
    const config = writeRunConfig({ dir: workDir, name: "obi", url: db.url, streams: `[[streams]]\nname = "orders"\ntables = ["orders"]` })
    const first = await runCli(["outbox", "install", "--grant", app, "-c", config.file])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/created the publish key/)
    expect(first.stdout).toMatch(/granted publishing to role/)
    const again = await runCli(["outbox", "install", "-c", config.file])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/kept the publish key/)
    // With [outbox] configured, check and run say when the outbox is not installed.
    const elsewhere = new URL(db.url)
    elsewhere.pathname = "/postgres"
    const notInstalled = writeRunConfig({
      dir: workDir,
      name: "obn",
      url: elsewhere.toString(),
      sections: "[outbox]\n",
      streams: `[[streams]]\nname = "orders"\ntables = ["orders"]`
    })
    const check = await runCli(["check", "-c", notInstalled.file])
    expect(check.stdout).toMatch(/FAIL.*outbox.*the outbox is not installed in database "postgres": run outboxx outbox install/)

    // PUBLIC may not publish, nor read the key; the granted role may publish.
    const denied = await pgQuery(roleUrl(stranger), "SELECT outboxx.publish('x', 'k', '{}'::jsonb)").then(() => "ok", (e: Error) => e.message)
    expect(denied).toMatch(/permission denied/)
    const keyRead = await pgQuery(roleUrl(app), "SELECT * FROM outboxx.publish_key").then(() => "ok", (e: Error) => e.message)
    expect(keyRead).toMatch(/permission denied/)
    const badTopic = await pgQuery(roleUrl(app), "SELECT outboxx.publish('no spaces', 'k', '{}'::jsonb)").then(() => "ok", (e: Error) => e.message)
    expect(badTopic).toMatch(/outboxx\.publish: 'no spaces' is not a Kafka topic name/)
    const badHeaders = await pgQuery(roleUrl(app), `SELECT outboxx.publish('t', 'k', '{}'::jsonb, '{"n": 1}'::jsonb)`)
      .then(() => "ok", (e: Error) => e.message)
    expect(badHeaders).toMatch(/headers must be a flat JSON object of strings/)

    // A role that may not create schemas, and a role that does not exist.
    await pgQuery(db.url, "CREATE DATABASE " + `${db.name}_empty`).catch(() => {})
    const strangerDb = new URL(roleUrl(stranger))
    strangerDb.pathname = `/${db.name}_empty`
    const noPrivilege = writeRunConfig({ dir: workDir, name: "obp", url: strangerDb.toString(), streams: `[[streams]]\nname = "orders"\ntables = ["orders"]` })
    await pgQuery(db.url, `REVOKE CREATE ON DATABASE ${db.name}_empty FROM PUBLIC`)
    const refused = await runCli(["outbox", "install", "-c", noPrivilege.file])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/outbox install needs to create schema outboxx in database .*GRANT CREATE ON DATABASE/)
    const noRole = await runCli(["outbox", "install", "--grant", "no_such_role_here", "-c", config.file])
    expect(noRole.code).toBe(1)
    expect(noRole.stderr).toMatch(/cannot grant: .*no_such_role_here.* does not exist/)
    const wrongDb = new URL(db.url)
    wrongDb.pathname = "/no_such_database_here"
    const missing = writeRunConfig({ dir: workDir, name: "obm", url: wrongDb.toString(), streams: `[[streams]]\nname = "orders"\ntables = ["orders"]` })
    const noDatabase = await runCli(["outbox", "install", "-c", missing.file])
    expect(noDatabase.code).toBe(1)
    expect(noDatabase.stderr).toMatch(/cannot connect to database "no_such_database_here": .*does not exist/)
    await pgQuery(db.url.replace(/\/[^/]*$/, "/postgres"), `DROP DATABASE IF EXISTS ${db.name}_empty`)
  }, 120_000)
})

describe("outboxx.publish delivered by outboxx run", () => {
  it("delivers committed messages with key, value and headers in transaction order, nothing of a rolled-back one, and dead-letters what it must not deliver", async () => {
    const config = writeRunConfig({
      dir: workDir,
      name: "obr",
      url: db.url,
      sections: `[outbox]\ntopics = ["PREFIX.orders.*", "PREFIX.plain"]\ndead_letter_topic = "PREFIX.dlq"\n`,
      streams: `[[streams]]\nname = "orders"\ntables = ["orders"]\ntopic = "PREFIX.changes"`
    })
    const install = await runCli(["outbox", "install", "--grant", app, "-c", config.file])
    expect(install.code, install.stderr).toBe(0)
    const check = await runCli(["check", "-c", config.file])
    expect(check.stdout).toMatch(new RegExp(`outbox.*outboxx\\.publish installed; EXECUTE held by .*${app}`))
    const cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      const p = config.prefix
      // One application transaction: a business row, then two events (json and bytes), then another row.
      await pgQuery(roleUrl(app), `BEGIN;
        INSERT INTO orders VALUES (1, 'new');
        SELECT outboxx.publish('${p}.orders.created', 'order-1', '{"id": 1, "status": "new"}'::jsonb, '{"type": "OrderCreated", "id": "e-1"}'::jsonb);
        SELECT outboxx.publish('${p}.plain', NULL, '\\x68656c6c6f'::bytea);
        INSERT INTO orders VALUES (2, 'new');
        COMMIT`)
      // Rolled back: nothing of it is delivered.
      await pgQuery(roleUrl(app), `BEGIN;
        INSERT INTO orders VALUES (3, 'gone');
        SELECT outboxx.publish('${p}.orders.created', 'order-3', '{"id": 3}'::jsonb);
        ROLLBACK`)
      // Many events for one key keep their order; a destination outside [outbox] topics and a forgery are dead-lettered.
      const values = Array.from({ length: 50 }, (_, i) => `SELECT outboxx.publish('${p}.orders.updated', 'order-1', '{"seq": ${i}}'::jsonb);`)
      await pgQuery(roleUrl(app), `BEGIN; ${values.join("\n")} COMMIT`)
      await pgQuery(roleUrl(app), `SELECT outboxx.publish('${p}.elsewhere', 'order-1', '{"id": 1}'::jsonb)`)
      await pgQuery(roleUrl(stranger), `SELECT pg_logical_emit_message(true, 'outboxx-publish', '\\x01'::bytea || decode(repeat('00', 40), 'hex'))`)
      await pgQuery(roleUrl(app), `SELECT outboxx.publish('${p}.orders.created', 'order-9', 'null'::jsonb, '{"id": "e-9"}'::jsonb)`)

      const created = await readTopic(`${p}.orders.created`, { count: 2, timeoutMs: 60_000 })
      expect(created.map((m) => [m.key, m.value, m.headers])).toEqual([
        ["order-1", `{"id": 1, "status": "new"}`, { type: "OrderCreated", id: "e-1" }],
        ["order-9", "null", { id: "e-9" }]
      ])
      const plain = await readTopic(`${p}.plain`, { count: 1, timeoutMs: 30_000 })
      expect(plain).toHaveLength(1)
      expect([plain[0]!.key, plain[0]!.value, plain[0]!.headers]).toEqual([null, "hello", {}])
      const updated = await readTopic(`${p}.orders.updated`, { count: 50, timeoutMs: 60_000 })
      expect(updated.map((m) => JSON.parse(m.value!).seq)).toEqual(Array.from({ length: 50 }, (_, i) => i))
      const changes = await readTopic(`${p}.changes`, { count: 2, timeoutMs: 30_000 })
      expect(changes.map((m) => JSON.parse(m.value!).after.id)).toEqual([1, 2])

      const dead = await readTopic(`${p}.dlq`, { count: 2, timeoutMs: 30_000 })
      const reasons = dead.map((m) => JSON.parse(m.value!) as { error: string; topic: string; stream: string })
      expect(reasons.map((r) => r.stream)).toEqual(["outbox", "outbox"])
      expect(reasons[0]!.topic).toBe(`${p}.elsewhere`)
      expect(reasons[0]!.error).toMatch(/is not among the outbox's destinations/)
      expect(reasons[1]!.error).toMatch(/signature does not verify|not an outboxx.publish message/)
      expect(await readTopic(`${p}.elsewhere`, { timeoutMs: 3_000 })).toHaveLength(0)
      expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    } finally {
      await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 180_000)
})

/** Per-aggregate sequence numbers, taken under the aggregate's row lock, so commit order per key is seq order. */
const concurrentWriters = async (topic: string, writers: number, perWriter: number, aggregates: number): Promise<void> => {
  await pgQuery(db.url, `CREATE TABLE IF NOT EXISTS aggregates (id int PRIMARY KEY, seq int NOT NULL);
    INSERT INTO aggregates SELECT g, 0 FROM generate_series(1, ${aggregates}) g ON CONFLICT (id) DO UPDATE SET seq = 0;
    GRANT SELECT, UPDATE ON aggregates TO ${app}`)
  const { default: pg } = await import("pg")
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    const client = new pg.Client({ connectionString: roleUrl(app) })
    await client.connect()
    try {
      for (let i = 0; i < perWriter; i++) {
        const aggregate = 1 + ((w * perWriter + i) * 7919) % aggregates
        await client.query("BEGIN")
        const { rows } = await client.query<{ seq: number }>("UPDATE aggregates SET seq = seq + 1 WHERE id = $1 RETURNING seq", [aggregate])
        const seq = rows[0]!.seq
        await client.query("SELECT outboxx.publish($1, $2, $3::jsonb, $4::jsonb)", [
          topic,
          `agg-${aggregate}`,
          JSON.stringify({ aggregate, seq }),
          JSON.stringify({ id: `${aggregate}:${seq}` })
        ])
        await client.query("COMMIT")
      }
    } finally {
      await client.end()
    }
  }))
}

/** Every event once after deduplicating on the `id` header, and per key in sequence order. */
const expectEveryEventInKeyOrder = (
  messages: ReadonlyArray<{ readonly key: string | null; readonly value: string | null; readonly headers: Record<string, string> }>,
  aggregates: number,
  total: number
): { readonly duplicates: number } => {
  const seen = new Set<string>()
  const lastSeq = new Map<string, number>()
  let duplicates = 0
  for (const m of messages) {
    const id = m.headers["id"]!
    if (seen.has(id)) {
      duplicates++
      continue
    }
    seen.add(id)
    const { seq } = JSON.parse(m.value!) as { seq: number }
    expect(seq, `order of ${m.key}`).toBe((lastSeq.get(m.key!) ?? 0) + 1)
    lastSeq.set(m.key!, seq)
  }
  expect(seen.size).toBe(total)
  expect(lastSeq.size).toBe(aggregates)
  return { duplicates }
}

/**
 * `outboxx run` on `[outbox] topics = ["PREFIX.agg"]` (plus `kafka` lines),
 * killed with SIGKILL once `killAfter` events arrived while concurrent
 * writers publish, then restarted: every message on the topic once the
 * writers are done.
 */
const publishAcrossKill = async (options: {
  readonly name: string
  readonly kafka?: string
  readonly writers: number
  readonly perWriter: number
  readonly aggregates: number
  readonly killAfter: number
}) => {
  const config = writeRunConfig({
    dir: workDir,
    name: options.name,
    url: db.url,
    ...(options.kafka === undefined ? {} : { kafka: options.kafka }),
    sections: `[outbox]\ntopics = ["PREFIX.agg"]\n`,
    streams: `[[streams]]\nname = "orders"\ntables = ["orders"]\ntopic = "PREFIX.changes"`
  })
  expect((await runCli(["outbox", "install", "--grant", app, "-c", config.file])).code).toBe(0)
  const topic = `${config.prefix}.agg`
  let cli = spawnCli(["run", "-c", config.file])
  await cli.waitForLine(/streaming slot/, 60_000)
  const writing = concurrentWriters(topic, options.writers, options.perWriter, options.aggregates)
  // Killed while the writers are going and its deliveries in flight; the restart resumes from the slot.
  await readTopic(topic, { count: options.killAfter, timeoutMs: 60_000 })
  await cli.stop("SIGKILL")
  cli = spawnCli(["run", "-c", config.file])
  try {
    await cli.waitForLine(/streaming slot/, 60_000)
    await writing
    const total = options.writers * options.perWriter
    const messages = await readTopic(topic, { count: total, idleMs: 5_000, timeoutMs: 120_000 })
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    return messages
  } finally {
    await cli.stop("SIGKILL", 5_000).catch(() => {})
  }
}

describe("outboxx.publish under load", () => {
  it("10,000 events from 4 concurrent writers across a kill -9: every event, each key in commit order (duplicates only from the re-delivery, named by the id header)", async () => {
    const messages = await publishAcrossKill({ name: "obk", writers: 4, perWriter: 2_500, aggregates: 40, killAfter: 1_500 })
    const { duplicates } = expectEveryEventInKeyOrder(messages, 40, 10_000)
    console.log(`outbox kill -9: ${messages.length} messages, ${duplicates} re-delivered`)
  }, 300_000)

  it("exactly-once: a read_committed consumer sees each event once, in commit order per key", async () => {
    const messages = await publishAcrossKill({
      name: "obx",
      kafka: `delivery = "exactly-once"`,
      writers: 2,
      perWriter: 1_000,
      aggregates: 20,
      killAfter: 500
    })
    expect(expectEveryEventInKeyOrder(messages, 20, 2_000).duplicates).toBe(0)
    expect(messages).toHaveLength(2_000)
  }, 300_000)
})

describe("outbox table (kind = \"outbox\", Debezium EventRouter semantics)", () => {
  it("one transaction with a business row, an outbox row and outboxx.publish delivers all three; a rolled-back one nothing; unroutable rows are dead letters", async () => {
    await pgQuery(db.url, `
      CREATE TABLE outbox (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregatetype text, aggregateid text, type text, payload jsonb);
      CREATE TABLE outbox_raw (id bigint PRIMARY KEY, aggregatetype text, aggregateid text, type text, payload bytea);
      GRANT INSERT, DELETE, UPDATE, SELECT ON outbox, outbox_raw TO ${app}`)
    const config = writeRunConfig({
      dir: workDir,
      name: "obt",
      url: db.url,
      sections: `[outbox]\ntopics = ["PREFIX.wal"]\n`,
      streams: `[[streams]]
name = "orders"
tables = ["orders"]
topic = "PREFIX.changes"

[[streams]]
name = "events"
kind = "outbox"
tables = ["outbox", "outbox_raw"]
topic = "PREFIX.event.{aggregatetype}"
dead_letter_topic = "PREFIX.events.dlq"
[streams.outbox]
headers = ["type"]
`
    })
    expect((await runCli(["outbox", "install", "--grant", app, "-c", config.file])).code).toBe(0)
    const check = await runCli(["check", "-c", config.file])
    expect(check.stdout).toMatch(/ok.*stream "events" outbox table "public"\."outbox" \(id id, key aggregateid, payload payload/)
    const cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      const p = config.prefix
      await pgQuery(roleUrl(app), `BEGIN;
        INSERT INTO orders VALUES (100, 'placed');
        INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
          VALUES ('00000000-0000-0000-0000-000000000001', 'order', '100', 'OrderPlaced', '{"orderId": 100}');
        SELECT outboxx.publish('${p}.wal', '100', '{"orderId": 100, "via": "wal"}'::jsonb);
        -- The application cleans up in the same transaction: deletes and updates of the outbox are not events.
        DELETE FROM outbox WHERE id = '00000000-0000-0000-0000-000000000001';
        COMMIT`)
      await pgQuery(roleUrl(app), `BEGIN;
        INSERT INTO orders VALUES (101, 'placed');
        INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES ('order', '101', 'OrderPlaced', '{"orderId": 101}');
        SELECT outboxx.publish('${p}.wal', '101', '{"orderId": 101}'::jsonb);
        ROLLBACK`)
      await pgQuery(roleUrl(app), `
        INSERT INTO outbox_raw VALUES (1, 'customer', 'c-7', NULL, '\\x68692c20776f726c64');
        INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES (NULL, '102', 'Lost', '{}');
        INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES ('no spaces please', '103', 'Bad', '{}');
        UPDATE outbox_raw SET type = 'ignored' WHERE id = 1`)

      const orders = await readTopic(`${p}.event.order`, { count: 1, timeoutMs: 60_000 })
      expect(orders.map((m) => [m.key, JSON.parse(m.value!), m.headers])).toEqual([
        ["100", { orderId: 100 }, { id: "00000000-0000-0000-0000-000000000001", type: "OrderPlaced" }]
      ])
      const customers = await readTopic(`${p}.event.customer`, { count: 1, timeoutMs: 30_000 })
      expect(customers.map((m) => [m.key, m.value, m.headers])).toEqual([["c-7", "hi, world", { id: "1" }]])
      const wal = await readTopic(`${p}.wal`, { count: 1, timeoutMs: 30_000 })
      expect(wal.map((m) => JSON.parse(m.value!))).toEqual([{ orderId: 100, via: "wal" }])
      // The change stream's snapshot holds what earlier tests wrote; its streamed changes are this transaction's.
      const changes = await readTopic(`${p}.changes`, { idleMs: 3_000, timeoutMs: 30_000 })
      expect(changes.map((m) => JSON.parse(m.value!)).filter((e) => e.op === "c").map((e) => e.after.id)).toEqual([100])
      const dead = (await readTopic(`${p}.events.dlq`, { count: 2, timeoutMs: 30_000 })).map((m) => JSON.parse(m.value!) as { error: string; stream: string })
      expect(dead.map((d) => d.stream)).toEqual(["events", "events"])
      expect(dead[0]!.error).toMatch(/routing column "aggregatetype" is NULL/)
      expect(dead[1]!.error).toMatch(/characters Kafka does not allow/)
      // Nothing else arrived: the rolled-back transaction, the deletes and updates of the outbox tables.
      expect(await readTopic(`${p}.event.order`, { timeoutMs: 3_000 })).toHaveLength(1)
      expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    } finally {
      await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 180_000)

  it("refuses an outbox table without the columns it names, in check and run", async () => {
    await pgQuery(db.url, `CREATE TABLE outbox_bad (id int PRIMARY KEY, aggregateid text, payload int)`)
    const config = writeRunConfig({
      dir: workDir,
      name: "obb",
      url: db.url,
      streams: `[[streams]]\nname = "events"\nkind = "outbox"\ntables = ["outbox_bad"]\ntopic = "PREFIX.{aggregatetype}"`
    })
    const check = await runCli(["check", "-c", config.file])
    expect(check.code).toBe(1)
    expect(check.stdout).toMatch(/FAIL.*outbox table "public"\."outbox_bad".*the topic template names column "aggregatetype", which the table does not have/)
    const run = await runCli(["run", "-c", config.file], { timeoutMs: 60_000 })
    expect(run.code).not.toBe(0)
    expect(run.code).toBe(2)
    expect(run.stdout + run.stderr).toMatch(/stream "events", outbox table "public"\."outbox_bad": the topic template names column "aggregatetype"/)
  }, 120_000)
})
