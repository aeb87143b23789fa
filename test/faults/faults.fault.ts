/**
 * The fault suite (issue 4): real outboxx processes under continuous writes,
 * against the suite's own PostgreSQL and Kafka (servers.ts). After each fault
 * every source row must be in Kafka; duplicates are counted, not forbidden
 * (at-least-once). Results go to $TMPDIR/outboxx-faults/results.json and are
 * printed as the table published in docs/reliability.md.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot } from "../support/servers.js"
import { recordResult, resultsFile, resultsTable, Scenario } from "./harness.js"
import { faultsDir, kafkaDown, kafkaSignal, kafkaUp, pgDown, pgRestart, pgUp, pgUrl, resetFaultServers, sleep, waitFor } from "./servers.js"

beforeAll(async () => {
  fs.rmSync(resultsFile, { force: true })
  resetFaultServers()
  await pgUp()
  await kafkaUp()
})

afterAll(async () => {
  console.log(`\nfault suite results\n${resultsTable()}\n`)
  await kafkaDown()
  pgDown()
})

const finish = async (s: Scenario, fault: string, outcome: string) => {
  await s.stopWriter()
  const v = await s.verdict()
  recordResult({ fault, ...v, outcome })
  expect(v.missing, `${fault}: rows missing from Kafka`).toBe(0)
  return v
}

const stop = async (d: { child: import("node:child_process").ChildProcess; exited: Promise<number | null> }) => {
  d.child.kill("SIGTERM")
  await Promise.race([d.exited, sleep(20_000).then(() => d.child.kill("SIGKILL"))])
}

describe("fault suite", () => {
  it("walsender killed with pg_terminate_backend", async () => {
    const s = new Scenario("walsender")
    await s.setup()
    const d = s.start()
    await s.waitStreaming(d)
    s.startWriter()
    await sleep(3000)
    const pid = await s.slotActivePid()
    const admin = new pg.Client({ connectionString: pgUrl() })
    await admin.connect()
    await admin.query("SELECT pg_terminate_backend($1)", [pid])
    await admin.end()
    const before = d.log().length
    await s.waitStreaming(d, 30_000, before)
    await sleep(3000)
    await finish(s, "walsender killed (pg_terminate_backend)", "reconnected by itself")
    await stop(d)
  })

  for (const mode of ["fast", "immediate"] as const) {
    it(`PostgreSQL restarted (${mode})`, async () => {
      const s = new Scenario(`pg${mode}`)
      await s.setup()
      const d = s.start()
      await s.waitStreaming(d)
      s.startWriter()
      await sleep(3000)
      const before = d.log().length
      pgRestart(mode)
      await s.waitStreaming(d, 60_000, before)
      await sleep(3000)
      await finish(s, `PostgreSQL restart -m ${mode}`, "reconnected by itself")
      await stop(d)
    })
  }

  it("Kafka broker stopped for 30 s, then started", async () => {
    const s = new Scenario("brokerdown")
    await s.setup()
    const d = s.start()
    await s.waitStreaming(d)
    s.startWriter()
    await sleep(3000)
    await kafkaDown()
    await sleep(30_000)
    await kafkaUp()
    await sleep(10_000)
    expect(d.child.exitCode).toBeNull()
    await finish(s, "Kafka broker stopped 30 s", "kept running, delivered after restart")
    await stop(d)
  })

  it("Kafka broker frozen with SIGSTOP for 45 s, then SIGCONT", async () => {
    const s = new Scenario("brokerfrozen")
    await s.setup()
    const d = s.start()
    await s.waitStreaming(d)
    s.startWriter()
    await sleep(3000)
    kafkaSignal("SIGSTOP")
    await sleep(45_000)
    kafkaSignal("SIGCONT")
    await sleep(15_000)
    expect(d.child.exitCode).toBeNull()
    await finish(s, "Kafka broker SIGSTOP 45 s / SIGCONT", "kept running, delivered after SIGCONT")
    await stop(d)
  })

  it("state directory made unwritable", async () => {
    const s = new Scenario("statedir")
    await s.setup()
    const d = s.start()
    await s.waitStreaming(d)
    s.startWriter()
    await sleep(3000)
    const state = path.join(s.dir, "state-a")
    const files = fs.readdirSync(state).map((f) => path.join(state, f))
    // We run as root: chmod does not stop root, the immutable attribute does.
    execFileSync("chattr", ["+i", ...files, state])
    try {
      await sleep(5000)
      expect(d.log()).toContain("cannot journal checkpoints")
    } finally {
      execFileSync("chattr", ["-i", ...files, state])
    }
    await sleep(3000)
    expect(d.child.exitCode).toBeNull()
    await finish(s, "state dir unwritable (chattr +i), then writable", "kept streaming; journal error logged once, recovered")
    await stop(d)
  })

  it("20 kill -9 of outboxx under continuous load", async () => {
    const s = new Scenario("kill9")
    await s.setup()
    let d = s.start()
    await s.waitStreaming(d)
    s.startWriter()
    for (let i = 0; i < 20; i++) {
      await sleep(1500 + Math.random() * 1500)
      d.child.kill("SIGKILL")
      await d.exited
      d = s.start()
      await s.waitStreaming(d, 60_000)
    }
    await sleep(3000)
    await finish(s, "20 × kill -9 of outboxx (restarted each time)", "resumed from the slot each time")
    await stop(d)
  })

  it("exactly-once: kill -9 (x5), Kafka broker stopped 30 s, kill -9 (x3): no row missing, none twice", async () => {
    const s = new Scenario("eos")
    await s.setup()
    const eos = { kafka: `delivery = "exactly-once"` }
    let d = s.start("a", eos)
    await s.waitStreaming(d)
    s.startWriter()
    const kill = async (times: number) => {
      for (let i = 0; i < times; i++) {
        await sleep(1500 + Math.random() * 1500)
        d.child.kill("SIGKILL")
        await d.exited
        d = s.start("a", eos)
        await s.waitStreaming(d, 90_000)
      }
    }
    await kill(5)
    await sleep(2000)
    await kafkaDown()
    await sleep(30_000)
    await kafkaUp()
    // Streaming restarts once the broker answers (the supervisor's backoff is at most 30 s).
    const before = d.log().length
    await s.waitStreaming(d, 90_000, before)
    expect(d.child.exitCode).toBeNull()
    await kill(3)
    await sleep(3000)
    const v = await finish(s, "exactly-once: 5 × kill -9, broker stopped 30 s, 3 × kill -9", "recovered by itself each time")
    expect(v.duplicates, "duplicates in exactly-once mode (read_committed consumer)").toBe(0)
    await stop(d)
  })

  it("operator truth: lag metrics match the server during a backlog and a Kafka outage; health names Kafka", async () => {
    const s = new Scenario("lagtruth")
    await s.setup()
    const port = 19473
    const metric = async (name: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text)
      if (m === null) throw new Error(`${name} missing from /metrics`)
      return Number(m[1])
    }
    const serverLag = async (): Promise<number> => {
      const c = new pg.Client({ connectionString: pgUrl(s.db) })
      await c.connect()
      const rows = (await c.query<{ lag: string }>(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag FROM pg_replication_slots WHERE slot_name = $1",
        [s.db]
      )).rows
      await c.end()
      return Number(rows[0]!.lag)
    }
    // The slot exists (first run), then a backlog builds while nothing streams.
    const first = s.start("a", { http: port })
    await s.waitStreaming(first)
    await stop(first)
    const c = new pg.Client({ connectionString: pgUrl(s.db) })
    await c.connect()
    // One transaction: the confirmed LSN cannot move until all of it is in Kafka, so both views hold still meanwhile.
    await c.query("INSERT INTO t (v) SELECT repeat('x', 300) FROM generate_series(1, 100000)")
    await c.end()
    const backlog = await serverLag()
    expect(backlog).toBeGreaterThan(10_000_000)

    // From the first scrapes on, the lag is the server's (within 2 %, or 64 KB for the moments it moves).
    const d = s.start("a", { http: port })
    await waitFor("the first scrape with a known lag", async () => {
      try { return Number.isFinite(await metric("outboxx_replication_lag_bytes")) } catch { return false }
    }, 30_000, 50)
    const seen: Array<[number, number]> = []
    for (let i = 0; i < 10; i++) {
      const ours = await metric("outboxx_replication_lag_bytes")
      const theirs = await serverLag()
      seen.push([ours, theirs])
      await sleep(100)
    }
    const close = (a: number, b: number) => Math.abs(a - b) <= Math.max(0.02 * Math.max(a, b), 65_536)
    // The server learns our confirmed LSN within ~200 ms of us: most samples agree, none is wildly off.
    expect(seen.filter(([a, b]) => close(a, b)).length, JSON.stringify(seen)).toBeGreaterThanOrEqual(7)
    expect(seen[0]![0], "the first known lag is the backlog, not 0").toBeGreaterThan(backlog * 0.5)
    await s.waitStreaming(d)
    await waitFor("the backlog to drain", async () => (await metric("outboxx_replication_lag_bytes")) < 1_000_000, 120_000)

    // Kafka goes down under writes: the server's lag grows and ours follows; lag seconds grows with the outage.
    s.startWriter(50)
    await sleep(2000)
    await kafkaDown()
    const downAt = Date.now()
    await sleep(25_000)
    const [oursBytes, theirsBytes] = [await metric("outboxx_replication_lag_bytes"), await serverLag()]
    const lagSeconds = await metric("outboxx_replication_lag_seconds")
    const outageSoFar = (Date.now() - downAt) / 1000
    const status = await (await fetch(`http://127.0.0.1:${port}/status`)).json() as {
      kafka: { connected: boolean; error: string | null }
      postgres: { connected: boolean }
    }
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`)
    const readyBody = await readyz.json() as { reason: string }
    console.log(`operator truth: backlog ${backlog} B; first scrapes [ours, server] ${JSON.stringify(seen)}; ` +
      `Kafka down ${outageSoFar.toFixed(1)} s: lag bytes ours ${oursBytes} vs server ${theirsBytes}, lag seconds ${lagSeconds}`)
    await kafkaUp()
    await sleep(3000)
    await finish(s, "operator truth: backlog, then Kafka down 25 s under writes", "lag metrics matched the server")
    expect(theirsBytes).toBeGreaterThan(50_000)
    expect(Math.abs(oursBytes - theirsBytes), `ours ${oursBytes} vs server ${theirsBytes}`).toBeLessThanOrEqual(
      Math.max(0.05 * theirsBytes, 32_768)
    )
    // The oldest undelivered change was committed about when Kafka went down (within the writer's cadence).
    expect(lagSeconds, `outage ${outageSoFar} s`).toBeGreaterThan(outageSoFar - 5)
    expect(status.postgres.connected).toBe(true)
    expect(status.kafka.connected).toBe(false)
    expect(status.kafka.error).toBeTruthy()
    expect(readyz.status).toBe(503)
    expect(readyBody.reason).toMatch(/^kafka not connected/)
    await waitFor("lag to return to ~0 after Kafka is back", async () => (await metric("outboxx_replication_lag_seconds")) < 5, 60_000)
    await stop(d)
  })

  it("kill -9 of the active instance with a standby waiting: takeover within 10 s", async () => {
    const s = new Scenario("standby")
    await s.setup()
    const a = s.start("a", { http: 19471 })
    await s.waitStreaming(a)
    const b = s.start("b", { http: 19472 })
    await waitFor("the standby", () => b.log().includes("standby: replication slot"), 30_000)
    const status = await (await fetch("http://127.0.0.1:19472/status")).json() as { role: string }
    expect(status.role).toBe("standby")
    const metrics = await (await fetch("http://127.0.0.1:19472/metrics")).text()
    expect(metrics).toMatch(/outboxx_role_active 0/)
    s.startWriter()
    await sleep(3000)
    const killedAt = Date.now()
    a.child.kill("SIGKILL")
    await s.waitStreaming(b, 10_000)
    const takeoverMs = Date.now() - killedAt
    await sleep(3000)
    await finish(s, `kill -9 of the active instance, standby waiting (takeover ${(takeoverMs / 1000).toFixed(1)} s)`, "standby took over")
    expect(takeoverMs).toBeLessThan(10_000)
    await stop(b)
  })

  it("slot invalidated by max_slot_wal_keep_size while Kafka is frozen: on_slot_lost = fail stops naming it, resnapshot loses nothing", async () => {
    const s = new Scenario("slotlost")
    await s.setup()
    const admin = new pg.Client({ connectionString: pgUrl() })
    await admin.connect()
    const walStatus = async () =>
      (await admin.query<{ wal_status: string | null }>("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", [s.db])).rows[0]?.wal_status
    try {
      await admin.query("ALTER SYSTEM SET max_slot_wal_keep_size = '64MB'")
      await admin.query("SELECT pg_reload_conf()")
      const d = s.start("a", { postgres: `on_slot_lost = "fail"`, http: 19473 })
      await s.waitStreaming(d)
      s.startWriter()
      await sleep(3000)
      // Kafka frozen: nothing is acknowledged, so the slot stops advancing while the WAL grows past the limit.
      kafkaSignal("SIGSTOP")
      await admin.query("CREATE TABLE IF NOT EXISTS filler (v text)")
      for (let i = 0; i < 12; i++) {
        await admin.query("INSERT INTO filler SELECT repeat(md5(g::text), 32) FROM generate_series(1, 10000) AS g")
        await admin.query("SELECT pg_switch_wal()")
      }
      await admin.query("CHECKPOINT")
      await waitFor("the slot to be invalidated (wal_status = lost)", async () => (await walStatus()) === "lost", 60_000)
      // While it runs, /metrics says so (the slot monitor polls every second).
      await waitFor(
        "outboxx_slot_wal_status{status=\"lost\"} 1 on /metrics",
        async () => /outboxx_slot_wal_status\{status="lost"\} 1/.test(await fetch("http://127.0.0.1:19473/metrics").then((r) => r.text(), () => "")),
        15_000
      )
      kafkaSignal("SIGCONT")
      const code = await Promise.race([d.exited, sleep(90_000).then(() => "timeout" as const)])
      expect(code, d.log().slice(-2000)).not.toBe("timeout")
      expect(code).not.toBe(0)
      expect(d.log()).toMatch(/was invalidated by the server \(wal_status = lost/)
      expect(d.log()).toMatch(/on_slot_lost = \\?"resnapshot\\?"/)
      // check names it too.
      const check = (() => {
        try {
          return execFileSync(process.execPath, [path.join(repoRoot, "dist", "main.js"), "check", "-c", s.config("a")], { encoding: "utf8" })
        } catch (error) {
          return String((error as { stdout?: string }).stdout ?? "")
        }
      })()
      expect(check).toMatch(/FAIL.*has lost WAL it needed \(wal_status = lost\)/)
      // resnapshot: a new slot, the table snapshotted again; every row arrives.
      const e = s.start("a", { postgres: `on_slot_lost = "resnapshot"` })
      await s.waitStreaming(e, 90_000)
      await sleep(3000)
      const v = await finish(s, "slot invalidated (max_slot_wal_keep_size) while Kafka was frozen", "fail stopped naming it; resnapshot re-snapshotted")
      expect(v.duplicates).toBeGreaterThan(0) // the snapshot sends the rows delivered before again
      expect(e.log()).toMatch(/creating a new slot, the snapshot runs again/)
      await stop(e)
    } finally {
      kafkaSignal("SIGCONT")
      await admin.query("ALTER SYSTEM RESET max_slot_wal_keep_size")
      await admin.query("SELECT pg_reload_conf()")
      await admin.query("DROP TABLE IF EXISTS filler")
      await admin.end()
    }
  })
})

export { faultsDir }
