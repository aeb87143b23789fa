/**
 * examples/publishing, the applications that publish through
 * `outboxx/client` (a `pg` client, and an Effect program on
 * @effect/sql-pg), compiled against the built package and run as child
 * processes beside `outboxx run`: each committed order's event is on its
 * topic with its key and headers, the rolled-back one's is not, and neither
 * is its order.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import { createTestDatabase, pgQuery, readTopic, repoRoot, runCli, spawnCli, type TestDatabase, uniqueName } from "../support/servers.js"

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-publishing-"))
const app = uniqueName("shop_app")

beforeAll(async () => {
  db = await createTestDatabase("publishing")
  await pgQuery(db.url, `CREATE ROLE ${app} LOGIN; CREATE TABLE orders (id int PRIMARY KEY, status text); GRANT INSERT, SELECT ON orders TO ${app}`)
  // The examples import "outboxx/client" (the package itself, dist/ built by the global setup).
  execFileSync(process.execPath, [path.join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "examples/publishing"], { cwd: repoRoot, stdio: "pipe" })
}, 120_000)
afterAll(async () => {
  await db?.drop()
  await pgQuery(db.url.replace(/\/[^/]*$/, "/postgres"), `DROP ROLE IF EXISTS ${app}`).catch(() => {})
})

const runExample = (script: string, args: ReadonlyArray<string>, url: string): string =>
  execFileSync(process.execPath, [path.join(repoRoot, "examples/publishing/dist", script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: url },
    encoding: "utf8",
    timeout: 60_000
  })

describe("examples/publishing (outboxx/client in an application)", () => {
  it("publishes each order's event in the order's transaction, with pg and with Effect's SqlClient", async () => {
    const config = writeRunConfig({
      dir: workDir,
      name: "pub",
      url: db.url,
      sections: `[outbox]\ntopics = ["PREFIX.orders.events"]\n`,
      streams: `[[streams]]\nname = "orders"\ntables = ["orders"]\ntopic = "PREFIX.changes"`
    })
    expect((await runCli(["outbox", "install", "--grant", app, "-c", config.file])).code).toBe(0)
    const cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      const appUrl = new URL(db.url)
      appUrl.username = app
      const topic = `${config.prefix}.orders.events`
      const plain = runExample("orders.js", ["3", topic, "1"], appUrl.toString())
      expect(plain).toMatch(/"rolled back","orderId":4/)
      const effect = runExample("orders-effect.js", ["2", topic, "10"], appUrl.toString())
      expect(effect).toMatch(/"rolled back","orderId":12,"reason":"payment declined"/)

      const events = await readTopic(topic, { count: 5, idleMs: 3_000, timeoutMs: 60_000 })
      expect(events.map((m) => [m.key, JSON.parse(m.value!), m.headers])).toEqual([
        ...[1, 2, 3].map((id) => [`order-${id}`, { type: "OrderPlaced", orderId: id }, { id: `order-${id}:placed`, type: "OrderPlaced" }]),
        ...[10, 11].map((id) => [`order-${id}`, { type: "OrderPlaced", orderId: id, via: "effect" }, { id: `order-${id}:placed`, type: "OrderPlaced" }])
      ])
      // Neither rolled-back order exists; their events were never delivered.
      expect((await pgQuery<{ id: number }>(db.url, "SELECT id FROM orders ORDER BY id")).map((r) => r.id)).toEqual([1, 2, 3, 10, 11])
      expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    } finally {
      await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 180_000)
})
