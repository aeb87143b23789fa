/**
 * Heartbeat and retained WAL: the captured database is idle while a second
 * database of the same cluster writes steadily. Two `outboxx run` processes
 * (built CLI) watch the idle database, one with `heartbeat_interval = "1s"`,
 * one with the heartbeat off, and we sample each slot's retained WAL
 * (pg_current_wal_lsn() - restart_lsn) and confirmed lag
 * (pg_current_wal_lsn() - confirmed_flush_lsn) for about 45 s.
 *
 * Finding (PostgreSQL 15): both slots stay bounded. The walsender reports its
 * WAL end in keepalives while it skips the other database's WAL, and outboxx
 * confirms an idle keepalive's position, so the heartbeat is not what bounds
 * the slot here; see docs/reliability.md ("Heartbeat").
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTestDatabase, pgQuery, spawnCli, type TestDatabase } from "../support/servers.js"
import { writeRunConfig } from "../support/runConfig.js"

let idle: TestDatabase
let busy: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-heartbeat-"))

beforeAll(async () => {
  idle = await createTestDatabase("e2e_hb_idle")
  busy = await createTestDatabase("e2e_hb_busy")
})
afterAll(async () => {
  await idle?.drop()
  await busy?.drop()
})

const writeConfig = (name: string, heartbeat: string) =>
  writeRunConfig({
    dir: workDir,
    name,
    url: idle.url,
    postgres: `heartbeat_interval = "${heartbeat}"`,
    streams: `
[[streams]]
name = "quiet"
tables = ["quiet"]
topic = "PREFIX.quiet"
`
  })

interface Sample {
  readonly at: number
  readonly retained: number
  readonly confirmedLag: number
}

const sample = async (slot: string): Promise<Sample> => {
  const rows = await pgQuery<{ retained: string; confirmed_lag: string }>(
    idle.url,
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained,
            pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS confirmed_lag
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot]
  )
  return { at: Date.now(), retained: Number(rows[0]!.retained), confirmedLag: Number(rows[0]!.confirmed_lag) }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

describe("heartbeat (e2e)", () => {
  it("keeps an idle database's slot from retaining the WAL another database writes (with and without the heartbeat)", async () => {
    await pgQuery(idle.url, `CREATE TABLE quiet (id int PRIMARY KEY)`)
    await pgQuery(busy.url, `CREATE TABLE noise (id bigserial PRIMARY KEY, payload text)`)
    const withHeartbeat = writeConfig("hb_on", "1s")
    const withoutHeartbeat = writeConfig("hb_off", "0s")
    const clis = [spawnCli(["run", "-c", withHeartbeat.file]), spawnCli(["run", "-c", withoutHeartbeat.file])]
    try {
      await Promise.all(clis.map((cli) => cli.waitForLine(/streaming slot/, 60_000)))
      const startLsn = (await pgQuery<{ lsn: string }>(busy.url, "SELECT pg_current_wal_lsn()::text AS lsn"))[0]!.lsn

      // The other database writes about 1 MB of WAL per 100 ms for 40 s.
      let writing = true
      const writer = (async () => {
        while (writing) {
          await pgQuery(busy.url, `INSERT INTO noise (payload) SELECT repeat(md5(g::text), 8) FROM generate_series(1, 2000) g`)
          await sleep(100)
        }
      })()
      const on: Array<Sample> = []
      const off: Array<Sample> = []
      const started = Date.now()
      while (Date.now() - started < 45_000) {
        await sleep(2_000)
        on.push(await sample(withHeartbeat.slot))
        off.push(await sample(withoutHeartbeat.slot))
      }
      writing = false
      await writer
      const written = Number(
        (await pgQuery<{ d: string }>(busy.url, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS d`, [startLsn]))[0]!.d
      )
      const describe = (samples: ReadonlyArray<Sample>) =>
        samples.map((s) => `${Math.round((s.at - started) / 1000)}s:${mb(s.retained)}/${mb(s.confirmedLag)}`).join(" ")
      console.log(`WAL written by the other database: ${mb(written)}`)
      console.log(`heartbeat 1s  (retained/confirmed lag): ${describe(on)}`)
      console.log(`heartbeat off (retained/confirmed lag): ${describe(off)}`)

      // The writer really produced a lot of WAL, so an unbounded slot would show it.
      expect(written).toBeGreaterThan(100 * 1024 * 1024)
      // What we measured (PostgreSQL 15), with AND without the heartbeat alike: the idle-keepalive
      // confirm keeps confirmed_flush_lsn within a few MB of the server, and restart_lsn follows at
      // each running-xacts record (about every 15 s while WAL is written), so the retained WAL
      // saws between ~0 and ~15-20 s worth of WAL instead of growing with time.
      for (const [label, samples] of [["heartbeat 1s", on], ["heartbeat off", off]] as const) {
        for (const s of samples) expect(s.confirmedLag, `${label}: confirmed lag`).toBeLessThan(16 * 1024 * 1024)
        for (const s of samples) expect(s.retained, `${label}: retained WAL`).toBeLessThan(written * 0.75)
        // restart_lsn really moved in the second half (the slot released WAL while the other database wrote).
        const secondHalf = samples.filter((s) => s.at - started >= 20_000)
        expect(Math.min(...secondHalf.map((s) => s.retained)), `${label}: retained WAL dropped`).toBeLessThan(written / 4)
      }
    } finally {
      await Promise.all(clis.map((cli) => cli.stop("SIGTERM", 15_000)))
    }
  }, 150_000)
})
