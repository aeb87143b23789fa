/**
 * `kafka.delivery = "exactly-once"` end to end: `outboxx run` as a child
 * process, continuous writes (single-row and 300-row transactions), kill -9
 * several times, and a read_committed consumer (kafkajs' default) must see
 * every row exactly once: no duplicates, nothing missing. Broker restarts are
 * in the fault suite (test/faults), which owns its servers.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTestDatabase, pgQuery, readTopic, spawnCli, type TestDatabase } from "../support/servers.js"
import { writeRunConfig } from "../support/runConfig.js"

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-eos-"))

beforeAll(async () => {
  db = await createTestDatabase("e2e_eos")
})
afterAll(async () => {
  await db?.drop()
})

const writeConfig = (name: string) =>
  writeRunConfig({
    dir: workDir,
    name,
    url: db.url,
    kafka: `delivery = "exactly-once"`,
    streams: `
[[streams]]
name = "orders"
tables = ["eos_orders"]
topic = "PREFIX.orders"
[[streams]]
name = "lines"
tables = ["eos_lines"]
topic = "PREFIX.lines"
`
  })

const startRun = async (file: string) => {
  const cli = spawnCli(["run", "-c", file])
  await cli.waitForLine(/streaming slot/, 60_000)
  return cli
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const countKeys = (messages: ReadonlyArray<{ key: string | null }>) => {
  const seen = new Map<number, number>()
  for (const m of messages) {
    const id = JSON.parse(m.key!).id as number
    seen.set(id, (seen.get(id) ?? 0) + 1)
  }
  return seen
}

describe("exactly-once delivery (e2e)", () => {
  it("delivers every row exactly once to a read_committed consumer across five kill -9 under continuous writes", async () => {
    await pgQuery(db.url, `
      CREATE TABLE eos_orders (id int PRIMARY KEY, note text);
      CREATE TABLE eos_lines (id int PRIMARY KEY, order_id int, payload text);
    `)
    const { file, prefix, slot } = writeConfig("eos")
    let cli = await startRun(file)

    // Each round: one order (a single-row transaction) and, in its own transaction,
    // that order's 300 lines; every 10th transaction writes to both tables at once.
    const rounds = 400
    let round = 0
    const writer = (async () => {
      for (; round < rounds; round++) {
        await pgQuery(db.url, `INSERT INTO eos_orders VALUES ($1::int, 'order ' || $1::text)`, [round])
        if (round % 10 === 0) {
          await pgQuery(db.url, `BEGIN;
            INSERT INTO eos_lines SELECT $1::int * 1000 + g, $1::int, md5(g::text) FROM generate_series(0, 299) g;
            UPDATE eos_orders SET note = 'with lines' WHERE id = $1::int;
            COMMIT`.replaceAll("$1", String(round)))
        } else {
          await pgQuery(db.url, `INSERT INTO eos_lines SELECT $1::int * 1000 + g, $1::int, md5(g::text) FROM generate_series(0, 299) g`, [round])
        }
        await sleep(15)
      }
    })()

    const killedAt: Array<number> = []
    const logs: Array<string> = []
    for (let k = 0; k < 5; k++) {
      await sleep(700 + Math.floor(Math.random() * 700))
      killedAt.push(round)
      cli.signal("SIGKILL")
      const killed = await cli.exited
      expect(killed.signal).toBe("SIGKILL")
      logs.push(killed.stdout, killed.stderr)
      cli = await startRun(file)
    }
    await writer
    const lines = await readTopic(`${prefix}.lines`, { count: rounds * 300, idleMs: 8_000, timeoutMs: 180_000 })
    const orders = await readTopic(`${prefix}.orders`, { count: rounds + rounds / 10, idleMs: 5_000, timeoutMs: 60_000 })
    // Anything late would show up now.
    await sleep(3_000)
    const linesAgain = await readTopic(`${prefix}.lines`, { idleMs: 3_000, timeoutMs: 60_000 })
    const stopped = await cli.stop()
    expect(stopped.code).toBe(0)
    logs.push(stopped.stdout, stopped.stderr)
    const resumeLogs = logs.join("\n").split("\n").filter((l) => /skipped \d+ transactions|resuming after the position/.test(l))

    const lineIds = countKeys(linesAgain.length >= lines.length ? linesAgain : lines)
    const lineDuplicates = [...lineIds.values()].reduce((n, c) => n + c - 1, 0)
    const missing = rounds * 300 - lineIds.size
    console.log(
      `exactly-once kill -9 test (slot ${slot}): killed at rounds ${killedAt.join(", ")}; ` +
        `${linesAgain.length} line records for ${lineIds.size} rows (${lineDuplicates} duplicates, ${missing} missing); ` +
        `${orders.length} order records; resumes after the stored position: ${resumeLogs.length}`
    )
    expect(missing).toBe(0)
    expect(lineDuplicates).toBe(0)
    expect(linesAgain.length).toBe(rounds * 300)
    // orders: one insert per round plus one update every 10th round, each exactly once.
    expect(orders.length).toBe(rounds + rounds / 10)
    const orderOps = orders.map((m) => `${JSON.parse(m.key!).id}:${JSON.parse(m.value!).op}`)
    expect(new Set(orderOps).size).toBe(orderOps.length)
    // The position topic holds the slot's last committed LSN.
    const positions = await readTopic(`outboxx.offsets.${slot}`, { idleMs: 2_000, timeoutMs: 30_000 })
    expect(positions.length).toBeGreaterThan(0)
    expect(JSON.parse(positions.at(-1)!.value!)).toMatchObject({ slot, lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) })
  }, 300_000)
})
