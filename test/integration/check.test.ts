/**
 * `outboxx check` (the built CLI, dist/main.js) against the real local
 * PostgreSQL and Kafka. Run `npm run build` first.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  createTestDatabase,
  createTopic,
  deleteTopic,
  kafkaBrokers,
  pgAdminUrl,
  pgQuery,
  runCli,
  type TestDatabase,
  uniqueName
} from "../support/servers.js"

interface CheckLine {
  readonly check: string
  readonly status: "ok" | "warn" | "fail"
  readonly detail: string
  readonly fix?: string
}

const dir = mkdtempSync(path.join(tmpdir(), "outboxx-check-"))
let db: TestDatabase
const role = uniqueName("norepl")
const topicPrefix = uniqueName("chk")

const writeConfig = (name: string, options: {
  readonly url?: string
  readonly brokers?: ReadonlyArray<string>
  readonly tables?: ReadonlyArray<string>
  readonly extraPostgres?: string
  readonly extraKafka?: string
  readonly extraStream?: string
} = {}): string => {
  const file = path.join(dir, `${name}.toml`)
  writeFileSync(
    file,
    `[postgres]
url = ${JSON.stringify(options.url ?? db.url)}
slot = ${JSON.stringify(`${db.name}_slot`)}
publication = ${JSON.stringify(`${db.name}_pub`)}
${options.extraPostgres ?? ""}

[kafka]
brokers = ${JSON.stringify(options.brokers ?? kafkaBrokers())}
${options.extraKafka ?? ""}

[[streams]]
name = "orders"
tables = ${JSON.stringify(options.tables ?? ["orders"])}
topic = "${topicPrefix}.{schema}.{table}"
${options.extraStream ?? ""}
`
  )
  return file
}

const check = async (config: string) => {
  const text = await runCli(["check", "-c", config])
  const json = await runCli(["check", "--json", "-c", config])
  return { text, json, lines: JSON.parse(json.stdout) as Array<CheckLine> }
}

const line = (lines: ReadonlyArray<CheckLine>, check: string) => lines.find((l) => l.check === check)

beforeAll(async () => {
  db = await createTestDatabase("check")
  await pgQuery(
    db.url,
    `CREATE TABLE orders (id int PRIMARY KEY, status text, card text);
     CREATE TABLE nokey (a int, b text);
     CREATE TABLE full_nokey (a int, b text);
     ALTER TABLE full_nokey REPLICA IDENTITY FULL;
     CREATE TABLE "Customers" (id int PRIMARY KEY);`
  )
  await pgQuery(pgAdminUrl(), `CREATE ROLE "${role}" LOGIN`)
  await createTopic(`${topicPrefix}.public.orders`)
})

afterAll(async () => {
  await db?.drop()
  await pgQuery(pgAdminUrl(), `DROP ROLE IF EXISTS "${role}"`)
  await deleteTopic(`${topicPrefix}.public.orders`).catch(() => undefined)
})

describe("outboxx check", () => {
  it("passes a good configuration: exit 0, one ok line per check", async () => {
    const { json, lines, text } = await check(writeConfig("good", { extraStream: `key = ["id"]\nexclude_columns = ["card"]` }))
    expect(text.code, text.stdout + text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^ok {3}postgres reachable \(PostgreSQL 15\.\d+ at 127\.0\.0\.1:\d+\/check_\w+ as "postgres"\)$/m)
    expect(text.stdout).toMatch(/^ok {3}server version \(PostgreSQL 15; pgoutput protocol 3\)$/m)
    expect(text.stdout).toMatch(/^ok {3}table "public"\."orders" \(primary key \(id\): before holds the key columns only for u\/d\)$/m)
    expect(text.stdout).toMatch(/^ok {3}publication "\w+" \(will be created FOR TABLE "public"\."orders"\)$/m)
    expect(text.stdout).toMatch(/^ok {3}slot "\w+" \(does not exist; run will create it/m)
    expect(text.stdout).toMatch(/^ok {3}kafka reachable \(1 broker: /m)
    expect(text.stdout).toMatch(new RegExp(`^ok {3}kafka topics \\(exist: ${topicPrefix}\\.public\\.orders\\)$`, "m"))
    expect(text.stdout).not.toContain("FAIL")
    expect(json.code).toBe(0)
    expect(lines.every((l) => l.status === "ok")).toBe(true)
    for (const l of lines) expect(Object.keys(l).sort()).toEqual(["check", "detail", "status"])
  })

  it("fails a missing table (with a case hint), a table without a key, and unknown key columns: exit 1", async () => {
    const { lines, text } = await check(
      writeConfig("tables", { tables: ["orders", "missing", "customers", "nokey", "full_nokey"], extraStream: `key = ["id", "nope"]` })
    )
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/^FAIL table "public"\."missing" \(not found\) — /m)
    expect(line(lines, `table "public"."customers"`)).toMatchObject({
      status: "fail",
      fix: expect.stringContaining(`did you mean "public"."Customers"?`)
    })
    expect(line(lines, `table "public"."nokey"`)).toMatchObject({
      status: "fail",
      fix: `ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL, or add a primary key`
    })
    expect(line(lines, `table "public"."full_nokey"`)).toMatchObject({ status: "ok", detail: expect.stringContaining("whole old row") })
    expect(line(lines, `stream "orders" columns of "public"."orders"`)).toMatchObject({
      status: "fail",
      detail: expect.stringContaining(`streams[0].key: no column "nope"`)
    })
    expect(text.stdout).toMatch(/checks failed$/m)
  })

  it("fails an unreachable broker within a bounded time", async () => {
    const started = Date.now()
    const { lines, text } = await check(writeConfig("nokafka", { brokers: ["127.0.0.1:1"] }))
    expect(text.code).toBe(1)
    expect(Date.now() - started).toBeLessThan(40_000)
    expect(line(lines, "kafka reachable")).toMatchObject({ status: "fail", detail: expect.stringContaining("127.0.0.1:1") })
    expect(line(lines, "postgres reachable")?.status).toBe("ok")
  })

  it("fails a missing topic when kafka.create_topics is off", async () => {
    const { lines, text } = await check(writeConfig("notopic", { tables: ["orders", "Customers"], extraKafka: "create_topics = false" }))
    expect(text.code).toBe(1)
    const topics = lines.filter((l) => l.check === "kafka topics")
    expect(topics.find((l) => l.status === "fail")?.detail).toBe(`missing: ${topicPrefix}.public.Customers`)
  })

  it("fails a role without REPLICATION and says how to grant it", async () => {
    const url = new URL(db.url)
    url.username = role
    const { lines, text } = await check(writeConfig("norepl", { url: url.toString() }))
    expect(text.code).toBe(1)
    expect(text.stdout).toContain(`FAIL replication privilege (role "${role}" has neither REPLICATION nor SUPERUSER) — ALTER ROLE "${role}" WITH REPLICATION`)
    // Not the owner of the table and no CREATE on the database: the publication cannot be created.
    expect(line(lines, `publication "${db.name}_pub"`)).toMatchObject({ status: "fail", detail: expect.stringContaining("cannot be created") })
  })

  it("fails an unreachable PostgreSQL without printing the password", async () => {
    const { lines, text } = await check(writeConfig("nopg", { url: "postgres://postgres:hunter2@127.0.0.1:1/nowhere" }))
    expect(text.code).toBe(1)
    expect(line(lines, "postgres reachable")).toMatchObject({ status: "fail", detail: expect.stringContaining("127.0.0.1:1/nowhere") })
    expect(text.stdout + text.stderr).not.toContain("hunter2")
  })

  it("reports an existing slot and an existing-mode publication that lacks tables", async () => {
    const slot = `${db.name}_slot`
    await pgQuery(db.url, `SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`)
    await pgQuery(db.url, `CREATE PUBLICATION "${db.name}_pub" FOR TABLE orders WITH (publish = 'insert')`)
    try {
      const { lines, text } = await check(
        writeConfig("existing", { tables: ["orders", "Customers"], extraPostgres: `publication_mode = "existing"` })
      )
      expect(text.code).toBe(1)
      expect(line(lines, `slot "${slot}"`)).toMatchObject({ status: "ok", detail: expect.stringMatching(/^inactive; confirmed \d+\/[0-9A-F]+, retaining /) })
      const publication = line(lines, `publication "${db.name}_pub"`)
      expect(publication?.status).toBe("fail")
      expect(publication?.detail).toContain(`does not publish "public"."Customers"`)
      expect(publication?.detail).toContain("does not publish update, delete, truncate")
    } finally {
      await pgQuery(db.url, `SELECT pg_drop_replication_slot('${slot}')`)
      await pgQuery(db.url, `DROP PUBLICATION "${db.name}_pub"`)
    }
  })
})
