/**
 * Cluster mode (docs/cluster.md): runner processes of the built CLI share six
 * pipelines over three databases through a control database, while writers
 * insert into every captured table. Each pipeline runs on exactly one runner;
 * kill -9 of a runner moves its pipelines to the others within 30 s; a runner
 * that joins takes a share; a rolling restart (SIGTERM, start again, one
 * runner at a time) hands every pipeline over gracefully. At the end every
 * inserted row is in its pipeline's topic; duplicates are counted, and each
 * takeover is timed.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type CliProcess,
  createTestDatabase,
  freePort,
  kafkaBrokers,
  pgAdminUrl,
  pgQuery,
  readTopic,
  runCli,
  spawnCli,
  type TestDatabase,
  uniqueName
} from "../support/servers.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface PipelineFixture {
  readonly name: string
  readonly slot: string
  readonly db: TestDatabase
  readonly table: string
  readonly topic: string
}

const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-cluster-"))
const pipelinesDir = path.join(workDir, "pipelines")
let control: TestDatabase
const databases: Array<TestDatabase> = []
const pipelines: Array<PipelineFixture> = []
const prefix = uniqueName("cluster")
const seeded = 5_000
const chunk = 500

beforeAll(async () => {
  mkdirSync(pipelinesDir)
  control = await createTestDatabase("clusterctl")
  for (let d = 0; d < 3; d++) {
    const db = await createTestDatabase(`cluster${d}`)
    databases.push(db)
    for (const table of ["a", "b"]) {
      await pgQuery(db.url, `CREATE TABLE ${table} (id bigserial PRIMARY KEY, v text NOT NULL)`)
      // Rows before any runner starts: the initial snapshot reads them once, wherever the pipeline moves later.
      await pgQuery(db.url, `INSERT INTO ${table} (v) SELECT 'seed-' || g FROM generate_series(1, ${seeded}) g`)
      const name = `p${d}${table}`
      const slot = uniqueName(name)
      const topic = `${prefix}.${name}`
      pipelines.push({ name, slot, db, table, topic })
      writeFileSync(
        path.join(pipelinesDir, `${name}.toml`),
        `
[postgres]
url = "${db.url}"
slot = "${slot}"
publication = "${slot}"
status_interval = "1s"
snapshot_chunk_size = ${chunk}
[kafka]
brokers = ${JSON.stringify([kafkaBrokers()[0]])}
[http]
listen = ""
[[streams]]
name = "${name}"
tables = ["${table}"]
topic = "${topic}"
`
      )
    }
  }
}, 120_000)

afterAll(async () => {
  for (const db of databases) await db.drop().catch(() => undefined)
  await control?.drop().catch(() => undefined)
})

const slotOf = (p: PipelineFixture) => p.slot
const addresses = new Map<string, string>()
const httpPorts = new Map<string, number>()
const runnerAddressOf = (runner: { readonly name: string }) => addresses.get(runner.name)!

interface BlackholeProxy {
  /** The control database's URL through the proxy. */
  readonly url: string
  /** Stops relaying in both directions without closing anything: a silent network partition. */
  readonly cut: () => void
  /** Relays again; connections from before the cut are reset (their bytes were lost). */
  readonly heal: () => void
  readonly close: () => Promise<void>
}

/** A TCP relay to the control database that a test can cut off. */
const blackholeProxy = async (target: URL): Promise<BlackholeProxy> => {
  let cut = false
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on("error", () => undefined)
      socket.on("close", () => {
        sockets.delete(socket)
        // A side closed during the cut stays silent to the other (nothing crosses a partition).
        if (!cut) (socket === client ? upstream : client).destroy()
      })
    }
    client.on("data", (data) => void (cut || upstream.write(data)))
    upstream.on("data", (data) => void (cut || client.write(data)))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = new URL(target)
  url.port = String((server.address() as net.AddressInfo).port)
  return {
    url: url.toString(),
    cut: () => void (cut = true),
    heal: () => {
      if (!cut) return
      cut = false
      for (const socket of sockets) socket.destroy()
    },
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  }
}

