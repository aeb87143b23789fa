/**
 * `outboxx run` as a child process against the real PostgreSQL and Kafka:
 * every op across two streams and two schemas (mixed case included), a schema
 * change mid-stream, kill -9 under load with no loss, idling past
 * wal_sender_timeout, and a clean SIGTERM.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  createTestDatabase,
  pgQuery,
  readTopic,
  spawnCli,
  type TestDatabase,
  type TopicMessage
} from "../support/servers.js"
import { writeRunConfig } from "../support/runConfig.js"

interface Event {
  readonly key: Record<string, unknown> | null
  readonly value: {
    readonly op: string
    readonly before: Record<string, unknown> | null
    readonly after: Record<string, unknown> | null
    readonly source: Record<string, unknown>
    readonly unchanged?: ReadonlyArray<string>
  } | null
}

const parse = (m: TopicMessage): Event => ({
  key: m.key === null ? null : JSON.parse(m.key),
  value: m.value === null ? null : JSON.parse(m.value)
})

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-e2e-"))

beforeAll(async () => {
  db = await createTestDatabase("e2e_stream")
})
afterAll(async () => {
  await db?.drop()
})

/** A config for one test: its own slot, publication, topics and state dir. */
const writeConfig = (name: string, streams: string, postgres = "") =>
  writeRunConfig({ dir: workDir, name, url: db.url, postgres, streams })

const startRun = async (file: string) => {
  const cli = spawnCli(["run", "-c", file])
  await cli.waitForLine(/streaming slot/, 60_000)
  return cli
}

