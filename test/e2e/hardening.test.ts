/**
 * The built CLI against the real servers on the setups where a CDC tool
 * first loses changes or breaks the application (issue 13): partitioned
 * tables, two pipelines configured with one publication name, tables without
 * a usable replica identity.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  createTestDatabase,
  deleteTopic,
  pgQuery,
  readTopic,
  runCli,
  spawnCli,
  type TestDatabase,
  topicExists,
  type TopicMessage,
  uniqueName
} from "../support/servers.js"
import { writeRunConfig } from "../support/runConfig.js"

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-hardening-"))

beforeAll(async () => {
  db = await createTestDatabase("e2e_hardening")
})
afterAll(async () => {
  await db?.drop()
})

const parse = (m: TopicMessage) => ({
  key: m.key === null ? null : JSON.parse(m.key),
  value: m.value === null ? null : JSON.parse(m.value)
})

/** A configuration capturing one table into `PREFIX.<table>`, with `extra` stream keys. */
const oneTableConfig = (name: string, table: string, extra = "", stream = "s") =>
  writeRunConfig({
    dir: workDir,
    name,
    url: db.url,
    streams: `[[streams]]\nname = "${stream}"\ntables = ["${table}"]\ntopic = "PREFIX.{table}"\n${extra}`
  })

const startRun = async (file: string) => {
  const cli = spawnCli(["run", "-c", file])
  await cli.waitForLine(/streaming slot/, 60_000)
  return cli
}

