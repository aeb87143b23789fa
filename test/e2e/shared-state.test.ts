/**
 * `state.backend = "postgres"`: the pipeline's state in a table every
 * instance reaches. Two instances on different state directories (as on two
 * machines): kill -9 of the active one mid-snapshot, the standby resumes the
 * snapshot where it stopped; kill -9 of that one after the snapshot, the next
 * takes over with no snapshot at all. Nothing is missing throughout.
 * `outboxx state migrate` moves the state between the file and the table.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeRunConfig } from "../support/runConfig.js"
import {
  createTestDatabase,
  type CliProcess,
  pgQuery,
  readTopic,
  runCli,
  spawnCli,
  type TestDatabase
} from "../support/servers.js"

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-shared-state-"))
const seeded = 200_000
const chunk = 100

beforeAll(async () => {
  db = await createTestDatabase("sharedstate")
  await pgQuery(db.url, "CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL)")
  await pgQuery(db.url, `INSERT INTO t (v) SELECT 'seed-' || g FROM generate_series(1, ${seeded}) g`)
}, 60_000)
afterAll(async () => {
  await db?.drop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Inserts rows one per transaction until stopped. */
const writer = () => {
  let on = true
  let written = 0
  const done = (async () => {
    while (on) {
      await pgQuery(db.url, "INSERT INTO t (v) VALUES ('live')").then(() => written++, () => (on = false))
      await sleep(10)
    }
  })()
  return { stop: async () => ((on = false), await done, written) }
}

const journalRows = async (slot: string, tag: string): Promise<number> =>
  Number(
    (await pgQuery<{ n: string }>(
      db.url,
      "SELECT count(*)::text AS n FROM outboxx_state.journal WHERE pipeline = $1 AND event->>'_tag' = $2",
      [slot, tag]
    ))[0]!.n
  )

const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/** A second instance's configuration: the same pipeline, its own state directory (another machine). */
const twin = (file: string, name: string): string => {
  const other = path.join(workDir, `${name}.toml`)
  writeFileSync(other, readFileSync(file, "utf8").replace(/dir = "([^"]+)"/, `dir = "$1-${name}"`))
  return other
}

