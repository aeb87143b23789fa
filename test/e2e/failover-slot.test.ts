/**
 * `postgres.slot_failover` (PostgreSQL 17 failover slots): on 17 and later
 * the slot is created with FAILOVER (and an existing one is made a failover
 * slot), so a physical standby with sync_replication_slots keeps it; before
 * 17 the setting is refused at start, naming the version. The version matrix
 * (dev/test.sh) runs this on 15 to 18.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import { createTestDatabase, pgQuery, readTopic, runCli, spawnCli, type TestDatabase } from "../support/servers.js"

let db: TestDatabase
let major = 0
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-failover-"))

beforeAll(async () => {
  db = await createTestDatabase("failover")
  const [row] = await pgQuery<{ v: string }>(db.url, "SELECT current_setting('server_version_num') AS v")
  major = Math.floor(Number(row!.v) / 10000)
  await pgQuery(db.url, "CREATE TABLE t (id int PRIMARY KEY)")
}, 60_000)
afterAll(async () => {
  await db?.drop()
})

const slotFailover = async (slot: string): Promise<string | null> =>
  (await pgQuery<{ failover: string | null }>(db.url, "SELECT to_jsonb(s) ->> 'failover' AS failover FROM pg_replication_slots s WHERE slot_name = $1", [slot]))[0]
    ?.failover ?? null

describe("postgres.slot_failover", () => {
  it("creates a failover slot, or makes the existing slot one, on PostgreSQL 17+; refused before", async () => {
    const config = writeRunConfig({ dir: workDir, name: "fo", url: db.url, postgres: "slot_failover = true", streams: `[[streams]]\nname = "t"\ntables = ["t"]\ntopic = "PREFIX.t"` })
    if (major < 17) {
      const refused = await runCli(["run", "-c", config.file], { timeoutMs: 60_000 })
      expect(refused.code).not.toBe(0)
      expect(refused.stdout + refused.stderr).toMatch(new RegExp(`slot_failover needs PostgreSQL 17 or later \\(this server is ${major}\\)`))
      return
    }
    const cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      expect(await slotFailover(config.slot)).toBe("true")
      await pgQuery(db.url, "INSERT INTO t VALUES (1)")
      expect(await readTopic(`${config.prefix}.t`, { count: 1, timeoutMs: 30_000 })).toHaveLength(1)
      expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    } finally {
      await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
    // A slot made without the setting becomes a failover slot when the setting is turned on.
    const plain = writeRunConfig({ dir: workDir, name: "fp", url: db.url, streams: `[[streams]]\nname = "t"\ntables = ["t"]\ntopic = "PREFIX.t"` })
    const first = spawnCli(["run", "-c", plain.file])
    await first.waitForLine(/streaming slot/, 60_000)
    expect((await first.stop("SIGTERM", 15_000)).code).toBe(0)
    expect(await slotFailover(plain.slot)).toBe("false")
    writeFileSync(plain.file, readFileSync(plain.file, "utf8").replace("[kafka]", "slot_failover = true\n[kafka]"))
    const second = spawnCli(["run", "-c", plain.file])
    try {
      await second.waitForLine(/is now a failover slot/, 60_000)
      await second.waitForLine(/streaming slot/, 60_000)
      expect(await slotFailover(plain.slot)).toBe("true")
      expect((await second.stop("SIGTERM", 15_000)).code).toBe(0)
    } finally {
      await second.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 180_000)
})
