/**
 * Stored generated columns (`postgres.publish_generated_columns`): on
 * PostgreSQL 18 the publication publishes them and the events carry them,
 * streamed and snapshotted alike; before 18, asking for them is refused at
 * start (exit 2, naming the version), and events leave them out as the
 * server does. The version matrix (dev/test.sh) runs this on 15 to 18.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import { createTestDatabase, pgQuery, readTopic, runCli, spawnCli, type TestDatabase } from "../support/servers.js"

let db: TestDatabase
let major = 0
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-gencols-"))

beforeAll(async () => {
  db = await createTestDatabase("gencols")
  const [row] = await pgQuery<{ v: string }>(db.url, "SELECT current_setting('server_version_num') AS v")
  major = Math.floor(Number(row!.v) / 10000)
  await pgQuery(db.url, `CREATE TABLE items (id int PRIMARY KEY, price numeric(10,2) NOT NULL, qty int NOT NULL,
    total numeric(12,2) GENERATED ALWAYS AS (price * qty) STORED);
    INSERT INTO items (id, price, qty) VALUES (1, 2.50, 4)`)
}, 60_000)
afterAll(async () => {
  await db?.drop()
})

const config = (name: string, publish: boolean) =>
  writeRunConfig({
    dir: workDir,
    name,
    url: db.url,
    postgres: publish ? "publish_generated_columns = true" : "",
    streams: `[[streams]]\nname = "items"\ntables = ["items"]\ntopic = "PREFIX.items"`
  })

describe("stored generated columns", () => {
  it("are in the events with publish_generated_columns on PostgreSQL 18, and refused before it", async () => {
    const asked = config("gcp", true)
    if (major < 18) {
      const refused = await runCli(["run", "-c", asked.file], { timeoutMs: 60_000 })
      expect(refused.code).toBe(2)
      expect(refused.stdout + refused.stderr).toMatch(new RegExp(`publish_generated_columns needs PostgreSQL 18 or later \\(this server is ${major}\\)`))
      // Without it, the events leave the column out, as the server does.
      const plain = config("gcn", false)
      const cli = spawnCli(["run", "-c", plain.file])
      try {
        await cli.waitForLine(/streaming slot/, 60_000)
        await pgQuery(db.url, "INSERT INTO items (id, price, qty) VALUES (2, 1.00, 3)")
        const events = (await readTopic(`${plain.prefix}.items`, { count: 2, timeoutMs: 30_000 })).map((m) => JSON.parse(m.value!))
        expect(events.map((e) => e.after)).toEqual([{ id: 1, price: "2.50", qty: 4 }, { id: 2, price: "1.00", qty: 3 }])
      } finally {
        await cli.stop("SIGTERM", 15_000)
      }
      return
    }
    const check = await runCli(["check", "-c", asked.file])
    expect(check.stdout).toMatch(/ok.*generated columns \(total: published when stored/)
    const cli = spawnCli(["run", "-c", asked.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      await pgQuery(db.url, "INSERT INTO items (id, price, qty) VALUES (3, 1.50, 2); UPDATE items SET qty = 10 WHERE id = 1")
      const events = (await readTopic(`${asked.prefix}.items`, { count: 3, timeoutMs: 30_000 })).map((m) => JSON.parse(m.value!))
      // The snapshot row, the insert and the update, each with the generated total.
      expect(events.map((e) => [e.op, e.after])).toEqual([
        ["r", { id: 1, price: "2.50", qty: 4, total: "10.00" }],
        ["c", { id: 3, price: "1.50", qty: 2, total: "3.00" }],
        ["u", { id: 1, price: "2.50", qty: 10, total: "25.00" }]
      ])
      const [publication] = await pgQuery<{ gencols: string }>(db.url, "SELECT pubgencols::text AS gencols FROM pg_publication WHERE pubname = $1", [asked.slot])
      expect(publication!.gencols).toBe("s")
      expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    } finally {
      await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 180_000)
})