describe("state.backend = postgres", () => {
  it("a standby resumes the snapshot of the instance it replaces after kill -9, and a later takeover snapshots nothing", async () => {
    const config = writeRunConfig({
      dir: workDir,
      name: "shared",
      url: db.url,
      postgres: `snapshot_chunk_size = ${chunk}\nsnapshot_parallelism = 1`,
      state: `backend = "postgres"`,
      streams: `[[streams]]\nname = "t"\ntables = ["t"]\ntopic = "PREFIX.t"`
    })
    const running: Array<CliProcess> = []
    const start = (file: string) => {
      const cli = spawnCli(["run", "-c", file])
      running.push(cli)
      return cli
    }
    try {
      const a = start(config.file)
      await a.waitForLine(/created replication slot/, 60_000)
      const b = start(twin(config.file, "b"))
      await b.waitForLine(/standby: the pipeline's state .* is held by .*pid/, 60_000)
      // Kill the active instance once some, not all, chunks are journaled.
      await waitUntil("the first journaled chunks", async () => (await journalRows(config.slot, "SnapshotChunkDone")) >= 1, 60_000)
      a.signal("SIGKILL")
      const chunksAtKill = await journalRows(config.slot, "SnapshotChunkDone")
      expect(await journalRows(config.slot, "SnapshotTableDone")).toBe(0)
      const live = writer()
      await b.waitForLine(/taking over/, 30_000)
      await b.waitForLine(/resuming the snapshot of public\.t after an interruption/, 30_000)
      await b.waitForLine(/streaming slot/, 60_000)
      await waitUntil("the resumed snapshot to finish", async () => (await journalRows(config.slot, "SnapshotTableDone")) === 1, 120_000)
        .catch(async (e) => {
          const lines = b.stdout().split("\n")
          const first = lines.findIndex((l) => l.includes("duplicate key"))
          console.log(lines.slice(Math.max(0, first - 15), first + 3).join("\n"))
          console.log(await pgQuery(db.url, "SELECT min(seq), max(seq), count(*), array_agg(DISTINCT event->>'_tag') FROM outboxx_state.journal WHERE pipeline = $1", [config.slot]))
          console.log(await pgQuery(db.url, "SELECT seq, event FROM outboxx_state.journal WHERE pipeline = $1 ORDER BY seq DESC LIMIT 3", [config.slot]))
          throw e
        })

      // A third instance waits; kill -9 of the second one after the snapshot: no snapshot at all.
      const c = start(twin(config.file, "c"))
      await c.waitForLine(/standby: the pipeline's state/, 60_000)
      await sleep(2000)
      b.signal("SIGKILL")
      await c.waitForLine(/streaming slot/, 60_000)
      await sleep(3000)
      const written = await live.stop()
      await sleep(2000)
      expect((await c.stop("SIGTERM", 20_000)).code).toBe(0)
      expect(c.stdout() + c.stderr()).not.toMatch(/snapshotting it incrementally|resuming the snapshot/)

      const ids = await pgQuery<{ id: string }>(db.url, "SELECT id::text AS id FROM t")
      expect(ids.length).toBe(seeded + written)
      // No `count`: the topic holds duplicates (re-read chunks), so reading ids.length messages would stop short.
      const messages = await readTopic(`${config.prefix}.t`, { idleMs: 10_000, timeoutMs: 180_000 })
      const seen = new Set<string>()
      let reads = 0
      for (const m of messages) {
        if (m.value === null) continue
        const event = JSON.parse(m.value) as { op: string; after: { id: number } }
        if (event.op === "r" && event.after.id <= seeded) reads++
        seen.add(String(event.after.id))
      }
      const missing = ids.filter((r) => !seen.has(r.id))
      console.log(`shared state: ${ids.length} rows, ${messages.length} records read, ${missing.length} missing`)
      expect(missing, "rows missing from Kafka").toEqual([])
      // The resumed snapshot re-reads only the chunks delivered but not yet journaled at the kill:
      // the initial snapshot journals what was delivered every 200 ms, so one or two such windows
      // (thousands of rows under load), never the table again (that would be `seeded` more reads).
      console.log(`shared state: ${seeded} rows, kill -9 after ${chunksAtKill} journaled chunks; ` +
        `${reads} snapshot reads of them (${reads - seeded} again), ${messages.length} records`)
      expect(reads).toBeGreaterThanOrEqual(seeded)
      expect(reads - seeded).toBeLessThanOrEqual(seeded * 0.15)
    } finally {
      for (const cli of running) await cli.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 400_000)

  it("state migrate moves the state from the file journal into the table; the next run resumes from it", async () => {
    await pgQuery(db.url, "CREATE TABLE m (id int PRIMARY KEY)")
    await pgQuery(db.url, "INSERT INTO m SELECT generate_series(1, 100)")
    const config = writeRunConfig({
      dir: workDir,
      name: "migrate",
      url: db.url,
      streams: `[[streams]]\nname = "m"\ntables = ["m"]\ntopic = "PREFIX.m"`
    })
    const first = spawnCli(["run", "-c", config.file])
    await first.waitForLine(/streaming slot/, 60_000)
    // The running instance holds the state: show refuses rather than reading a moving journal.
    const held = await runCli(["state", "show", "-c", config.file])
    expect(held.code).toBe(1)
    expect(held.stderr).toMatch(/lock|held/)
    expect((await first.stop("SIGTERM", 20_000)).code).toBe(0)
    const fileState = JSON.parse((await runCli(["state", "show", "-c", config.file])).stdout) as {
      checkpoint: { lsn: string }
      snapshots: Record<string, { status: string; rows: number }>
    }
    expect(fileState.snapshots["public.m"]).toMatchObject({ status: "done", rows: 100 })

    writeFileSync(config.file, readFileSync(config.file, "utf8").replace(/(\[state\]\n)/, `$1backend = "postgres"\n`))
    const same = await runCli(["state", "migrate", "--from", "postgres", "-c", config.file])
    expect(same.code).toBe(2)
    const migrated = await runCli(["state", "migrate", "--from", "file", "-c", config.file])
    expect(migrated.stderr).toBe("")
    expect(migrated.code).toBe(0)
    expect(migrated.stdout).toMatch(new RegExp(`checkpoint ${fileState.checkpoint.lsn.replace("/", "\\/")}, 1 of 1 table snapshots done`))
    const tableState = JSON.parse((await runCli(["state", "show", "-c", config.file])).stdout) as typeof fileState & { location: string }
    expect(tableState.location).toMatch(/^postgres outboxx_state\.journal/)
    expect(tableState.checkpoint).toEqual(fileState.checkpoint)
    expect(tableState.snapshots).toEqual(fileState.snapshots)
    // A second migrate would overwrite: refused without --force.
    const again = await runCli(["state", "migrate", "--from", "file", "-c", config.file])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already holds state .* pass --force/)

    const second = spawnCli(["run", "-c", config.file])
    try {
      await second.waitForLine(/streaming slot/, 60_000)
      const report = await runCli(["check", "-c", config.file])
      expect(report.stdout).toMatch(/ok {3}state \(postgres\) \(outboxx_state\.journal exists; pipeline \S+: held by \S+ pid \d+\)/)
      await pgQuery(db.url, "INSERT INTO m VALUES (101)")
      const messages = await readTopic(`${config.prefix}.m`, { count: 101, idleMs: 3000, timeoutMs: 30_000 })
      expect(messages).toHaveLength(101)
      expect(second.stdout()).not.toMatch(/snapshotting it incrementally/)
      expect((await second.stop("SIGTERM", 20_000)).code).toBe(0)
    } finally {
      await second.stop("SIGKILL", 5_000).catch(() => {})
    }
  }, 180_000)
})