/** A runner file for one runner process; all of them share the control database and the pipelines. */
const runnerFile = async (name: string, controlUrl = control.url): Promise<string> => {
  const port = await freePort()
  addresses.set(name, `127.0.0.1:${port}`)
  const httpPort = await freePort()
  httpPorts.set(name, httpPort)
  const file = path.join(workDir, `${name}.toml`)
  writeFileSync(
    file,
    `
[cluster]
url = "${controlUrl}"
runner = "127.0.0.1:${port}"
pipelines = "pipelines"
lock_expiration = "10s"
[http]
listen = "127.0.0.1:${httpPort}"
[log]
level = "info"
`
  )
  return file
}

/** Inserts into both tables of a database, one row per transaction, until stopped. */
const writer = (db: TestDatabase) => {
  let on = true
  const written = { a: 0, b: 0 }
  const done = (async () => {
    while (on) {
      for (const table of ["a", "b"] as const) {
        await pgQuery(db.url, `INSERT INTO ${table} (v) VALUES ('live')`).then(() => written[table]++, () => undefined)
      }
      await sleep(20)
    }
  })()
  return { stop: async () => ((on = false), await done, written) }
}

interface Runner {
  readonly name: string
  readonly process: CliProcess
}

const startPattern = /pipeline (\S+) starts on runner/
const leavePattern = /pipeline (\S+) leaves runner/

/** The pipelines a runner runs now, from its log: started and not left since. */
const runningOn = (runner: Runner): Set<string> => {
  const owned = new Set<string>()
  for (const line of runner.process.stdout().split("\n")) {
    const started = startPattern.exec(line)
    if (started !== null) owned.add(started[1]!)
    const left = leavePattern.exec(line)
    if (left !== null) owned.delete(left[1]!)
  }
  return owned
}

const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** Every pipeline runs on exactly one live runner. */
const spreadOf = (runners: ReadonlyArray<Runner>): Map<string, Array<string>> => {
  const owners = new Map<string, Array<string>>(pipelines.map((p) => [p.name, []]))
  for (const runner of runners) for (const p of runningOn(runner)) owners.get(p)?.push(runner.name)
  return owners
}
/** How many shard locks a runner holds: effect/cluster's advisory locks, on its sessions to the control database. */
const shardsOf = async (runner: Runner): Promise<number> =>
  Number((await pgQuery<{ n: string }>(
    control.url,
    `SELECT count(*)::text AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
      WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1`,
    [`outboxx cluster runner ${runnerAddressOf(runner)}`]
  ))[0]!.n)

const eachOnOne = (runners: ReadonlyArray<Runner>) => [...spreadOf(runners).values()].every((o) => o.length === 1)

/** Each pipeline on one runner, and no move for 5 s (runners that join take their shards over a few seconds). */
const waitSettled = async (what: string, runners: ReadonlyArray<Runner>, timeoutMs: number) => {
  let last = ""
  let since = Date.now()
  await waitUntil(what, () => {
    const now = JSON.stringify([...spreadOf(runners)])
    if (now !== last || !eachOnOne(runners)) {
      last = now
      since = Date.now()
      return false
    }
    return Date.now() - since >= 5_000
  }, timeoutMs)
}

