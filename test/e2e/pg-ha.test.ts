/**
 * A PostgreSQL 17 primary and a physical standby (dev/pg-ha.sh: the same
 * binaries, slot sync on), one pair for both tests, in order.
 *
 * Decoding on the standby (16+): `postgres.url` at the replica, the slot
 * there, the primary carrying no logical slot; the publication made on the
 * primary (`publication_mode = "existing"`).
 *
 * Database failover with PostgreSQL 17 failover slots: Outboxx
 * streaming through a two-host `postgres.url` with
 * `target_session_attrs=read-write` and its state in the shared table.
 * Under continuous writes the primary is killed (-9), the standby promoted;
 * Outboxx reconnects to the new primary and continues from the synchronised
 * slot. Every row the new primary holds must be in Kafka, and no row it does
 * not hold (synchronized_standby_slots keeps the stream behind the standby).
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import { pgQuery, readTopic, repoRoot, runCli, spawnCli } from "../support/servers.js"

const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-pg-failover-"))
let primary = 0
let standby = 0
const ha = (command: string): string =>
  execFileSync("bash", [path.join(repoRoot, "dev/pg-ha.sh"), command], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, OUTBOXX_DEV_PG_VERSION: "17" },
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 300_000
  })
const urlAt = (port: number, db = "postgres") => `postgres://postgres@127.0.0.1:${port}/${db}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(() => {
  const out = ha("up")
  primary = Number(/OUTBOXX_HA_PRIMARY_PORT=(\d+)/.exec(out)![1])
  standby = Number(/OUTBOXX_HA_STANDBY_PORT=(\d+)/.exec(out)![1])
}, 300_000)
afterAll(() => {
  ha("down")
})

const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** Inserts one row per transaction into whichever server takes writes, until stopped. */
const writer = (db: string) => {
  let on = true
  let acknowledged = 0
  let errors = 0
  const done = (async () => {
    let client: pg.Client | undefined
    while (on) {
      try {
        if (client === undefined) {
          for (const port of [primary, standby]) {
            const c = new pg.Client({ connectionString: urlAt(port, db), connectionTimeoutMillis: 1000 })
            c.on("error", () => {})
            try {
              await c.connect()
              if ((await c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")).rows[0]!.r) throw new Error("standby")
              client = c
              break
            } catch {
              await c.end().catch(() => {})
            }
          }
          if (client === undefined) throw new Error("no primary")
        }
        await client.query("INSERT INTO t (v) VALUES ('live')")
        acknowledged++
        await sleep(5)
      } catch {
        errors++
        await client?.end().catch(() => {})
        client = undefined
        await sleep(100)
      }
    }
    await client?.end().catch(() => {})
  })()
  return { stop: async () => ((on = false), await done, { acknowledged, errors }) }
}

describe("decoding on a physical standby (PostgreSQL 16+)", () => {
  it("streams from a slot on the standby: snapshot and changes, no logical slot on the primary", async () => {
    const db = "ondecode"
    await pgQuery(urlAt(primary), `CREATE DATABASE ${db}`)
    await pgQuery(urlAt(primary, db), "CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL)")
    await pgQuery(urlAt(primary, db), "INSERT INTO t (v) SELECT 'seed' FROM generate_series(1, 500)")
    await waitUntil("the standby to replay the table", async () =>
      (await pgQuery<{ n: string }>(urlAt(standby, db), "SELECT count(*)::text AS n FROM t"))[0]!.n === "500", 60_000)
    const config = writeRunConfig({
      dir: workDir,
      name: "ondecode",
      url: urlAt(standby, db),
      postgres: `publication_mode = "existing"\nheartbeat_interval = "1s"`,
      streams: `[[streams]]\nname = "t"\ntables = ["t"]\ntopic = "PREFIX.t"`
    })
    // Outboxx cannot make the publication on a standby: it says so, with the statement to run on the primary.
    const filtered = writeRunConfig({ dir: workDir, name: "ondecodef", url: urlAt(standby, db), streams: `[[streams]]\nname = "t"\ntables = ["t"]\ntopic = "PREFIX.t"` })
    const refused = await runCli(["run", "-c", filtered.file], { timeoutMs: 60_000 })
    expect(refused.code).not.toBe(0)
    expect(refused.stdout + refused.stderr).toMatch(/the server is a standby \(read-only\), so the publication cannot be created here; run on the primary: CREATE PUBLICATION/)
    // The publication is catalog data: made on the primary, replayed on the standby.
    await pgQuery(urlAt(primary, db), `CREATE PUBLICATION ${config.slot} FOR TABLE t`)
    const cli = spawnCli(["run", "-c", config.file])
    try {
      // A slot on a standby waits for the primary's next running-transactions record; log one now.
      const nudge = setInterval(() => void pgQuery(urlAt(primary), "SELECT pg_log_standby_snapshot()").catch(() => {}), 500)
      await cli.waitForLine(/streaming slot/, 90_000).finally(() => clearInterval(nudge))
      await pgQuery(urlAt(primary, db), "INSERT INTO t (v) SELECT 'live' FROM generate_series(1, 200)")
      const messages = await readTopic(`${config.prefix}.t`, { count: 700, idleMs: 5000, timeoutMs: 60_000 })
      const ops = messages.map((m) => (JSON.parse(m.value!) as { op: string }).op)
      expect(ops.filter((op) => op === "r")).toHaveLength(500)
      expect(ops.filter((op) => op === "c")).toHaveLength(200)
      const onStandby = await pgQuery(urlAt(standby), "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'logical'", [config.slot])
      const onPrimary = await pgQuery(urlAt(primary), "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [config.slot])
      expect(onStandby).toHaveLength(1)
      expect(onPrimary).toHaveLength(0)
      // The heartbeat cannot write on a standby: said once, not retried into the log.
      expect(cli.stdout()).toMatch(/heartbeat: the server is a standby/)
      expect((await cli.stop("SIGTERM", 20_000)).code).toBe(0)
    } finally {
      await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 200_000)
})

describe("database failover (PostgreSQL 17 failover slots)", () => {
  it("kill -9 of the primary, promotion of the standby: Outboxx continues on the new primary and loses nothing", async () => {
    const db = "failover"
    await pgQuery(urlAt(primary), `CREATE DATABASE ${db}`)
    await pgQuery(urlAt(primary, db), "CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL)")
    await pgQuery(urlAt(primary, db), "INSERT INTO t (v) SELECT 'seed' FROM generate_series(1, 1000)")
    const config = writeRunConfig({
      dir: workDir,
      name: "failover",
      url: `postgres://postgres@127.0.0.1:${primary},127.0.0.1:${standby}/${db}?target_session_attrs=read-write`,
      postgres: `slot_failover = true\nconnect_timeout = "2s"\nheartbeat_interval = "1s"`,
      state: `backend = "postgres"`,
      streams: `[[streams]]\nname = "t"\ntables = ["t"]\ntopic = "PREFIX.t"`
    })
    const cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      const report = await runCli(["check", "-c", config.file])
      expect(report.stdout).toMatch(/ok {3}failover \(1 physical standby; failover slot, synchronized_standby_slots = 'outboxx_standby'\)/)
      const live = writer(db)
      // The standby has the failover slot, kept in step by its slot sync worker.
      await waitUntil("the slot synchronised to the standby", async () => {
        // A synced slot stays temporary until the standby has caught up with it; a promotion drops those.
        const rows = await pgQuery<{ synced: boolean; failover: boolean; temporary: boolean }>(
          urlAt(standby, db),
          "SELECT synced, failover, temporary FROM pg_replication_slots WHERE slot_name = $1",
          [config.slot]
        )
        return rows[0]?.synced === true && rows[0]?.failover === true && rows[0]?.temporary === false
      }, 90_000)
      await sleep(3000)

      ha("kill-primary")
      const killedAt = Date.now()
      const streamingLines = () => (cli.stdout().match(/streaming slot/g) ?? []).length
      await sleep(1000)
      ha("promote")
      const promotedAt = Date.now()
      await waitUntil("Outboxx streaming from the new primary", async () => streamingLines() >= 2, 120_000).catch((e) => {
        console.log(cli.stdout().split("\n").filter((l) => !l.includes('"level":"debug"')).slice(-25).join("\n"))
        throw e
      })
      const resumedAt = Date.now()
      await sleep(5000)
      const { acknowledged, errors } = await live.stop()
      await sleep(3000)
      expect((await cli.stop("SIGTERM", 20_000)).code).toBe(0)

      const source = await pgQuery<{ id: string }>(urlAt(standby, db), "SELECT id::text AS id FROM t")
      const inSource = new Set(source.map((r) => r.id))
      // No `count`: duplicates would make ids.length messages stop short of the end.
      const messages = await readTopic(`${config.prefix}.t`, { idleMs: 10_000, timeoutMs: 180_000 })
      const delivered = messages.flatMap((m) => (m.value === null ? [] : [String((JSON.parse(m.value) as { after: { id: number } }).after.id)]))
      const seen = new Set(delivered)
      const missing = [...inSource].filter((id) => !seen.has(id))
      const phantoms = [...seen].filter((id) => !inSource.has(id))
      console.log(
        `pg failover: ${source.length} rows on the new primary (${acknowledged} acknowledged writes, ${errors} write errors); ` +
          `${delivered.length} records, ${missing.length} missing, ${delivered.length - seen.size} duplicates, ${phantoms.length} not in the new primary; ` +
          `streaming again ${((resumedAt - promotedAt) / 1000).toFixed(1)} s after the promotion (${((resumedAt - killedAt) / 1000).toFixed(1)} s after the kill)`
      )
      expect(missing, "rows missing from Kafka").toEqual([])
      expect(phantoms, "rows in Kafka the new primary does not hold").toEqual([])
      expect(cli.stdout()).toMatch(/no server matched target_session_attrs=read-write|ECONNREFUSED/)
    } finally {
      await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 400_000)
})
