import { describe, expect, it } from "vitest"
import { columnChecks, describeTarget, identityCheck, roleCheck, versionCheck, walLevelCheck } from "../../src/cli/check/postgresChecks.js"
import { configuredTopics } from "../../src/config/topic.js"
import { fail, hasFailures, ok, renderJson, renderLine, renderText, warn } from "../../src/cli/check/report.js"
import type { ServerInfo, TableInfo } from "../../src/postgres/catalog.js"
import { identityColumns, pgoutputProtocolFor } from "../../src/postgres/catalog.js"
import { minimalToml, settingsFrom } from "./settingsFixture.js"

const server: ServerInfo = {
  versionNum: 150004,
  version: "15.4",
  database: "shop",
  user: "outboxx",
  walLevel: "logical",
  maxReplicationSlots: 10,
  maxWalSenders: 10,
  isSuperuser: false,
  hasReplication: true,
  canCreateInDatabase: true,
  inRecovery: false
}

const table = (over: Partial<TableInfo> = {}): TableInfo => ({
  schema: "public",
  name: "orders",
  oid: 1,
  kind: "r",
  replicaIdentity: "default",
  columns: ["id", "status", "card"],
  primaryKey: ["id"],
  identityIndex: [],
  ownedByCurrentUser: true,
  generated: [],
  ...over
})

describe("report lines", () => {
  it("renders ok / warn / FAIL with detail and fix", () => {
    expect(renderLine(ok("postgres reachable", "PostgreSQL 15.4 at 127.0.0.1:54329/shop"))).toBe(
      "ok   postgres reachable (PostgreSQL 15.4 at 127.0.0.1:54329/shop)"
    )
    expect(renderLine(fail("wal_level", "replica", "set it"))).toBe("FAIL wal_level (replica) — set it")
    expect(renderLine(warn("slot", "active"))).toBe("warn slot (active)")
  })

  it("summarises and knows when something failed", () => {
    const results = [ok("a", "x"), warn("b", "y")]
    expect(hasFailures(results)).toBe(false)
    expect(renderText(results)).toMatch(/all 2 checks passed \(1 warning\)$/)
    expect(hasFailures([...results, fail("c", "z")])).toBe(true)
  })

  it("prints JSON objects {check, status, detail, fix?}", () => {
    const parsed = JSON.parse(renderJson([ok("a", "x"), fail("b", "y", "z")]))
    expect(parsed).toEqual([
      { check: "a", status: "ok", detail: "x" },
      { check: "b", status: "fail", detail: "y", fix: "z" }
    ])
  })
})

describe("server checks", () => {
  it("names the pgoutput protocol per server version", () => {
    expect([140000, 150004, 160001, 170000].map(pgoutputProtocolFor)).toEqual([2, 3, 4, 4])
    expect(versionCheck(server)).toEqual(ok("server version", "PostgreSQL 15; pgoutput protocol 3"))
    expect(versionCheck({ ...server, versionNum: 130010, version: "13.10" }).status).toBe("fail")
  })

  it("fails wal_level other than logical, and a role without REPLICATION", () => {
    expect(walLevelCheck({ ...server, walLevel: "replica" }).status).toBe("fail")
    expect(roleCheck(server).status).toBe("ok")
    const noRepl = roleCheck({ ...server, hasReplication: false })
    expect(noRepl.status).toBe("fail")
    expect(noRepl.fix).toBe(`ALTER ROLE "outboxx" WITH REPLICATION`)
  })

  it("describes the target without the password", () => {
    const settings = settingsFrom(minimalToml())
    expect(describeTarget(settings)).toBe("127.0.0.1:5432/shop")
  })
})