/** Every row of every table is in its pipeline's topic; prints the duplicates. */
const expectAllDelivered = async () => {
  let duplicates = 0
  for (const p of pipelines) {
    const ids = (await pgQuery<{ id: string }>(p.db.url, `SELECT id::text AS id FROM ${p.table}`)).map((r) => r.id)
    const messages = await readTopic(p.topic, { idleMs: 5_000, timeoutMs: 120_000 })
    const seen = new Map<string, number>()
    let reads = 0
    for (const m of messages) {
      if (m.value === null) continue
      const event = JSON.parse(m.value) as { op: string; after: { id: number } }
      if (event.op === "r") reads++
      const id = String(event.after.id)
      seen.set(id, (seen.get(id) ?? 0) + 1)
    }
    const missing = ids.filter((id) => !seen.has(id))
    expect(missing, `${p.name}: rows missing from ${p.topic}`).toEqual([])
    // One initial snapshot per pipeline, however often it moved: a move mid-snapshot re-reads at most its open chunks.
    expect(reads, `${p.name}: snapshot reads`).toBeGreaterThanOrEqual(seeded)
    expect(reads, `${p.name}: snapshot reads`).toBeLessThanOrEqual(seeded + 4 * chunk)
    duplicates += messages.length - seen.size
    console.log(`${p.name}: ${ids.length} rows, ${messages.length} messages (${reads} snapshot reads), ${messages.length - seen.size} duplicates`)
  }
  console.log(`duplicates over all pipelines: ${duplicates}`)
}

/**
 * One runner loses the cluster while it streams: frozen (SIGSTOP, then SIGCONT
 * after 60 s) or cut off from the control database (a proxy that stops
 * relaying, for 40 s; its databases and Kafka stay reachable). Its pipelines
 * must move to the others, and the slots' readers, sampled every 200 ms, must
 * never go back to it unless it started the pipeline anew.
 */
const fenceScenario = async (how: "freeze" | "cut") => {
  const live: Array<Runner> = []
  const proxies = new Map<string, BlackholeProxy>()
  const start = async (name: string) => {
    const proxy = await blackholeProxy(new URL(control.url))
    proxies.set(name, proxy)
    const runner = { name, process: spawnCli(["run", "-c", await runnerFile(name, proxy.url)]) }
    live.push(runner)
    return runner
  }
  const writers = databases.map(writer)
  const slots = new Map(pipelines.map((p) => [slotOf(p), p.name]))
  /** Per slot, the readers seen (pg_stat_replication's application_name), in order, with the frozen runner's start count then. */
  const readers = new Map<string, Array<{ reader: string; frozenStarts: number }>>()
  let sampling = true
  let frozen: Runner | undefined
  const startsOf = (runner: Runner, pipeline: string) =>
    runner.process.stdout().split("\n").filter((l) => startPattern.exec(l)?.[1] === pipeline).length
  const sampler = (async () => {
    while (sampling) {
      const rows = await pgQuery<{ slot_name: string; reader: string | null }>(
        pgAdminUrl(),
        `SELECT s.slot_name, r.application_name AS reader
         FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
         WHERE s.slot_name = ANY($1)`,
        [[...slots.keys()]]
      ).catch(() => [])
      for (const row of rows) {
        if (row.reader === null) continue
        const seen = readers.get(row.slot_name) ?? []
        if (seen.at(-1)?.reader !== row.reader) {
          const pipeline = slots.get(row.slot_name)!
          seen.push({ reader: row.reader, frozenStarts: frozen === undefined ? 0 : startsOf(frozen, pipeline) })
        }
        readers.set(row.slot_name, seen)
      }
      await sleep(200)
    }
  })()
  try {
    await start("s1")
    await start("s2")
    await start("s3")
    await waitSettled("every pipeline settled on one runner", live, 90_000)

    const victim = [...live].sort((a, b) => runningOn(b).size - runningOn(a).size)[0]!
    const held = runningOn(victim)
    expect(held.size).toBeGreaterThan(0)
    frozen = victim
    const startsBefore = new Map([...held].map((p) => [p, startsOf(victim, p)]))
    if (how === "freeze") victim.process.signal("SIGSTOP")
    else proxies.get(victim.name)!.cut()
    const stoppedAt = Date.now()
    const others = live.filter((r) => r !== victim)
    await waitUntil("the frozen runner's pipelines on the others", () => [...held].every((p) => others.some((r) => runningOn(r).has(p))), 60_000)
    const takeoverS = (Date.now() - stoppedAt) / 1000
    console.log(`${how === "freeze" ? "SIGSTOP" : "cut off"}: ${[...held].join(", ")} resumed on the other runners after ${takeoverS.toFixed(1)} s`)
    await sleep(Math.max(0, (how === "freeze" ? 60_000 : 40_000) - (Date.now() - stoppedAt)))
    if (how === "freeze") victim.process.signal("SIGCONT")
    else proxies.get(victim.name)!.heal()
    // The resumed runner gives up what it held before the freeze.
    await waitUntil(
      "the resumed runner to stop its old pipelines",
      () => [...held].every((p) => !runningOn(victim).has(p) || startsOf(victim, p) > startsBefore.get(p)!),
      60_000
    )
    await waitUntil("every pipeline on one runner after SIGCONT", () => eachOnOne(live), 60_000)
    await sleep(5_000)
    for (const [slot, seen] of readers) {
      const pipeline = slots.get(slot)!
      if (!held.has(pipeline)) continue
      const frozenName = `outboxx ${runnerAddressOf(victim)}`
      const replaced = seen.findIndex((s, i) => i > 0 && seen[i - 1]!.reader === frozenName && s.reader !== frozenName)
      expect(replaced, `${pipeline}: the slot was taken over`).toBeGreaterThan(0)
      // After the takeover the frozen runner reads the slot again only after it started the pipeline anew.
      for (const s of seen.slice(replaced)) {
        if (s.reader === frozenName) expect(s.frozenStarts, `${pipeline}: read by the resumed runner without a new start`).toBeGreaterThan(startsBefore.get(pipeline)!)
      }
      console.log(`${pipeline}: readers ${seen.map((s) => s.reader.replace("outboxx ", "")).join(" -> ")}`)
    }
  } finally {
    sampling = false
    await sampler
    const written = await Promise.all(writers.map((w) => w.stop()))
    console.log(`rows written: ${JSON.stringify(written)}`)
    await sleep(5_000)
    for (const proxy of proxies.values()) proxy.heal()
    for (const runner of live) {
      runner.process.signal("SIGCONT")
      await runner.process.stop("SIGTERM", 30_000)
    }
    for (const proxy of proxies.values()) await proxy.close()
  }
  await expectAllDelivered()
}

