/**
 * `format = "cloudevents"` read by the CloudEvents Python SDK's Kafka
 * protocol binding (`from_kafka`, which tells the content modes apart by the
 * content-type header), from one `outboxx run` (the built CLI) streaming a
 * table in both modes: a snapshot row, an insert, an update, a primary-key
 * change, a delete and a truncate. Every event must parse as a CloudEvent 1.0
 * with the documented attributes, its `data` the outboxx format's event, its
 * `id` derived from the change's position (so a re-delivery carries the same
 * id) and unique.
 *
 * Needs python3 (dev/python.sh builds the virtual environment); skipped,
 * saying why, without it.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import { createTestDatabase, kafkaBrokers, pgQuery, repoRoot, spawnCli, type TestDatabase } from "../support/servers.js"

const skipReason = spawnSync("python3", ["--version"], { stdio: "ignore" }).status === 0 ? undefined : "no python3 on PATH"
if (skipReason !== undefined) console.warn(`cloudevents e2e skipped: ${skipReason}`)

interface Parsed {
  readonly tombstone?: true
  readonly mode: "structured" | "binary"
  readonly attributes: Record<string, string>
  readonly data: { op: string; before: unknown; after: unknown; source: { lsn: string; commitLsn: string; table: string } }
  readonly key: string | null
}

let python: string
let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-ce-"))

const readThroughSdk = (topic: string, count: number): Array<Parsed> =>
  execFileSync(python, [path.join(repoRoot, "test/support/python/cloudevents_read.py"), kafkaBrokers()[0]!, topic, String(count), "60"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 120_000
  }).trim().split("\n").map((line) => JSON.parse(line) as Parsed)

describe.skipIf(skipReason !== undefined)("format cloudevents", () => {
  beforeAll(async () => {
    python = Object.fromEntries(
      execFileSync("bash", [path.join(repoRoot, "dev/python.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 600_000 })
        .trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])
    ).OUTBOXX_TEST_PYTHON!
    db = await createTestDatabase("ce")
    await pgQuery(db.url, "CREATE TABLE orders (id int PRIMARY KEY, status text); INSERT INTO orders VALUES (1, 'new')")
  }, 600_000)
  afterAll(async () => {
    await db?.drop()
  })

  it("writes CloudEvents 1.0 in structured and binary mode that the CloudEvents SDK reads, ids stable and unique", async () => {
    const config = writeRunConfig({
      dir: workDir,
      name: "ce",
      url: db.url,
      streams: `
[[streams]]
name = "structured"
tables = ["orders"]
topic = "PREFIX.s.{table}"
format = "cloudevents"

[[streams]]
name = "binary"
tables = ["orders"]
topic = "PREFIX.b.{table}"
format = "cloudevents"
cloudevents_mode = "binary"
`
    })
    const cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      await pgQuery(db.url, `INSERT INTO orders VALUES (2, 'new');
        UPDATE orders SET status = 'paid' WHERE id = 2;
        UPDATE orders SET id = 3 WHERE id = 2;
        DELETE FROM orders WHERE id = 3;
        TRUNCATE orders`)
      // snapshot read, insert, update, key change (delete, tombstone, create), delete, tombstone, truncate.
      const count = 9
      for (const [mode, topic] of [["structured", `${config.prefix}.s.orders`], ["binary", `${config.prefix}.b.orders`]] as const) {
        const records = readThroughSdk(topic, count)
        const events = records.filter((r) => r.tombstone !== true)
        expect(events.map((e) => e.data.op)).toEqual(["r", "c", "u", "d", "c", "d", "t"])
        expect(records.filter((r) => r.tombstone === true)).toHaveLength(2)
        for (const event of events) {
          expect(event.mode).toBe(mode)
          const op = event.data.op
          expect(event.attributes).toMatchObject({
            specversion: "1.0",
            source: `/outboxx/postgresql/${db.name}/${mode}`,
            type: `io.outboxx.change.${{ r: "read", c: "created", u: "updated", d: "deleted", t: "truncated" }[op]}`,
            subject: "public.orders",
            datacontenttype: "application/json"
          })
          expect(Date.parse(event.attributes.time!)).not.toBeNaN()
          // The id is the change's position: what a re-delivery of the same change carries again.
          const { commitLsn, lsn } = event.data.source
          expect(event.attributes.id).toBe(
            op === "r" ? `${lsn}:r:${event.key}` : op === "t" ? `${commitLsn}:${lsn}:t:public.orders` : `${commitLsn}:${lsn}:${op}`
          )
        }
        expect(new Set(events.map((e) => e.attributes.id)).size).toBe(events.length)
        expect(events[0]!.data.after).toEqual({ id: 1, status: "new" })
        expect(events[2]!.data.after).toEqual({ id: 2, status: "paid" })
        expect(events[3]!.key).toBe(`{"id":2}`)
      }
    } finally {
      expect((await cli.stop("SIGTERM", 20_000)).code).toBe(0)
    }
  }, 300_000)
})
