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
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type CliProcess,
  createTestDatabase,
  freePort,
  kafkaBrokers,
  pgQuery,
  readTopic,
  spawnCli,
  type TestDatabase,
  uniqueName
} from "../support/servers.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface PipelineFixture {
  readonly name: string
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

beforeAll(async () => {
  mkdirSync(pipelinesDir)
  control = await createTestDatabase("clusterctl")
  for (let d = 0; d < 3; d++) {
    const db = await createTestDatabase(`cluster${d}`)
    databases.push(db)
    for (const table of ["a", "b"]) {
      await pgQuery(db.url, `CREATE TABLE ${table} (id bigserial PRIMARY KEY, v text NOT NULL)`)
      const name = `p${d}${table}`
      const slot = uniqueName(name)
      const topic = `${prefix}.${name}`
      pipelines.push({ name, db, table, topic })
      writeFileSync(
        path.join(pipelinesDir, `${name}.toml`),
        `
[postgres]
url = "${db.url}"
slot = "${slot}"
publication = "${slot}"
status_interval = "1s"
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

/** A runner file for one runner process; all of them share the control database and the pipelines. */
const runnerFile = async (name: string): Promise<string> => {
  const port = await freePort()
  const file = path.join(workDir, `${name}.toml`)
  writeFileSync(
    file,
    `
[cluster]
url = "${control.url}"
runner = "127.0.0.1:${port}"
pipelines = "pipelines"
lock_expiration = "10s"
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

const startPattern = /pipeline (p\d[ab]) starts on runner/
const leavePattern = /pipeline (p\d[ab]) leaves runner/

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
  for (const runner of runners) for (const p of runningOn(runner)) owners.get(p)!.push(runner.name)
  return owners
}
const eachOnOne = (runners: ReadonlyArray<Runner>) => [...spreadOf(runners).values()].every((o) => o.length === 1)

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
      await waitUntil("every pipeline on one runner", () => eachOnOne(live), 60_000)
      for (const runner of live) await runner.process.waitForLine(/streaming slot/, 60_000).catch(() => undefined)
      await sleep(3_000)

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

      // A new runner joins: it takes a share.
      const joined = await start("r4")
      await waitUntil("the new runner to take pipelines", () => runningOn(joined).size > 0 && eachOnOne(live), 60_000)
      await sleep(3_000)

      // Rolling restart: each runner stops (SIGTERM) and a fresh one starts in its place.
      for (const runner of [...live]) {
        const result = await runner.process.stop("SIGTERM", 30_000)
        expect(result.code).toBe(0)
        live.splice(live.indexOf(runner), 1)
        await start(`${runner.name}x`)
        await waitUntil("every pipeline on one runner after the restart", () => eachOnOne(live), 60_000)
        await sleep(2_000)
      }
      console.log(`spread at the end: ${JSON.stringify(Object.fromEntries(spreadOf(live)))}`)
    } finally {
      const written = await Promise.all(writers.map((w) => w.stop()))
      console.log(`rows written: ${JSON.stringify(written)}`)
      await sleep(5_000)
      for (const runner of live) await runner.process.stop("SIGTERM", 30_000)
    }
    for (const runner of all) {
      const out = runner.process.stdout() + runner.process.stderr()
      expect(out, runner.name).not.toMatch(/"level":"(ERROR|FATAL)"/)
    }

    let duplicates = 0
    for (const p of pipelines) {
      const ids = (await pgQuery<{ id: string }>(p.db.url, `SELECT id::text AS id FROM ${p.table}`)).map((r) => r.id)
      const messages = await readTopic(p.topic, { idleMs: 5_000, timeoutMs: 120_000 })
      const seen = new Map<string, number>()
      for (const m of messages) {
        if (m.value === null) continue
        const id = String((JSON.parse(m.value) as { after: { id: number } }).after.id)
        seen.set(id, (seen.get(id) ?? 0) + 1)
      }
      const missing = ids.filter((id) => !seen.has(id))
      expect(missing, `${p.name}: rows missing from ${p.topic}`).toEqual([])
      duplicates += messages.length - seen.size
      console.log(`${p.name}: ${ids.length} rows, ${messages.length} messages, ${messages.length - seen.size} duplicates`)
    }
    console.log(`duplicates over all pipelines: ${duplicates}`)
  }, 600_000)
})