describe("cluster mode", () => {
  it("spreads six pipelines over three runners, moves them on kill -9, a join and a rolling restart, and loses nothing", async () => {
    const live: Array<Runner> = []
    const all: Array<Runner> = []
    const start = async (name: string) => {
      const runner = { name, process: spawnCli(["run", "-c", await runnerFile(name)]) }
      live.push(runner)
      all.push(runner)
      return runner
    }
    const writers = databases.map(writer)
    try {
      await start("r1")
      await start("r2")
      await start("r3")
      await waitSettled("every pipeline settled on one runner", live, 90_000)

      // `outboxx cluster status` says what the logs say: each pipeline streaming on its runner.
      type Report = {
        runners: Array<{ address: string; healthy: boolean; pipelines: Array<string> }>
        pipelines: Array<{ name: string; runner: string | null; state: string; lagBytes: number | null }>
      }
      let report: Report | undefined
      await waitUntil("cluster status to show every pipeline streaming", async () => {
        const status = await runCli(["cluster", "status", "--json", "-c", path.join(workDir, "r1.toml")])
        expect(status.code, status.stderr).toBe(0)
        report = JSON.parse(status.stdout) as Report
        return report.pipelines.every((p) => p.state === "streaming")
      }, 60_000)
      expect(report!.runners.map((r) => r.address).sort()).toEqual(live.map(runnerAddressOf).sort())
      for (const p of report!.pipelines) {
        const owner = live.find((r) => runningOn(r).has(p.name))!
        expect(p.runner, p.name).toBe(runnerAddressOf(owner))
        expect(p.state, p.name).toBe("streaming")
        expect(p.lagBytes, p.name).not.toBeNull()
      }
      // Each runner's endpoints: its pipelines in /status, labelled series in /metrics, ready.
      for (const runner of live) {
        const base = `http://127.0.0.1:${httpPorts.get(runner.name)}`
        const own = [...runningOn(runner)].sort()
        const runnerStatus = (await (await fetch(`${base}/status`)).json()) as { runner: string; pipelines: Record<string, unknown> }
        expect(runnerStatus.runner).toBe(runnerAddressOf(runner))
        expect(Object.keys(runnerStatus.pipelines).sort()).toEqual(own)
        await waitUntil(`${runner.name} ready`, async () => (await fetch(`${base}/readyz`)).status === 200, 30_000)
        const metrics = await (await fetch(`${base}/metrics`)).text()
        for (const name of own) {
          expect(metrics).toMatch(new RegExp(`outboxx_events_total\\{[^}]*pipeline="${name}"`))
          expect(metrics).toMatch(new RegExp(`outboxx_replication_lag_bytes\\{[^}]*pipeline="${name}"`))
        }
      }
      console.log(`cluster status:\n${(await runCli(["cluster", "status", "-c", path.join(workDir, "r1.toml")])).stdout}`)

      // kill -9 of the runner with the most pipelines: they resume elsewhere.
      const victim = [...live].sort((a, b) => runningOn(b).size - runningOn(a).size)[0]!
      const moved = runningOn(victim)
      expect(moved.size).toBeGreaterThan(0)
      victim.process.signal("SIGKILL")
      const killedAt = Date.now()
      live.splice(live.indexOf(victim), 1)
      await victim.process.exited
      await waitUntil("the killed runner's pipelines on the others", () => eachOnOne(live), 30_000)
      const takeoverS = (Date.now() - killedAt) / 1000
      console.log(`kill -9: ${[...moved].join(", ")} resumed on the other runners after ${takeoverS.toFixed(1)} s`)
      expect(takeoverS).toBeLessThan(30)
      await sleep(3_000)

      // A new runner joins: it takes a share of the shards (a pipeline goes where its shard does,
      // so with six pipelines the new runner may well own none of them).
      const joined = await start("r4")
      await waitUntil("the new runner to hold its share of the shards", async () => (await shardsOf(joined)) >= 30, 60_000)
      await waitSettled("every pipeline settled after the join", live, 90_000)
      console.log(`joined: r4 holds ${await shardsOf(joined)} of 300 shards and runs ${[...runningOn(joined)].join(", ") || "no pipeline"}`)
      await sleep(3_000)

      // Rolling restart: each runner stops (SIGTERM) and a fresh one starts in its place.
      for (const runner of [...live]) {
        const result = await runner.process.stop("SIGTERM", 30_000)
        expect(result.code).toBe(0)
        live.splice(live.indexOf(runner), 1)
        await start(`${runner.name}x`)
        await waitSettled("every pipeline settled after the restart", live, 90_000)
      }
      console.log(`spread at the end: ${JSON.stringify(Object.fromEntries(spreadOf(live)))}`)
    } finally {
      const written = await Promise.all(writers.map((w) => w.stop()))
      console.log(`rows written: ${JSON.stringify(written)}`)
      await sleep(5_000)
      for (const runner of live) await runner.process.stop("SIGTERM", 30_000)
      for (const runner of all) writeFileSync(path.join(workDir, `${runner.name}.log`), runner.process.stdout() + runner.process.stderr())
      console.log(`runner logs in ${workDir}`)
    }
    for (const runner of all) {
      const out = runner.process.stdout() + runner.process.stderr()
      expect(out, runner.name).not.toMatch(/"level":"(ERROR|FATAL)"/)
    }

    await expectAllDelivered()
  }, 600_000)

  it("takes the pipelines of a runner frozen for 60 s (SIGSTOP), which stops them on SIGCONT; no slot is read by two runners", async () => {
    await fenceScenario("freeze")
  }, 600_000)

  it("takes the pipelines of a runner cut off from the control database for 40 s, and gives them up; no slot is read by two runners", async () => {
    await fenceScenario("cut")
  }, 600_000)

  it("splits a hot table's pipeline into three shards (shards = 3): each row in exactly one shard, each key in order", async () => {
    const db = await createTestDatabase("clustershard")
    databases.push(db)
    await pgQuery(db.url, "CREATE TABLE hot (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0, v text NOT NULL)")
    await pgQuery(db.url, "INSERT INTO hot (id, v) SELECT g, 'seed' FROM generate_series(1, 3000) g")
    const dir = path.join(workDir, "pipelines-sharded")
    mkdirSync(dir)
    const slot = uniqueName("hot")
    const topic = `${prefix}.hot`
    writeFileSync(
      path.join(dir, "hot.toml"),
      `
[postgres]
url = "${db.url}"
slot = "${slot}"
publication = "${slot}"
status_interval = "1s"
snapshot_chunk_size = 200
shards = 3
[kafka]
brokers = ${JSON.stringify([kafkaBrokers()[0]])}
[[streams]]
name = "hot"
tables = ["hot"]
topic = "${topic}"
`
    )
    // Outside cluster mode the same file is refused: a shard runs only as a cluster pipeline.
    const alone = await runCli(["run", "-c", path.join(dir, "hot.toml")])
    expect(alone.code).toBe(2)
    expect(alone.stderr).toContain("postgres.shards: expected 1 outside cluster mode, found 3")
    const live: Array<Runner> = []
    for (const name of ["h1", "h2"]) {
      const file = await runnerFile(name)
      writeFileSync(file, readFileSync(file, "utf8").replace(`pipelines = "pipelines"`, `pipelines = "pipelines-sharded"`))
      live.push({ name, process: spawnCli(["run", "-c", file]) })
    }
    // Writers: new rows, and updates that count up per key (n), so each key's events must show n rising.
    let on = true
    let nextId = 3001
    const writing = (async () => {
      while (on) {
        await pgQuery(db.url, `INSERT INTO hot (id, v) VALUES (${nextId++}, 'live')`)
        await pgQuery(db.url, `UPDATE hot SET n = n + 1 WHERE id = ${1 + Math.floor(Math.random() * 50)}`)
        await sleep(10)
      }
    })()
    try {
      const shards = ["hot-s0", "hot-s1", "hot-s2"]
      await waitUntil("the three shards running", () => shards.every((p) => live.some((r) => runningOn(r).has(p))), 90_000)
      await sleep(8_000)
    } finally {
      on = false
      await writing
      await sleep(5_000)
      for (const runner of live) await runner.process.stop("SIGTERM", 30_000)
      for (const runner of live) writeFileSync(path.join(workDir, `${runner.name}.log`), runner.process.stdout() + runner.process.stderr())
    }
    const filters = await pgQuery<{ pubname: string; rowfilter: string | null }>(
      db.url,
      "SELECT pubname, rowfilter FROM pg_publication_tables WHERE pubname LIKE $1 ORDER BY pubname",
      [`${slot}_s%`]
    )
    expect(filters.map((f) => f.pubname)).toEqual([0, 1, 2].map((i) => `${slot}_s${i}`))
    for (const [i, f] of filters.entries()) expect(f.rowfilter).toMatch(new RegExp(`hashint8\\(id\\).*% 3.*= ${i}\\)?$`))

    const rows = await pgQuery<{ id: string; n: number }>(db.url, "SELECT id::text AS id, n FROM hot")
    const messages = await readTopic(topic, { idleMs: 5_000, timeoutMs: 120_000 })
    const reads = new Map<string, number>()
    const lastN = new Map<string, number>()
    let outOfOrder = 0
    for (const m of messages) {
      if (m.value === null) continue
      const event = JSON.parse(m.value) as { op: string; after: { id: number; n: number } }
      const id = String(event.after.id)
      if (event.op === "r") reads.set(id, (reads.get(id) ?? 0) + 1)
      const before = lastN.get(id)
      if (before !== undefined && event.after.n < before) outOfOrder++
      lastN.set(id, event.after.n)
    }
    // Every row, each key's last event carrying its final value, in order; the three snapshots read each seeded row once.
    expect(rows.filter((r) => lastN.get(r.id) !== r.n).map((r) => r.id)).toEqual([])
    expect(outOfOrder).toBe(0)
    for (let id = 1; id <= 3000; id++) expect(reads.get(String(id)), `row ${id} snapshot reads`).toBe(1)
    console.log(`shards: ${rows.length} rows, ${messages.length} messages, ${[...reads.values()].length} snapshot reads`)
  }, 300_000)

  it("fences a frozen runner's exactly-once producer: a read_committed consumer sees every row once", async () => {
    const dir = path.join(workDir, "pipelines-eos")
    mkdirSync(dir)
    const eos = databases.slice(0, 2).map((db, i) => ({ db, name: `e${i}`, slot: uniqueName(`e${i}`), topic: `${prefix}.e${i}` }))
    for (const p of eos) {
      await pgQuery(p.db.url, "CREATE TABLE e (id bigserial PRIMARY KEY, v text NOT NULL)")
      writeFileSync(
        path.join(dir, `${p.name}.toml`),
        `
[postgres]
url = "${p.db.url}"
slot = "${p.slot}"
publication = "${p.slot}"
status_interval = "1s"
[kafka]
brokers = ${JSON.stringify([kafkaBrokers()[0]])}
delivery = "exactly-once"
[[streams]]
name = "${p.name}"
tables = ["e"]
topic = "${p.topic}"
`
      )
    }
    const live: Array<Runner> = []
    for (const name of ["x1", "x2", "x3"]) {
      const file = await runnerFile(name)
      writeFileSync(file, readFileSync(file, "utf8").replace(`pipelines = "pipelines"`, `pipelines = "pipelines-eos"`))
      live.push({ name, process: spawnCli(["run", "-c", file]) })
    }
    let on = true
    const writing = Promise.all(eos.map(async (p) => {
      while (on) {
        await pgQuery(p.db.url, "INSERT INTO e (v) VALUES ('live')")
        await sleep(10)
      }
    }))
    try {
      await waitUntil("both pipelines running", () => eos.every((p) => live.some((r) => runningOn(r).has(p.name))), 90_000)
      await sleep(5_000)
      const victim = live.find((r) => runningOn(r).has("e0"))!
      victim.process.signal("SIGSTOP")
      const stoppedAt = Date.now()
      await waitUntil("e0 on another runner", () => live.some((r) => r !== victim && runningOn(r).has("e0")), 60_000)
      console.log(`exactly-once, SIGSTOP: e0 resumed on another runner after ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s`)
      await sleep(Math.max(0, 30_000 - (Date.now() - stoppedAt)))
      victim.process.signal("SIGCONT")
      await sleep(10_000)
    } finally {
      on = false
      await writing
      await sleep(5_000)
      for (const runner of live) {
        runner.process.signal("SIGCONT")
        await runner.process.stop("SIGTERM", 30_000)
      }
    }
    for (const p of eos) {
      const ids = (await pgQuery<{ id: string }>(p.db.url, "SELECT id::text AS id FROM e")).map((r) => r.id)
      const messages = await readTopic(p.topic, { idleMs: 5_000, timeoutMs: 120_000 })
      const seen = messages.filter((m) => m.value !== null).map((m) => String((JSON.parse(m.value!) as { after: { id: number } }).after.id))
      expect(new Set(seen).size, `${p.name}: distinct rows`).toBe(ids.length)
      expect(seen.length, `${p.name}: messages (each row once)`).toBe(ids.length)
      console.log(`exactly-once ${p.name}: ${ids.length} rows, ${seen.length} committed messages`)
    }
  }, 300_000)
})
