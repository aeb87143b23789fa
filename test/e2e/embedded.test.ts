/**
 * The library as a host application uses it: examples/embedded (an Effect
 * program with its own HTTP route and JSON logger that embeds Outboxx.layer
 * and mounts Outboxx.routes) is compiled against the built package and run
 * as a child process against the real PostgreSQL and Kafka.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import { createTestDatabase, freePort, pgQuery, readTopic, repoRoot, spawnCli, type TestDatabase } from "../support/servers.js"

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-embedded-"))


beforeAll(async () => {
  db = await createTestDatabase("e2e_embedded")
  // The example imports "outboxx" (the package itself, dist/ built by the global setup).
  execFileSync(process.execPath, [path.join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "examples/embedded"], {
    cwd: repoRoot,
    stdio: "pipe"
  })
}, 120_000)
afterAll(async () => {
  await db?.drop()
})

describe("examples/embedded (Outboxx.layer in a host app)", () => {
  it("streams beside the host's own route, serves Outboxx's routes on the host's server, and stops cleanly on SIGTERM", async () => {
    await pgQuery(db.url, "CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2))")
    const config = writeRunConfig({
      dir: workDir,
      name: "embedded",
      url: db.url,
      streams: `[[streams]]\nname = "orders"\ntables = ["public.orders"]\ntopic = "PREFIX.orders"\n`
    })
    const port = await freePort()
    const app = spawnCli([config.file], {
      entry: path.join(repoRoot, "examples/embedded/dist/main.js"),
      env: { PORT: String(port) }
    })
    try {
      await app.waitForLine(/orders app listening/, 60_000)
      await app.waitForLine(/"streaming slot/, 60_000)
      await pgQuery(db.url, "INSERT INTO orders VALUES (1, 10.50), (2, 20.00)")
      await pgQuery(db.url, "UPDATE orders SET total = 11.00 WHERE id = 1")

      const messages = await readTopic(`${config.prefix}.orders`, { count: 3, timeoutMs: 30_000 })
      const events = messages.map((m) => JSON.parse(m.value!) as { op: string; after: { id: number; total: string } })
      expect(events.map((e) => [e.op, e.after.id, e.after.total])).toEqual([["c", 1, "10.50"], ["c", 2, "20.00"], ["u", 1, "11.00"]])

      // The host's route reads Outboxx's health; Outboxx's own routes are on the same server.
      const own = await (await fetch(`http://127.0.0.1:${port}/orders/replication`)).json() as { streaming: boolean }
      expect(own.streaming).toBe(true)
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
      expect(ready.status).toBe(200)
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      expect(metrics).toMatch(/^outboxx_events_total\{(?=.*stream="orders")(?=.*op="c").*\} 2$/m)
      expect(metrics).toMatch(/^outboxx_events_total\{(?=.*stream="orders")(?=.*op="u").*\} 1$/m)
      // The host's logger (JSON lines) carries Outboxx's logs.
      const streamingLine = app.stdout().split("\n").find((l) => l.includes("streaming slot"))
      expect(JSON.parse(streamingLine!)).toMatchObject({ level: "INFO" })
    } finally {
      app.child.kill("SIGTERM")
    }
    const result = await app.exited
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/stopped; confirmed/)
  }, 120_000)
})