const publicationTables = async (name: string) =>
  (await pgQuery<{ t: string }>(
    db.url,
    `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
    [name]
  )).map((r) => r.t)

describe("partitioned tables", () => {
  it("snapshots every partition and streams changes made through any partition under the parent's name, following attach and detach", async () => {
    await pgQuery(db.url, `
      CREATE TABLE public.measures (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
      CREATE TABLE public.measures_eu PARTITION OF public.measures FOR VALUES IN ('eu');
      CREATE TABLE public.measures_us PARTITION OF public.measures FOR VALUES IN ('us')
        PARTITION BY HASH (id);
      CREATE TABLE public.measures_us_0 PARTITION OF public.measures_us FOR VALUES WITH (MODULUS 2, REMAINDER 0);
      CREATE TABLE public.measures_us_1 PARTITION OF public.measures_us FOR VALUES WITH (MODULUS 2, REMAINDER 1);
      INSERT INTO public.measures VALUES (1, 'eu', 10), (2, 'us', 20), (3, 'us', 30);
      -- keyless partitioned table: the snapshot reads it in ctid ranges over its partitions
      CREATE TABLE public.readings (at int, v int) PARTITION BY RANGE (at);
      CREATE TABLE public.readings_a PARTITION OF public.readings FOR VALUES FROM (0) TO (100);
      CREATE TABLE public.readings_b PARTITION OF public.readings FOR VALUES FROM (100) TO (200);
      ALTER TABLE public.readings_a REPLICA IDENTITY FULL;
      ALTER TABLE public.readings_b REPLICA IDENTITY FULL;
      INSERT INTO public.readings SELECT g, g FROM generate_series(0, 199) g;
    `)
    const { file, prefix, slot } = writeRunConfig({
      dir: workDir,
      name: "parts",
      url: db.url,
      streams: `
[[streams]]
name = "measures"
tables = ["measures"]
topic = "PREFIX.{table}"
[[streams]]
name = "readings"
tables = ["readings"]
topic = "PREFIX.{table}"
operations = ["insert"]
`
    })
    const cli = await startRun(file)
    const pub = await pgQuery<{ pubviaroot: boolean }>(db.url, `SELECT pubviaroot FROM pg_publication WHERE pubname = $1`, [slot])
    expect(pub[0]!.pubviaroot).toBe(true)
    await pgQuery(db.url, `
      INSERT INTO public.measures VALUES (4, 'eu', 40), (5, 'us', 50);
      UPDATE public.measures SET v = 21 WHERE id = 2;
      UPDATE public.measures SET region = 'eu' WHERE id = 3;   -- moves the row to another partition
      DELETE FROM public.measures WHERE id = 1;
      CREATE TABLE public.measures_asia (id int, region text, v int, PRIMARY KEY (id, region));
      ALTER TABLE public.measures ATTACH PARTITION public.measures_asia FOR VALUES IN ('asia');
      INSERT INTO public.measures VALUES (6, 'asia', 60);
      ALTER TABLE public.measures DETACH PARTITION public.measures_eu;
      INSERT INTO public.measures_eu VALUES (7, 'eu', 70);     -- no longer part of measures
      INSERT INTO public.measures VALUES (8, 'us', 80);
      INSERT INTO public.readings VALUES (150, 1);
    `)
    // snapshot r r r; c c; u; d + tombstone + c (moved); d + tombstone; c (asia); c (8) = 13
    const events = (await readTopic(`${prefix}.measures`, { count: 13, timeoutMs: 60_000 })).map(parse)
    const readings = (await readTopic(`${prefix}.readings`, { count: 201, timeoutMs: 60_000 })).map(parse)
    const result = await cli.stop("SIGTERM", 15_000)
    expect(result.code).toBe(0)

    expect(events.slice(0, 3).map((e) => e.value.op)).toEqual(["r", "r", "r"])
    expect(events.slice(0, 3).map((e) => e.key.id).sort()).toEqual([1, 2, 3])
    const streamed = events.slice(3)
    expect(streamed.map((e) => e.value === null ? `tomb ${e.key.id}` : `${e.value.op} ${(e.value.after ?? e.value.before).id}`))
      .toEqual(["c 4", "c 5", "u 2", "d 3", "tomb 3", "c 3", "d 1", "tomb 1", "c 6", "c 8"])
    for (const e of events) {
      if (e.value !== null) expect(e.value.source).toMatchObject({ schema: "public", table: "measures" })
    }
    expect(streamed[5]!.value.after).toEqual({ id: 3, region: "eu", v: 30 })
    expect(streamed[5]!.key).toEqual({ id: 3, region: "eu" })
    // 200 snapshot rows of both partitions, then the streamed insert; nothing of the detached partition.
    expect(readings.filter((e) => e.value.op === "r")).toHaveLength(200)
    expect(new Set(readings.filter((e) => e.value.op === "r").map((e) => e.value.after.at)).size).toBe(200)
    expect(readings[200]!.value).toMatchObject({ op: "c", after: { at: 150, v: 1 }, source: { table: "readings" } })
    expect((await readTopic(`${prefix}.measures`, { count: 14, timeoutMs: 3_000 }).catch(() => [])).length).toBeLessThan(14)
  })

  it("refuses a partition named beside its parent, and an existing publication without publish_via_partition_root", async () => {
    await pgQuery(db.url, `
      CREATE TABLE public.logs (id int PRIMARY KEY) PARTITION BY RANGE (id);
      CREATE TABLE public.logs_1 PARTITION OF public.logs FOR VALUES FROM (0) TO (1000);
    `)
    const both = writeRunConfig({
      dir: workDir,
      name: "partboth",
      url: db.url,
      streams: `[[streams]]\nname = "logs"\ntables = ["logs", "logs_1"]\ntopic = "PREFIX.{table}"\n`
    })
    const refused = await runCli(["run", "-c", both.file], { timeoutMs: 60_000 })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`"public"."logs_1" is a partition of "public"."logs"`)
    expect(await publicationTables(both.slot)).toEqual([])
    const slots = await pgQuery(db.url, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [both.slot])
    expect(slots).toHaveLength(0)

    await pgQuery(db.url, `CREATE PUBLICATION logs_pub FOR TABLE public.logs`)
    const existing = writeRunConfig({
      dir: workDir,
      name: "partexisting",
      url: db.url,
      postgres: `publication_mode = "existing"`,
      streams: `[[streams]]\nname = "logs"\ntables = ["logs"]\ntopic = "PREFIX.{table}"\n`
    })
    const file = existing.file
    const { readFileSync, writeFileSync } = await import("node:fs")
    writeFileSync(file, readFileSync(file, "utf8").replace(`publication = "${existing.slot}"`, `publication = "logs_pub"`))
    const check = await runCli(["check", "-c", file], { timeoutMs: 60_000 })
    expect(check.code).toBe(1)
    expect(check.stdout).toContain("publish_via_partition_root = false")
    expect(check.stdout).toContain(`ALTER PUBLICATION "logs_pub" SET (publish_via_partition_root = true)`)
    const run = await runCli(["run", "-c", file], { timeoutMs: 60_000 })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`"public"."logs" is a partitioned table`)
  })
})

describe("a partition captured on its own", () => {
  it("streams the partition's changes under its own name when its parent is not captured", async () => {
    await pgQuery(db.url, `
      CREATE TABLE public.shards (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
      CREATE TABLE public.shards_low PARTITION OF public.shards FOR VALUES FROM (0) TO (100);
      CREATE TABLE public.shards_high PARTITION OF public.shards FOR VALUES FROM (100) TO (200);
    `)
    const config = oneTableConfig("shardlow", "shards_low")
    const cli = await startRun(config.file)
    await pgQuery(db.url, `INSERT INTO public.shards VALUES (1, 'low'), (150, 'high'); UPDATE public.shards SET v = 'low2' WHERE id = 1`)
    const events = (await readTopic(`${config.prefix}.shards_low`, { count: 2, timeoutMs: 30_000 })).map(parse)
    expect(events.map((e) => [e.value.op, e.value.after, e.value.source.table])).toEqual([
      ["c", { id: 1, v: "low" }, "shards_low"],
      ["u", { id: 1, v: "low2" }, "shards_low"]
    ])
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
  })
})

describe("one publication, one owner", () => {
  it("refuses a second pipeline on another slot's publication; the first keeps every change and slot drop spares it", async () => {
    await pgQuery(db.url, `
      CREATE TABLE public.accounts (id int PRIMARY KEY, v int);
      CREATE TABLE public.payments (id int PRIMARY KEY, v int);
    `)
    const first = oneTableConfig("owner_a", "accounts", "", "accounts")
    const second = oneTableConfig("owner_b", "payments", "", "payments")
    const { readFileSync, writeFileSync } = await import("node:fs")
    // The second pipeline names the first's publication (a copied config).
    writeFileSync(second.file, readFileSync(second.file, "utf8").replace(`publication = "${second.slot}"`, `publication = "${first.slot}"`))
    const cli = await startRun(first.file)

    const check = await runCli(["check", "-c", second.file], { timeoutMs: 60_000 })
    expect(check.code).toBe(1)
    expect(check.stdout).toMatch(new RegExp(`FAIL\\s+publication "${first.slot}".*belongs to the pipeline of slot "${first.slot}"`))
    const run = await runCli(["run", "-c", second.file], { timeoutMs: 60_000 })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`belongs to the pipeline of slot "${first.slot}"`)
    expect(await publicationTables(first.slot)).toEqual(["public.accounts"])
    const drop = await runCli(["slot", "drop", "--yes", "-c", second.file], { timeoutMs: 60_000 })
    expect(drop.code).toBe(0)
    expect(drop.stdout).toContain(`kept publication "${first.slot}" (it belongs to the pipeline of slot "${first.slot}")`)

    await pgQuery(db.url, `INSERT INTO public.accounts VALUES (1, 1); UPDATE public.accounts SET v = 2`)
    const events = (await readTopic(`${first.prefix}.accounts`, { count: 2, timeoutMs: 30_000 })).map(parse)
    expect(events.map((e) => e.value.op)).toEqual(["c", "u"])
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    const dropFirst = await runCli(["slot", "drop", "--yes", "-c", first.file], { timeoutMs: 60_000 })
    expect(dropFirst.stdout).toContain(`dropped publication "${first.slot}" (created by outboxx for this slot)`)
  })
})

describe("replica identity guard", () => {
  it("run and tail refuse to publish updates of a table without a replica identity; the application's writes keep working", async () => {
    await pgQuery(db.url, `CREATE TABLE public.events_nokey (at timestamptz DEFAULT now(), body text); INSERT INTO public.events_nokey (body) VALUES ('x')`)
    const config = oneTableConfig("nokey", "events_nokey", "", "ev")
    for (const command of ["run", "tail"]) {
      const result = await runCli([command, "-c", config.file], { timeoutMs: 60_000 })
      expect(result.code, command).toBe(2)
      expect(result.stderr).toContain(`"public"."events_nokey" has no usable replica identity`)
      expect(result.stderr).toContain(`ALTER TABLE "public"."events_nokey" REPLICA IDENTITY FULL`)
      // Nothing left behind that changes what the application may do.
      expect(await pgQuery(db.url, `SELECT 1 FROM pg_publication WHERE pubname = $1`, [config.slot])).toHaveLength(0)
      await pgQuery(db.url, `UPDATE public.events_nokey SET body = 'y'; DELETE FROM public.events_nokey WHERE body = 'z'`)
    }

    // Insert-only capture publishes no updates: it runs, and the application's UPDATE/DELETE still work.
    config.rewrite(`[[streams]]\nname = "ev"\ntables = ["events_nokey"]\ntopic = "PREFIX.{table}"\noperations = ["insert"]\n`)
    const cli = await startRun(config.file)
    await pgQuery(db.url, `INSERT INTO public.events_nokey (body) VALUES ('new'); UPDATE public.events_nokey SET body = 'w'; DELETE FROM public.events_nokey`)
    const events = (await readTopic(`${config.prefix}.events_nokey`, { count: 2, timeoutMs: 30_000 })).map(parse)
    expect(events.map((e) => e.value.op)).toEqual(["r", "c"])
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
  })

  it("tail drops the publication it created when it stops", async () => {
    await pgQuery(db.url, `CREATE TABLE public.tailed (id int PRIMARY KEY)`)
    const config = oneTableConfig("tailpub", "tailed", "", "t")
    const tail = spawnCli(["tail", "-c", config.file])
    await tail.waitForLine(/streaming slot/, 60_000)
    expect(await pgQuery(db.url, `SELECT 1 FROM pg_publication WHERE pubname = $1`, [config.slot])).toHaveLength(1)
    expect((await tail.stop("SIGTERM", 15_000)).code).toBe(0)
    expect(await pgQuery(db.url, `SELECT 1 FROM pg_publication WHERE pubname = $1`, [config.slot])).toHaveLength(0)
  })
})

describe("signals", () => {
  it("refuses a snapshot signal written by a role without the signal key, and serves outboxx snapshot's", async () => {
    await pgQuery(db.url, `CREATE TABLE public.signalled (id int PRIMARY KEY, v text); INSERT INTO public.signalled VALUES (1, 'a'), (2, 'b')`)
    const role = uniqueName("mallory")
    await pgQuery(db.url, `CREATE ROLE ${role} LOGIN`)
    const config = oneTableConfig("signals", "signalled")
    const cli = await startRun(config.file)
    const initial = await readTopic(`${config.prefix}.signalled`, { count: 2, timeoutMs: 30_000 })
    expect(initial).toHaveLength(2)

    // An unprivileged role forges a request, with and without a made-up MAC.
    const forgedUrl = new URL(db.url)
    forgedUrl.username = role
    for (const mac of [undefined, "ab".repeat(32)]) {
      await pgQuery(forgedUrl.toString(), `SELECT pg_logical_emit_message(true, 'outboxx-signal', $1)`, [
        JSON.stringify({ type: "snapshot", slot: config.slot, tables: ["public.signalled"], requestedAt: new Date().toISOString(), mac })
      ])
    }
    await cli.waitForLine(/refused a snapshot signal at .* for public\.signalled/, 30_000)
    await pgQuery(db.url, `INSERT INTO public.signalled VALUES (3, 'c')`)
    const afterForgery = await readTopic(`${config.prefix}.signalled`, { count: 3, timeoutMs: 30_000 })
    expect(afterForgery.map((m) => JSON.parse(m.value!).op)).toEqual(["r", "r", "c"])

    // The operator's request, signed with the key in the state directory, is served.
    const request = await runCli(["snapshot", "--table", "public.signalled", "-c", config.file], { timeoutMs: 60_000 })
    expect(request.code, request.stderr).toBe(0)
    const all = await readTopic(`${config.prefix}.signalled`, { count: 6, timeoutMs: 60_000 })
    expect(all.map((m) => JSON.parse(m.value!).op)).toEqual(["r", "r", "c", "r", "r", "r"])
    expect(cli.stdout().split("\n").filter((l) => /refused a snapshot signal/.test(l))).toHaveLength(2)
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    await pgQuery(db.url, `DROP ROLE ${role}`)
  })
})

/** The child's peak resident set (VmHWM), in MB; undefined when /proc does not say. */
const peakRssMb = async (pid: number | undefined): Promise<number | undefined> => {
  if (pid === undefined) return undefined
  const { readFile } = await import("node:fs/promises")
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "")
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return match === null ? undefined : Math.round(Number(match[1]) / 1024)
}

describe("oversized changes", () => {
  it("a 100 MB change goes to the dead-letter topic with its reason and position; later changes flow", async () => {
    await pgQuery(db.url, `CREATE TABLE public.blobs (id int PRIMARY KEY, body text); ALTER TABLE public.blobs REPLICA IDENTITY FULL;
      ALTER TABLE public.blobs ALTER COLUMN body SET STORAGE EXTERNAL`)
    const config = oneTableConfig("huge", "blobs", `on_error = "dead_letter"\ndead_letter_topic = "PREFIX.dlq"\n`, "blobs")
    const cli = await startRun(config.file)
    // ~54 MB of text, then an update: before + after are ~109 MB in one change, more than a broker reads in one request.
    await pgQuery(db.url, `INSERT INTO public.blobs SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 1700000) g`)
    await pgQuery(db.url, `UPDATE public.blobs SET body = body || 'x' WHERE id = 1`)
    await pgQuery(db.url, `INSERT INTO public.blobs VALUES (2, 'small')`)
    const events = (await readTopic(`${config.prefix}.blobs`, { count: 1, timeoutMs: 120_000 })).map(parse)
    expect(events).toEqual([{ key: { id: 2 }, value: expect.objectContaining({ op: "c", after: { id: 2, body: "small" } }) }])
    const dead = (await readTopic(`${config.prefix}.dlq`, { count: 2, timeoutMs: 30_000 })).map((m) => JSON.parse(m.value!))
    expect(dead.map((d) => JSON.parse(d.value).op)).toEqual(["c", "u"])
    for (const letter of dead) {
      expect(letter).toMatchObject({ stream: "blobs", topic: `${config.prefix}.blobs`, key: `{"id":1}` })
      expect(letter.error).toMatch(/is at least \d+ bytes as an event; topic .* accepts at most \d+ \(its max\.message\.bytes/)
      // The change was never built: the dead letter says what it was, not a 100 MB copy of it.
      expect(JSON.parse(letter.value).oversized.bytes).toBeGreaterThan(30_000_000)
      expect(letter.position).toMatchObject({ xid: expect.any(Number), commitLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) })
    }
    console.log(`peak RSS of outboxx run with a 100 MB change: ${await peakRssMb(cli.child.pid)} MB`)
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
  })
})

describe("oversized changes without a dead-letter topic", () => {
  it("stop the stream with the size, the limit and the position, never retrying forever", async () => {
    await pgQuery(db.url, `CREATE TABLE public.bulky (id int PRIMARY KEY, body text)`)
    const config = oneTableConfig("bulky", "bulky")
    const cli = await startRun(config.file)
    await pgQuery(db.url, `INSERT INTO public.bulky SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 100000) g`)
    const result = await cli.exited
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/the "c" change at [0-9A-F]+\/[0-9A-F]+ \(xid \d+\) is at least \d+ bytes as an event; topic .*bulky accepts at most \d+/)
  })
})

describe("configuration that cannot work", () => {
  it("exits 2 before creating anything: a missing column, missing TLS files, zero durations, an unknown sslmode", async () => {
    await pgQuery(db.url, `CREATE TABLE public.configured (id int PRIMARY KEY, name text)`)
    const config = oneTableConfig("badcfg", "configured", `include_columns = ["id", "nmae"]\n`, "c")
    const column = await runCli(["run", "-c", config.file], { timeoutMs: 60_000 })
    expect(column.code).toBe(2)
    expect(column.stderr).toContain(`stream "c": include_columns names "nmae", which "public"."configured" does not have`)
    expect(await pgQuery(db.url, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [config.slot])).toHaveLength(0)
    expect(await pgQuery(db.url, `SELECT 1 FROM pg_publication WHERE pubname = $1`, [config.slot])).toHaveLength(0)

    const { readFileSync, writeFileSync } = await import("node:fs")
    const base = readFileSync(config.file, "utf8").replace(`include_columns = ["id", "nmae"]`, "")
    const cases: Array<[string, string, RegExp]> = [
      ["kafka TLS CA", base.replace("[state]", `[kafka.tls]\nca = "/nonexistent/ca.pem"\n[state]`), /kafka\.tls\.ca: file not found: \/nonexistent\/ca\.pem/],
      ["sslrootcert", base.replace(`/${db.name}"`, `/${db.name}?sslmode=verify-full&sslrootcert=/nonexistent/root.crt"`), /postgres\.url: sslrootcert: file not found: \/nonexistent\/root\.crt/],
      ["unknown sslmode", base.replace(`/${db.name}"`, `/${db.name}?sslmode=required"`), /expected sslmode to be one of disable, allow, prefer, require, verify-ca, verify-full/],
      ["zero liveness timeout", base.replace("[kafka]", `liveness_timeout = "0s"\n[kafka]`), /postgres\.liveness_timeout: expected a duration from 1s to 1d/]
    ]
    for (const [what, text, pattern] of cases) {
      writeFileSync(config.file, text)
      const result = await runCli(["run", "-c", config.file], { timeoutMs: 30_000 })
      expect(result.code, what).toBe(2)
      expect(result.stderr, what).toMatch(pattern)
    }
  })

  it("sslmode=prefer falls back to a plain connection when the server has no TLS, as libpq does", async () => {
    await pgQuery(db.url, `CREATE TABLE public.prefers (id int PRIMARY KEY)`)
    for (const mode of ["prefer", "allow"]) {
      const config = writeRunConfig({
        dir: workDir,
        name: `ssl_${mode}`,
        url: `${db.url}?sslmode=${mode}`,
        streams: `[[streams]]\nname = "p"\ntables = ["prefers"]\ntopic = "PREFIX.{table}"\n`
      })
      const cli = await startRun(config.file)
      await pgQuery(db.url, `INSERT INTO public.prefers VALUES (${mode === "prefer" ? 1 : 2})`)
      // allow's run also snapshots prefer's row
      const expected = mode === "prefer" ? 1 : 2
      expect((await readTopic(`${config.prefix}.prefers`, { count: expected, timeoutMs: 30_000 })).length).toBe(expected)
      expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    }
  })
})

describe("dropped tables and deleted topics", () => {
  it("a topic deleted while running is created again and the next changes arrive in it", async () => {
    await pgQuery(db.url, `CREATE TABLE public.retopic (id int PRIMARY KEY)`)
    const config = oneTableConfig("retopic", "retopic", "", "r")
    const topic = `${config.prefix}.retopic`
    const cli = await startRun(config.file)
    await pgQuery(db.url, `INSERT INTO public.retopic VALUES (1)`)
    expect(await readTopic(topic, { count: 1, timeoutMs: 30_000 })).toHaveLength(1)
    await deleteTopic(topic)
    for (let i = 0; i < 100 && (await topicExists(topic)); i++) await new Promise((r) => setTimeout(r, 100))
    await pgQuery(db.url, `INSERT INTO public.retopic VALUES (2)`)
    await cli.waitForLine(/created Kafka topics/, 60_000)
    const after = (await readTopic(topic, { count: 1, timeoutMs: 60_000 })).map(parse)
    expect(after.map((e) => e.key), cli.stdout().slice(-4000)).toEqual([{ id: 2 }])
    expect(cli.child.exitCode).toBeNull()
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
  })

  it("a captured table dropped while running: its changes up to the drop arrive, the drop is reported, the others flow, and the next start names it", async () => {
    await pgQuery(db.url, `CREATE TABLE public.doomed (id int PRIMARY KEY); CREATE TABLE public.survivor (id int PRIMARY KEY)`)
    const config = writeRunConfig({
      dir: workDir,
      name: "dropped",
      url: db.url,
      streams: `[[streams]]\nname = "d"\ntables = ["doomed", "survivor"]\ntopic = "PREFIX.{table}"\n`
    })
    const cli = await startRun(config.file)
    await pgQuery(db.url, `INSERT INTO public.doomed VALUES (1), (2); DROP TABLE public.doomed`)
    await cli.waitForLine(/captured table .*doomed.* \(stream .*d.*\) was dropped or renamed/, 30_000)
    await pgQuery(db.url, `INSERT INTO public.survivor VALUES (1)`)
    expect((await readTopic(`${config.prefix}.doomed`, { count: 2, timeoutMs: 30_000 })).map((m) => parse(m).key)).toEqual([{ id: 1 }, { id: 2 }])
    expect(await readTopic(`${config.prefix}.survivor`, { count: 1, timeoutMs: 30_000 })).toHaveLength(1)
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    const restart = await runCli(["run", "-c", config.file], { timeoutMs: 60_000 })
    expect(restart.code).toBe(2)
    expect(restart.stderr).toContain(`table "public"."doomed" does not exist`)
  })
})

describe("two instances with one configuration", () => {
  it("the second is told the first holds the state directory (pid and lock), not that the port is taken", async () => {
    await pgQuery(db.url, `CREATE TABLE public.twice (id int PRIMARY KEY)`)
    const config = oneTableConfig("twice", "twice", "", "t")
    const net = await import("node:net")
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number }
        server.close(() => resolve(port))
      })
    })
    const { readFileSync, writeFileSync } = await import("node:fs")
    writeFileSync(config.file, readFileSync(config.file, "utf8").replace(`listen = ""`, `listen = "127.0.0.1:${port}"`))
    const first = await startRun(config.file)
    const second = await runCli(["run", "-c", config.file], { timeoutMs: 60_000 })
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`outboxx is already running on this state directory (pid ${first.child.pid}, lock in ${config.stateDir})`)
    expect(second.stderr).not.toMatch(/EADDRINUSE/)
    expect((await first.stop("SIGTERM", 15_000)).code).toBe(0)
  })
})
