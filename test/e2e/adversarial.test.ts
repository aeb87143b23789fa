/**
 * The adversarial schema suite: the built CLI against the schemas real
 * databases have, each with the outcome a user should expect, asserted.
 * Nothing may be dropped silently: every table either streams every change
 * or is refused with a clear error (docs/reliability.md, "What Outboxx refuses").
 *
 * One daemon captures the tables that can be captured together (partitioned
 * in every way, inherited, keyless with each usable replica identity,
 * generated columns, 1,000 columns, large values, exotic types, odd names);
 * separate runs cover what has to be refused or needs its own pipeline, and
 * 1,000 tables in one configuration.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTestDatabase, pgQuery, readTopic, runCli, spawnCli, type TestDatabase, type TopicMessage } from "../support/servers.js"
import { writeRunConfig } from "../support/runConfig.js"

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-adversarial-"))

beforeAll(async () => {
  db = await createTestDatabase("e2e_adversarial")
})
afterAll(async () => {
  await db?.drop()
})

interface Event {
  readonly key: Record<string, unknown> | null
  readonly value: {
    readonly op: string
    readonly before: Record<string, unknown> | null
    readonly after: Record<string, unknown> | null
    readonly source: { readonly schema: string; readonly table: string }
  } | null
}

const parse = (m: TopicMessage): Event => ({
  key: m.key === null ? null : JSON.parse(m.key),
  value: m.value === null ? null : JSON.parse(m.value)
})

const startRun = async (file: string) => {
  const cli = spawnCli(["run", "-c", file])
  await cli.waitForLine(/streaming slot/, 120_000)
  return cli
}

const wideColumns = 1000

describe("adversarial schemas", () => {
  it("captures partitioned, inherited, keyless, generated, wide, large, exotic and oddly named tables as documented", async () => {
    const wide = Array.from({ length: wideColumns - 1 }, (_, i) => `c${i + 1} int`).join(", ")
    await pgQuery(db.url, `
      -- range, hash, and a list partitioned table whose partitions are range partitioned (two levels)
      CREATE TABLE adv_range (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
      CREATE TABLE adv_range_a PARTITION OF adv_range FOR VALUES FROM (MINVALUE) TO (100);
      CREATE TABLE adv_range_b PARTITION OF adv_range FOR VALUES FROM (100) TO (MAXVALUE);
      CREATE TABLE adv_hash (id int PRIMARY KEY, v text) PARTITION BY HASH (id);
      CREATE TABLE adv_hash_0 PARTITION OF adv_hash FOR VALUES WITH (MODULUS 3, REMAINDER 0);
      CREATE TABLE adv_hash_1 PARTITION OF adv_hash FOR VALUES WITH (MODULUS 3, REMAINDER 1);
      CREATE TABLE adv_hash_2 PARTITION OF adv_hash FOR VALUES WITH (MODULUS 3, REMAINDER 2);
      CREATE TABLE adv_multi (region text, id int, v text, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
      CREATE TABLE adv_multi_eu PARTITION OF adv_multi FOR VALUES IN ('eu') PARTITION BY RANGE (id);
      CREATE TABLE adv_multi_eu_low PARTITION OF adv_multi_eu FOR VALUES FROM (0) TO (1000);
      CREATE TABLE adv_multi_eu_high PARTITION OF adv_multi_eu FOR VALUES FROM (1000) TO (MAXVALUE);
      CREATE TABLE adv_multi_other PARTITION OF adv_multi DEFAULT;
      -- inheritance: the parent is captured, its child is a table of its own (not configured)
      CREATE TABLE adv_parent (id int PRIMARY KEY, v text);
      CREATE TABLE adv_child (extra text) INHERITS (adv_parent);
      -- keyless: REPLICA IDENTITY FULL (null key) and USING INDEX (the index is the key)
      CREATE TABLE adv_full (a int, b text);
      ALTER TABLE adv_full REPLICA IDENTITY FULL;
      CREATE TABLE adv_idx (code text NOT NULL, v int);
      CREATE UNIQUE INDEX adv_idx_code ON adv_idx (code);
      ALTER TABLE adv_idx REPLICA IDENTITY USING INDEX adv_idx_code;
      -- generated columns are not sent by logical replication
      CREATE TABLE adv_gen (id int PRIMARY KEY, a int, doubled int GENERATED ALWAYS AS (a * 2) STORED);
      -- 1,000 columns
      CREATE TABLE adv_wide (id int PRIMARY KEY, ${wide});
      -- a value near the topic's 1 MB limit travels whole
      CREATE TABLE adv_large (id int PRIMARY KEY, body text);
      -- exotic types
      CREATE TYPE adv_mood AS ENUM ('sad', 'ok', 'happy');
      CREATE TYPE adv_pair AS (a int, b text);
      CREATE TABLE adv_types (
        id int PRIMARY KEY, n numeric, f float8, ts timestamptz, iv interval, m adv_mood, r int4range,
        grid int[][], words text[], j jsonb, b bytea, u uuid, ip inet, pt point, bits bit varying(8),
        x xml, tsv tsvector, pair adv_pair, moods adv_mood[]);
      -- names with spaces, quotes and non-ASCII letters
      CREATE SCHEMA "Wé ird";
      CREATE TABLE "Wé ird"."ta ""ble" ("cöl umn" int PRIMARY KEY, "Mixed""Quote" text);
      -- rows that exist before the start: the snapshot must cover them
      INSERT INTO adv_range VALUES (1, 'a'), (150, 'b');
      INSERT INTO adv_hash SELECT g, 'h' || g FROM generate_series(1, 6) g;
      INSERT INTO adv_multi VALUES ('eu', 1, 'x'), ('eu', 2000, 'y'), ('us', 3, 'z');
      INSERT INTO adv_parent VALUES (1, 'parent row');
      INSERT INTO adv_child VALUES (2, 'child row', 'e');
    `)
    const config = writeRunConfig({
      dir: workDir,
      name: "adversarial",
      url: db.url,
      streams: `
[[streams]]
name = "tables"
tables = ["adv_range", "adv_hash", "adv_multi", "adv_parent", "adv_full", "adv_idx", "adv_gen", "adv_wide", "adv_large", "adv_types"]
topic = "PREFIX.{table}"
[[streams]]
name = "weird"
tables = ['"Wé ird"."ta ""ble"']
topic = "PREFIX.weird"
`
    })
    const check = await runCli(["check", "-c", config.file], { timeoutMs: 60_000 })
    expect(check.stdout).toContain(`warn table "public"."adv_gen" generated columns (doubled is a generated column: logical replication does not send them`)
    expect(check.stdout).toContain(`warn table "public"."adv_parent" inheritance ("public"."adv_child" inherit from it and are not captured`)

    const cli = await startRun(config.file)
    const wideValues = Array.from({ length: wideColumns - 1 }, (_, i) => String(i + 1)).join(", ")
    const large = "x".repeat(900_000)
    await pgQuery(db.url, `
      INSERT INTO adv_range VALUES (2, 'c'), (250, 'd');
      UPDATE adv_range SET id = 120 WHERE id = 2;             -- crosses partitions
      INSERT INTO adv_hash VALUES (7, 'h7');
      DELETE FROM adv_hash WHERE id = 3;
      INSERT INTO adv_multi VALUES ('eu', 5, 'low'), ('eu', 5000, 'high'), ('asia', 6, 'default');
      UPDATE adv_multi SET v = 'changed' WHERE region = 'eu' AND id = 5000;
      INSERT INTO adv_parent VALUES (3, 'parent again');
      INSERT INTO adv_child VALUES (4, 'child again', 'f');
      INSERT INTO adv_full VALUES (1, 'one'), (1, 'one');       -- duplicates: no key tells them apart
      UPDATE adv_full SET b = 'uno' WHERE ctid = (SELECT min(ctid) FROM adv_full);
      DELETE FROM adv_full WHERE b = 'uno';
      INSERT INTO adv_idx VALUES ('k1', 1);
      UPDATE adv_idx SET v = 2 WHERE code = 'k1';
      DELETE FROM adv_idx;
      INSERT INTO adv_gen (id, a) VALUES (1, 21);
      INSERT INTO adv_wide VALUES (1, ${wideValues});
      INSERT INTO adv_large VALUES (1, '${large}');
      INSERT INTO adv_types VALUES (1, 'NaN', '-Infinity', 'infinity', '1 year 2 mons 3 days 04:05:06.5', 'happy',
        '[1,5)', '{{1,2},{3,4}}', '{"a b","c\\"d",NULL}', '{"k": [1, {"z": null}]}', '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '10.0.0.1/8', '(1,2)', B'101', '<a>x</a>', 'a fat cat', ROW(1, 'x y'), '{sad,ok}');
      INSERT INTO "Wé ird"."ta ""ble" VALUES (1, 'q"uote');
    `)
    const topic = (table: string) => `${config.prefix}.${table}`
    const read = async (table: string, count: number) =>
      (await readTopic(topic(table), { count, timeoutMs: 60_000 })).map(parse)
    const describe = (events: ReadonlyArray<Event>) =>
      events.map((e) => e.value === null ? "tombstone" : `${e.value.op} ${JSON.stringify(e.value.after ?? e.value.before)}`)

    // Partitioned: every change through any partition, under the parent's name, after a snapshot of all partitions.
    const range = await read("adv_range", 2 + 2 + 3)
    expect(describe(range.slice(2))).toEqual([
      `c {"id":2,"v":"c"}`, `c {"id":250,"v":"d"}`, `d {"id":2}`, "tombstone", `c {"id":120,"v":"c"}`
    ])
    expect(range.every((e) => e.value === null || e.value.source.table === "adv_range")).toBe(true)
    const hash = await read("adv_hash", 6 + 1 + 2)
    expect(hash.slice(0, 6).map((e) => e.value!.op)).toEqual(["r", "r", "r", "r", "r", "r"])
    expect(describe(hash.slice(6))).toEqual([`c {"id":7,"v":"h7"}`, `d {"id":3}`, "tombstone"])
    const multi = await read("adv_multi", 3 + 3 + 1)
    expect(multi.slice(0, 3).map((e) => e.value!.op)).toEqual(["r", "r", "r"])
    expect(describe(multi.slice(3))).toEqual([
      `c {"region":"eu","id":5,"v":"low"}`,
      `c {"region":"eu","id":5000,"v":"high"}`,
      `c {"region":"asia","id":6,"v":"default"}`,
      `u {"region":"eu","id":5000,"v":"changed"}`
    ])
    // Inheritance: the parent's own rows only (snapshot ONLY, publication ONLY); the child is a table of its own.
    expect(describe(await read("adv_parent", 2))).toEqual([`r {"id":1,"v":"parent row"}`, `c {"id":3,"v":"parent again"}`])
    // REPLICA IDENTITY FULL without a key: null keys, updates stay updates, no tombstones.
    const full = await read("adv_full", 4)
    expect(describe(full)).toEqual([`c {"a":1,"b":"one"}`, `c {"a":1,"b":"one"}`, `u {"a":1,"b":"uno"}`, `d {"a":1,"b":"uno"}`])
    expect(full.map((e) => e.key)).toEqual([null, null, null, null])
    expect(full[2]!.value!.before).toEqual({ a: 1, b: "one" })
    // REPLICA IDENTITY USING INDEX: the index columns are the key.
    const idx = await read("adv_idx", 4)
    expect(idx.map((e) => e.key)).toEqual([{ code: "k1" }, { code: "k1" }, { code: "k1" }, { code: "k1" }])
    expect(describe(idx)).toEqual([`c {"code":"k1","v":1}`, `u {"code":"k1","v":2}`, `d {"code":"k1"}`, "tombstone"])
    // Generated columns are not sent (documented; check warned above).
    expect((await read("adv_gen", 1))[0]!.value!.after).toEqual({ id: 1, a: 21 })
    // 1,000 columns, every one present.
    const wideAfter = (await read("adv_wide", 1))[0]!.value!.after!
    expect(Object.keys(wideAfter)).toHaveLength(wideColumns)
    expect(wideAfter.c999).toBe(999)
    // A 900 KB value arrives whole.
    expect(((await read("adv_large", 1))[0]!.value!.after!.body as string).length).toBe(900_000)
    // Exotic types: the documented JSON for each.
    const types = (await read("adv_types", 1))[0]!.value!.after!
    expect(types).toEqual({
      id: 1,
      n: "NaN",
      f: "-Infinity",
      ts: "infinity",
      iv: "1 year 2 mons 3 days 04:05:06.5",
      m: "happy",
      r: "[1,5)",
      grid: [[1, 2], [3, 4]],
      words: ["a b", `c"d`, null],
      j: { k: [1, { z: null }] },
      b: "AP8=",
      u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
      ip: "10.0.0.1/8",
      pt: "(1,2)",
      bits: "101",
      x: "<a>x</a>",
      tsv: "'a' 'cat' 'fat'",
      pair: `(1,"x y")`,
      moods: ["sad", "ok"]
    })
    // Spaces, quotes and non-ASCII letters in schema, table and column names.
    const weird = (await readTopic(`${config.prefix}.weird`, { count: 1, timeoutMs: 60_000 })).map(parse)
    expect(weird[0]!.key).toEqual({ "cöl umn": 1 })
    expect(weird[0]!.value).toMatchObject({ op: "c", after: { "cöl umn": 1, "Mixed\"Quote": `q"uote` }, source: { schema: "Wé ird", table: `ta "ble` } })

    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
  })

  it("refuses what cannot be captured, naming the table and the fix; an insert-only pipeline takes a table without identity", async () => {
    await pgQuery(db.url, `
      CREATE UNLOGGED TABLE adv_unlogged (id int PRIMARY KEY);
      CREATE TABLE adv_nothing (id int PRIMARY KEY, v text);
      ALTER TABLE adv_nothing REPLICA IDENTITY NOTHING;
      CREATE VIEW adv_view AS SELECT 1 AS id;
    `)
    const cases: Array<[string, string, string]> = [
      ["adv_unlogged", `"public"."adv_unlogged" is UNLOGGED`, `ALTER TABLE "public"."adv_unlogged" SET LOGGED`],
      ["adv_nothing", `"public"."adv_nothing" has no usable replica identity (REPLICA IDENTITY NOTHING)`, `ALTER TABLE "public"."adv_nothing" REPLICA IDENTITY FULL`],
      ["adv_view", `"public"."adv_view" is not a table (relkind v)`, "capture the underlying table instead"],
      ["adv_missing", `table "public"."adv_missing" does not exist`, "remove it from the streams' tables"]
    ]
    for (const [table, problem, fix] of cases) {
      const config = writeRunConfig({
        dir: workDir,
        name: `refuse_${table}`,
        url: db.url,
        streams: `[[streams]]\nname = "s"\ntables = ["${table}"]\ntopic = "PREFIX.{table}"\n`
      })
      const result = await runCli(["run", "-c", config.file], { timeoutMs: 60_000 })
      expect(result.code, table).toBe(2)
      expect(result.stderr, table).toContain(problem)
      expect(result.stderr, table).toContain(fix)
      expect(await pgQuery(db.url, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [config.slot]), table).toHaveLength(0)
    }
    // Insert-only: nothing published that could reject the application's UPDATE.
    const insertOnly = writeRunConfig({
      dir: workDir,
      name: "nothing_inserts",
      url: db.url,
      streams: `[[streams]]\nname = "s"\ntables = ["adv_nothing"]\ntopic = "PREFIX.{table}"\noperations = ["insert"]\n`
    })
    const cli = await startRun(insertOnly.file)
    await pgQuery(db.url, `INSERT INTO adv_nothing VALUES (1, 'a'); UPDATE adv_nothing SET v = 'b'; INSERT INTO adv_nothing VALUES (2, 'c')`)
    const events = (await readTopic(`${insertOnly.prefix}.adv_nothing`, { count: 2, timeoutMs: 30_000 })).map(parse)
    expect(events.map((e) => e.value!.after)).toEqual([{ id: 1, v: "a" }, { id: 2, v: "c" }])
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
  })

  it("1,000 tables in one configuration: every table's change arrives", async () => {
    const count = 1000
    const names = Array.from({ length: count }, (_, i) => `many_${String(i).padStart(4, "0")}`)
    await pgQuery(db.url, names.map((n) => `CREATE TABLE ${n} (id int PRIMARY KEY);`).join("\n"))
    const config = writeRunConfig({
      dir: workDir,
      name: "many",
      url: db.url,
      streams: `[[streams]]\nname = "many"\ntables = [${names.map((n) => `"${n}"`).join(", ")}]\ntopic = "PREFIX.all"\n`
    })
    const cli = await startRun(config.file)
    await pgQuery(db.url, names.map((n, i) => `INSERT INTO ${n} VALUES (${i});`).join("\n"))
    const events = (await readTopic(`${config.prefix}.all`, { count, timeoutMs: 120_000 })).map(parse)
    expect(new Set(events.map((e) => e.value!.source.table))).toEqual(new Set(names))
    expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
    // The publication names each table ONLY once; a restart changes nothing.
    const restart = await startRun(config.file)
    expect(restart.stdout()).not.toMatch(/publication .* altered/)
    expect((await restart.stop("SIGTERM", 15_000)).code).toBe(0)
  })
})