describe("replica identity", () => {
  it("explains what before holds", () => {
    expect(identityCheck("t", table()).detail).toMatch(/primary key \(id\): before holds the key columns only/)
    expect(identityCheck("t", table({ replicaIdentity: "full" })).detail).toMatch(/whole old row/)
    expect(identityColumns(table({ replicaIdentity: "full" }))).toEqual(["id", "status", "card"])
  })

  it("fails a table without a key (default identity) or with NOTHING, suggesting FULL", () => {
    const noKey = identityCheck("t", table({ primaryKey: [] }))
    expect(noKey.status).toBe("fail")
    expect(noKey.fix).toBe(`ALTER TABLE "public"."orders" REPLICA IDENTITY FULL, or add a primary key`)
    expect(identityCheck("t", table({ replicaIdentity: "nothing" })).status).toBe("fail")
    expect(identityColumns(table({ primaryKey: [] }))).toBeUndefined()
  })
})

describe("column checks", () => {
  const streams = (body: string) => settingsFrom(minimalToml("", `[[streams]]\nname = "orders"\ntables = ["orders"]\n${body}`))

  it("fails unknown key / include columns with their key path", () => {
    const settings = streams(`key = ["id", "nope"]\ninclude_columns = ["id", "cardx"]\n`)
    const [result] = columnChecks(settings.streams[0]!, 0, table())
    expect(result?.status).toBe("fail")
    expect(result?.detail).toContain(`streams[0].key: no column "nope"`)
    expect(result?.detail).toContain(`streams[0].include_columns: no column "cardx"`)
  })

  it("accepts an excluded column that only some of the stream's tables have", () => {
    const settings = streams(`exclude_columns = ["card_number"]\n`)
    const [result] = columnChecks(settings.streams[0]!, 0, table())
    expect(result?.status).toBe("ok")
    expect(result?.detail).toContain("not in this table, nothing to exclude: card_number")
  })

  it("fails a key outside the replica identity (deletes would not carry it)", () => {
    const settings = streams(`key = ["status"]\n`)
    const [result] = columnChecks(settings.streams[0]!, 0, table())
    expect(result?.status).toBe("fail")
    expect(result?.fix).toContain("REPLICA IDENTITY FULL")
    expect(columnChecks(settings.streams[0]!, 0, table({ replicaIdentity: "full" }))[0]?.status).toBe("ok")
  })

  it("fails a primary key (the default Kafka key) outside an identity index", () => {
    const byEmail = table({ replicaIdentity: "index", identityIndex: ["status"] })
    const [result] = columnChecks(streams("").streams[0]!, 0, byEmail)
    expect(result?.status).toBe("fail")
    expect(result?.detail).toContain("the primary key (id), the Kafka key, includes id, which deletes do not carry")
    expect(columnChecks(streams(`key = ["status"]\n`).streams[0]!, 0, byEmail)[0]?.status).toBe("ok")
  })

  it("says nothing when the stream names no columns", () => {
    expect(columnChecks(streams("").streams[0]!, 0, table())).toEqual([])
  })
})

describe("topics", () => {
  it("renders the topic template per table", () => {
    const settings = settingsFrom(
      minimalToml("", `[[streams]]\nname = "s"\ntables = ["orders", "sales.Items"]\ntopic = "cdc.{stream}.{schema}.{table}"\n`)
    )
    expect([...configuredTopics(settings).keys()]).toEqual(["cdc.s.public.orders", "cdc.s.sales.Items"])
  })

  it("lists the dead-letter topics too, with the streams that use each topic", () => {
    const settings = settingsFrom(minimalToml(
      "",
      `[[streams]]\nname = "a"\ntables = ["orders"]\ntopic = "t.{table}"\non_error = "dead_letter"\n` +
        `[[streams]]\nname = "b"\ntables = ["orders"]\ntopic = "t.{table}"\non_error = "dead_letter"\ndead_letter_topic = "dlq"\n`
    ))
    expect(configuredTopics(settings)).toEqual(new Map([["t.orders", ["a", "b"]], ["outboxx.dead_letter.a", ["a"]], ["dlq", ["b"]]]))
  })
})
