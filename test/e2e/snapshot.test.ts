/**
 * Snapshots with `outboxx run` as a child process against the real PostgreSQL
 * and Kafka. The check is always the same: folding the topic by key (last
 * event wins, a delete or tombstone removes the key) gives exactly the
 * table's final contents, while inserts, updates and deletes ran throughout.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTestDatabase, pgQuery, readTopic, runCli, spawnCli, type TestDatabase, uniqueName } from "../support/servers.js"
import { writeRunConfig } from "../support/runConfig.js"
import { differences, foldByKey, rowsByKey, startWriter } from "../snapshot/fold.js"

let db: TestDatabase
let writerClient: pg.Client
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-e2e-snap-"))

beforeAll(async () => {
  db = await createTestDatabase("e2e_snap")
  writerClient = new pg.Client({ connectionString: db.url })
  await writerClient.connect()
})
afterAll(async () => {
  await writerClient?.end()
  await db?.drop()
})


interface TestConfig {
  readonly file: string
  readonly slot: string
  readonly stateDir: string
  readonly topic: (table: string) => string
  readonly write: (tables: ReadonlyArray<string>) => void
}

const streamsFor = (tables: ReadonlyArray<string>) => `
[[streams]]
name = "main"
tables = [${tables.map((t) => `"${t}"`).join(", ")}]
topic = "PREFIX.{table}"
`

const makeConfig = (name: string, extra: string): TestConfig => {
  const config = writeRunConfig({ dir: workDir, name, url: db.url, postgres: extra, streams: streamsFor([]) })
  return {
    file: config.file,
    slot: config.slot,
    stateDir: config.stateDir,
    topic: (table) => `${config.prefix}.${table}`,
    write: (tables) => config.rewrite(streamsFor(tables))
  }
}

const makeTable = async (table: string, rows: number) => {
  await pgQuery(db.url, `CREATE TABLE public.${table} (id int8 PRIMARY KEY, v int4 NOT NULL, note text)`)
  await pgQuery(db.url, `INSERT INTO public.${table} SELECT g, g % 7, 'row ' || g FROM generate_series(1, ${rows}) g`)
}

const tableRows = async (table: string) => {
  const rows = await pgQuery<{ id: string; v: number; note: string | null }>(db.url, `SELECT id::text, v, note FROM public.${table}`)
  return rowsByKey(rows.map((r) => ({ id: Number(r.id), v: r.v, note: r.note })), (r) => ({ id: r.id }))
}

const writerQuery = (sql: string, params: ReadonlyArray<unknown>) => writerClient.query(sql, [...params])

const journalText = (config: TestConfig): string => {
  try {
    return readFileSync(path.join(config.stateDir, "journal.jsonl"), "utf8")
  } catch {
    return ""
  }
}

const tableDone = (config: TestConfig, table: string) =>
  journalText(config).split("\n").some((line) => line.includes(`"SnapshotTableDone"`) && line.includes(`"public.${table}"`))

const waitUntil = async (predicate: () => boolean, what: string, timeoutMs = 120_000) => {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Reads the whole topic (until quiet) and compares its fold with the table. */
const expectFoldEqualsTable = async (topic: string, table: string) => {
  const messages = await readTopic(topic, { idleMs: 6_000, timeoutMs: 180_000 })
  const diff = differences(foldByKey(messages), await tableRows(table))
  expect(diff).toEqual([])
  return messages
}

const opsOf = (messages: ReadonlyArray<{ value: string | null }>) =>
  messages.filter((m) => m.value !== null).map((m) => (JSON.parse(m.value!) as { op: string }).op)