describe("outboxx run (e2e)", () => {
  it("captures every op across two streams and two schemas, mixed-case names included, and stops cleanly on SIGTERM", async () => {
    await pgQuery(db.url, `
      CREATE SCHEMA "Billing";
      CREATE TABLE public.customers (id int PRIMARY KEY, name text, vip bool);
      CREATE TABLE "Billing"."Invoices" ("InvoiceId" bigint PRIMARY KEY, "Amount" numeric(12,2), "Lines" jsonb, paid_at timestamptz);
      ALTER TABLE "Billing"."Invoices" REPLICA IDENTITY FULL;
    `)
    const { file, prefix } = writeConfig("ops", `
[[streams]]
name = "customers"
tables = ["customers"]
topic = "PREFIX.{table}"
[[streams]]
name = "billing"
tables = ['"Billing"."Invoices"']
topic = "PREFIX.{schema}.{table}"
exclude_columns = ["paid_at"]
`)
    const cli = await startRun(file)
    await pgQuery(db.url, `
      INSERT INTO public.customers VALUES (1, 'Ada', false), (2, 'Linus', true);
      UPDATE public.customers SET vip = true WHERE id = 1;
      UPDATE public.customers SET id = 3 WHERE id = 2;
      DELETE FROM public.customers WHERE id = 1;
      INSERT INTO "Billing"."Invoices" VALUES (9007199254740993, 10.50, '{"n": [1, 2]}', '2026-11-23 20:00:00.123456+02');
      UPDATE "Billing"."Invoices" SET "Amount" = 11.00 WHERE "InvoiceId" = 9007199254740993;
      DELETE FROM "Billing"."Invoices";
      TRUNCATE public.customers;
    `)
    // customers: c c u d+tomb+c d+tomb t = 9 ; invoices: c u d+tomb = 4
    const customers = (await readTopic(`${prefix}.customers`, { count: 9, timeoutMs: 30_000 })).map(parse)
    const invoices = (await readTopic(`${prefix}.Billing.Invoices`, { count: 4, timeoutMs: 30_000 })).map(parse)
    const result = await cli.stop("SIGTERM", 15_000)
    expect(result.code).toBe(0)

    expect(customers.map((e) => e.value?.op ?? "tombstone")).toEqual(["c", "c", "u", "d", "tombstone", "c", "d", "tombstone", "t"])
    expect(customers[0]).toMatchObject({ key: { id: 1 }, value: { op: "c", before: null, after: { id: 1, name: "Ada", vip: false } } })
    expect(customers[2]).toMatchObject({ key: { id: 1 }, value: { op: "u", before: { id: 1 }, after: { id: 1, name: "Ada", vip: true } } })
    expect(customers[3]).toMatchObject({ key: { id: 2 }, value: { op: "d", before: { id: 2 } } })
    expect(customers[4]).toEqual({ key: { id: 2 }, value: null })
    expect(customers[5]).toMatchObject({ key: { id: 3 }, value: { op: "c", after: { id: 3, name: "Linus", vip: true } } })
    expect(customers[8]).toMatchObject({ key: null, value: { op: "t", before: null, after: null } })

    expect(invoices.map((e) => e.value?.op ?? "tombstone")).toEqual(["c", "u", "d", "tombstone"])
    // int8 keeps every digit; numeric is an exact string; jsonb is embedded; excluded column absent.
    expect(invoices[0]!.key).toEqual({ InvoiceId: 9007199254740993 })
    const rawKey = (await readTopic(`${prefix}.Billing.Invoices`, { count: 1 }))[0]!.key
    expect(rawKey).toBe(`{"InvoiceId":9007199254740993}`)
    expect(invoices[0]!.value!.after).toEqual({ InvoiceId: 9007199254740992, Amount: "10.50", Lines: { n: [1, 2] } })
    expect(invoices[1]!.value!.before).toEqual({ InvoiceId: 9007199254740992, Amount: "10.50", Lines: { n: [1, 2] } })
    expect(invoices[1]!.value!.source).toMatchObject({ schema: "Billing", table: "Invoices", snapshot: false })
  })

  it("follows schema changes mid-stream: add, drop, rename and retype columns", async () => {
    await pgQuery(db.url, `CREATE TABLE public.evolving (id int PRIMARY KEY, a text, b int)`)
    const { file, prefix } = writeConfig("schema", `
[[streams]]
name = "evolving"
tables = ["evolving"]
topic = "PREFIX.{table}"
`)
    const cli = await startRun(file)
    await pgQuery(db.url, `
      INSERT INTO evolving VALUES (1, 'one', 1);
      ALTER TABLE evolving ADD COLUMN c jsonb;
      INSERT INTO evolving VALUES (2, 'two', 2, '{"x": true}');
      ALTER TABLE evolving DROP COLUMN a;
      INSERT INTO evolving VALUES (3, 3, '[]');
      ALTER TABLE evolving RENAME COLUMN b TO bee;
      INSERT INTO evolving VALUES (4, 4, null);
      ALTER TABLE evolving ALTER COLUMN bee TYPE numeric USING bee::numeric;
      INSERT INTO evolving VALUES (5, 5.5, null);
    `)
    const events = (await readTopic(`${prefix}.evolving`, { count: 5, timeoutMs: 30_000 })).map(parse)
    expect((await cli.stop()).code).toBe(0)
    expect(events.map((e) => e.value!.after)).toEqual([
      { id: 1, a: "one", b: 1 },
      { id: 2, a: "two", b: 2, c: { x: true } },
      { id: 3, b: 3, c: [] },
      { id: 4, bee: 4, c: null },
      { id: 5, bee: "5.5", c: null }
    ])
  })

  it("loses nothing across two kill -9 during a load of 20,000 rows in 200 transactions", async () => {
    await pgQuery(db.url, `CREATE TABLE public.load (id int PRIMARY KEY, batch int, payload text)`)
    const { file, prefix } = writeConfig("kill", `
[[streams]]
name = "load"
tables = ["load"]
topic = "PREFIX.{table}"
`)
    let cli = await startRun(file)
    let batch = 0
    const writer = (async () => {
      for (; batch < 200; batch++) {
        await pgQuery(
          db.url,
          `INSERT INTO load SELECT g, $1, md5(g::text) FROM generate_series($1 * 100 + 1, $1 * 100 + 100) g`,
          [batch]
        )
      }
    })()
    const killed: Array<number> = []
    for (let k = 0; k < 2; k++) {
      // Let it stream for a while under load, then kill it without any chance to clean up.
      await new Promise((resolve) => setTimeout(resolve, 700))
      killed.push(batch)
      cli.signal("SIGKILL")
      const result = await cli.exited
      expect(result.signal).toBe("SIGKILL")
      cli = await startRun(file)
    }
    await writer
    // Read until the topic goes quiet: duplicates mean the count of records exceeds the rows.
    const messages = await readTopic(`${prefix}.load`, { idleMs: 8_000, timeoutMs: 120_000 })
    expect((await cli.stop()).code).toBe(0)
    const ids = new Map<number, number>()
    for (const m of messages) {
      const id = JSON.parse(m.key!).id as number
      ids.set(id, (ids.get(id) ?? 0) + 1)
    }
    const duplicates = messages.length - ids.size
    console.log(`kill -9 test: killed at batches ${killed.join(", ")}; ${messages.length} records for ${ids.size} rows; ${duplicates} duplicates`)
    expect(ids.size).toBe(20_000)
    for (let id = 1; id <= 20_000; id++) expect(ids.has(id)).toBe(true)
    // Per key, the first copy is the insert (nothing else touched these rows).
    expect(messages.every((m) => JSON.parse(m.value!).op === "c")).toBe(true)
  }, 180_000)

  it("stays connected while idle past wal_sender_timeout and lets the slot catch up with the server's WAL end", async () => {
    const timeout = await pgQuery<{ setting: string }>(db.url, "SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'")
    const walSenderTimeoutMs = Number(timeout[0]!.setting)
    expect(walSenderTimeoutMs).toBeLessThanOrEqual(15_000)
    await pgQuery(db.url, `CREATE TABLE public.quiet (id int PRIMARY KEY)`)
    const { file, slot } = writeConfig("idle", `
[[streams]]
name = "quiet"
tables = ["quiet"]
`)
    const cli = await startRun(file)
    // "streaming slot" is logged once START_REPLICATION is sent; the walsender takes the slot a moment later.
    const activePid = async (): Promise<number | null> =>
      (await pgQuery<{ active_pid: number | null }>(db.url, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", [slot]))[0]!.active_pid
    const deadline = Date.now() + 10_000
    let pidBefore = await activePid()
    while (pidBefore === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      pidBefore = await activePid()
    }
    expect(pidBefore).not.toBeNull()
    // WAL written elsewhere (another table, not captured) moves the server's end.
    await pgQuery(db.url, "CREATE TABLE public.noise (x int); INSERT INTO noise SELECT generate_series(1, 1000)")
    const walEnd = (await pgQuery<{ lsn: string }>(db.url, "SELECT pg_current_wal_lsn()::text AS lsn"))[0]!.lsn
    await new Promise((resolve) => setTimeout(resolve, walSenderTimeoutMs * 1.5))
    const after = await pgQuery<{ active_pid: number; caught_up: boolean }>(
      db.url,
      "SELECT active_pid, confirmed_flush_lsn >= $2::pg_lsn AS caught_up FROM pg_replication_slots WHERE slot_name = $1",
      [slot, walEnd]
    )
    expect(cli.stdout() + cli.stderr()).not.toMatch(/reconnecting/)
    expect((await cli.stop()).code).toBe(0)
    expect(after[0]!.active_pid).toBe(pidBefore)
    expect(after[0]!.caught_up).toBe(true)
  }, 60_000)

  it("tail prints the same events as JSON lines on stdout from a temporary slot, leaving the real slot alone", async () => {
    await pgQuery(db.url, `CREATE TABLE public.tailed (id int PRIMARY KEY, note text)`)
    const { file, slot } = writeConfig("tail", `
[[streams]]
name = "tailed"
tables = ["tailed"]
`)
    const cli = spawnCli(["tail", "-c", file])
    await cli.waitForLine(/streaming slot/, 60_000)
    await pgQuery(db.url, `INSERT INTO tailed VALUES (1, 'hello'); DELETE FROM tailed WHERE id = 1`)
    await cli.waitForLine(/"op":"d"/, 30_000)
    const slots = await pgQuery<{ slot_name: string; temporary: boolean }>(
      db.url,
      "SELECT slot_name, temporary FROM pg_replication_slots WHERE slot_name LIKE $1",
      [`${slot}%`]
    )
    expect((await cli.stop()).code).toBe(0)
    // Only a temporary slot existed; the configured one was never created.
    expect(slots.map((s) => s.temporary)).toEqual([true])
    expect(slots.some((s) => s.slot_name === slot)).toBe(false)
    const events = cli.stdout().split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
    expect(events.map((e) => e.op)).toEqual(["c", "d"])
    expect(events[0]).toMatchObject({ after: { id: 1, note: "hello" }, source: { table: "tailed" } })
    // Logs went to stderr, so stdout is only events.
    expect(cli.stdout().trim().split("\n").every((line) => line.startsWith("{\"op\""))).toBe(true)
  })
})
