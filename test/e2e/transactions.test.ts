/**
 * Transaction metadata end to end (`transaction_topic`, format outboxx),
 * with the built CLI and exactly-once delivery: every source transaction
 * with events of the stream has one BEGIN and one END, the END's counts are
 * the events that carry its id, each event's block orders it, and a
 * read_committed consumer sees all of that exactly once across a kill -9.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import { createTestDatabase, pgQuery, readTopic, spawnCli, type TestDatabase } from "../support/servers.js"

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-tx-"))

beforeAll(async () => {
  db = await createTestDatabase("txmeta")
  await pgQuery(db.url, "CREATE TABLE orders (id int PRIMARY KEY, n int); CREATE TABLE items (id int PRIMARY KEY, order_id int)")
}, 60_000)
afterAll(async () => {
  await db?.drop()
})

interface Event {
  readonly op: string
  readonly source: { readonly table: string; readonly txId: number }
  readonly transaction: { readonly id: string; readonly total_order: number; readonly data_collection_order: number }
}
interface Marker {
  readonly status: "BEGIN" | "END"
  readonly id: string
  readonly event_count: number | null
  readonly data_collections: ReadonlyArray<{ readonly data_collection: string; readonly event_count: number }> | null
}

describe("transaction metadata with exactly-once delivery", () => {
  it("one BEGIN and one END per transaction, counts matching the events, atomically visible, across a kill -9", async () => {
    const config = writeRunConfig({
      dir: workDir,
      name: "txm",
      url: db.url,
      kafka: `delivery = "exactly-once"`,
      streams: `[[streams]]
name = "shop"
tables = ["orders", "items"]
topic = "PREFIX.{table}"
transaction_topic = "PREFIX.transactions"
tombstones = false
`
    })
    const transactions = 300
    const write = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        // Each transaction: an order, i % 3 + 1 items, and every fifth an update of an earlier order.
        const items = Array.from({ length: i % 3 + 1 }, (_, k) => `INSERT INTO items VALUES (${i * 10 + k}, ${i});`).join("")
        await pgQuery(db.url, `BEGIN; INSERT INTO orders VALUES (${i}, 0); ${items}${i % 5 === 4 ? `UPDATE orders SET n = n + 1 WHERE id = ${i - 1};` : ""} COMMIT`)
      }
    }
    let cli = spawnCli(["run", "-c", config.file])
    await cli.waitForLine(/streaming slot/, 60_000)
    await write(0, 150)
    await readTopic(`${config.prefix}.transactions`, { count: 100, timeoutMs: 60_000 })
    await cli.stop("SIGKILL")
    cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      await write(150, transactions)
      const markers = (await readTopic(`${config.prefix}.transactions`, { count: 2 * transactions, idleMs: 5_000, timeoutMs: 120_000 }))
        .map((m) => ({ key: JSON.parse(m.key!) as { id: string }, value: JSON.parse(m.value!) as Marker }))
      const events = [
        ...(await readTopic(`${config.prefix}.orders`, { count: transactions + transactions / 5, idleMs: 3_000, timeoutMs: 60_000 })),
        ...(await readTopic(`${config.prefix}.items`, { count: 2 * transactions, idleMs: 3_000, timeoutMs: 60_000 }))
      ].map((m) => JSON.parse(m.value!) as Event)

      // Exactly once: one BEGIN and one END per transaction, keyed by their id.
      expect(markers).toHaveLength(2 * transactions)
      const byId = new Map<string, Array<Marker>>()
      for (const { key, value } of markers) {
        expect(key.id).toBe(value.id)
        byId.set(value.id, [...(byId.get(value.id) ?? []), value])
      }
      expect(byId.size).toBe(transactions)
      expect(events).toHaveLength(transactions + transactions / 5 + (transactions / 3) * 6)
      const eventsById = new Map<string, Array<Event>>()
      for (const e of events) eventsById.set(e.transaction.id, [...(eventsById.get(e.transaction.id) ?? []), e])
      for (const [id, [begin, end]] of byId) {
        expect([begin!.status, end!.status]).toEqual(["BEGIN", "END"])
        const own = eventsById.get(id) ?? []
        expect(end!.event_count).toBe(own.length)
        expect([...own.map((e) => e.transaction.total_order)].sort((a, b) => a - b)).toEqual(own.map((_, i) => i + 1))
        const perTable = new Map<string, number>()
        for (const e of own) perTable.set(`public.${e.source.table}`, (perTable.get(`public.${e.source.table}`) ?? 0) + 1)
        expect(Object.fromEntries(end!.data_collections!.map((c) => [c.data_collection, c.event_count]))).toEqual(Object.fromEntries(perTable))
        expect(id).toMatch(new RegExp(`^${own[0]!.source.txId}:[0-9A-F]+/[0-9A-F]+$`))
      }
      expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    } finally {
      await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 300_000)
})