describe("snapshots (e2e)", () => {
  it("initial snapshot of 100,000 rows under concurrent inserts, updates and deletes", async () => {
    const table = uniqueName("snap_init")
    await makeTable(table, 100_000)
    const config = makeConfig("snap_init", `snapshot_chunk_size = 5000`)
    config.write([table])
    const writer = startWriter(writerQuery, `public.${table}`, 105_000)
    const cli = spawnCli(["run", "-c", config.file])
    await cli.waitForLine(/streaming slot/, 120_000)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    await writer.stop()
    const messages = await expectFoldEqualsTable(config.topic(table), table)
    expect((await cli.stop()).code).toBe(0)
    const ops = opsOf(messages)
    expect(ops.filter((op) => op === "r").length).toBeGreaterThan(90_000)
    expect(writer.ops()).toBeGreaterThan(50)
    expect(cli.stdout()).toMatch(/initial snapshot done/)
  }, 300_000)

  it("a kill -9 in the middle of the initial snapshot: the rest continues incrementally, nothing lost", async () => {
    const table = uniqueName("snap_kill")
    await makeTable(table, 100_000)
    const config = makeConfig("snap_kill", `snapshot_chunk_size = 1000\nsnapshot_parallelism = 1`)
    config.write([table])
    const writer = startWriter(writerQuery, `public.${table}`, 105_000)
    let cli = spawnCli(["run", "-c", config.file])
    await waitUntil(() => (journalText(config).match(/SnapshotChunkDone/g) ?? []).length >= 10, "10 chunks journaled", 60_000)
    cli.signal("SIGKILL")
    expect((await cli.exited).signal).toBe("SIGKILL")
    expect(tableDone(config, table)).toBe(false)

    cli = spawnCli(["run", "-c", config.file])
    await cli.waitForLine(/resuming the snapshot/, 60_000)
    await waitUntil(() => tableDone(config, table), "the resumed snapshot to finish")
    await writer.stop()
    await expectFoldEqualsTable(config.topic(table), table)
    expect((await cli.stop()).code).toBe(0)
  }, 300_000)

  it("outboxx snapshot --table: an incremental snapshot of a table under write load", async () => {
    const table = uniqueName("snap_incr")
    await makeTable(table, 100_000)
    const config = makeConfig("snap_incr", `snapshot = "never"\nsnapshot_chunk_size = 5000`)
    config.write([table])
    const cli = spawnCli(["run", "-c", config.file])
    await cli.waitForLine(/streaming slot/, 60_000)
    const writer = startWriter(writerQuery, `public.${table}`, 105_000)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const request = await runCli(["snapshot", "-c", config.file, "--table", table])
    expect(request.stderr).toBe("")
    expect(request.code).toBe(0)
    expect(request.stdout).toMatch(/requested an incremental snapshot of public\./)
    await waitUntil(() => tableDone(config, table), "the incremental snapshot to finish")
    await writer.stop()
    const messages = await expectFoldEqualsTable(config.topic(table), table)
    expect((await cli.stop()).code).toBe(0)
    expect(opsOf(messages).filter((op) => op === "r").length).toBeGreaterThan(90_000)

    const unknown = await runCli(["snapshot", "-c", config.file, "--table", "public.not_configured"])
    expect(unknown.code).toBe(2)
  }, 300_000)

  it("a table added to the config later is snapshotted without disturbing the others", async () => {
    const first = uniqueName("snap_first")
    const added = uniqueName("snap_added")
    await makeTable(first, 20_000)
    await makeTable(added, 30_000)
    const config = makeConfig("snap_add", "")
    config.write([first])
    let cli = spawnCli(["run", "-c", config.file])
    await cli.waitForLine(/streaming slot/, 60_000)
    expect((await cli.stop()).code).toBe(0)

    config.write([first, added])
    const writerFirst = startWriter(writerQuery, `public.${first}`, 21_000)
    cli = spawnCli(["run", "-c", config.file])
    await cli.waitForLine(/streaming slot/, 60_000)
    await waitUntil(() => tableDone(config, added), "the added table's snapshot")
    await writerFirst.stop()
    const addedMessages = await expectFoldEqualsTable(config.topic(added), added)
    expect(opsOf(addedMessages).filter((op) => op === "r").length).toBe(30_000)
    // The first table: snapshotted once (first run), then streamed.
    const firstMessages = await expectFoldEqualsTable(config.topic(first), first)
    expect(opsOf(firstMessages).filter((op) => op === "r").length).toBe(20_000)
    expect((await cli.stop()).code).toBe(0)
  }, 300_000)
})
