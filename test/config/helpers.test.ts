import * as Duration from "effect/Duration"
import { describe, expect, it } from "vitest"
import { editDistance, suggestKey } from "../../src/config/didYouMean.js"
import { formatDuration, parseDuration } from "../../src/config/duration.js"
import { formatKeyPath } from "../../src/config/keyPath.js"
import { resolveConfigPath } from "../../src/config/Settings.js"
import { formatTable, parseTableName } from "../../src/config/tableName.js"
import { checkTopicName, checkTopicTemplate, renderTopic } from "../../src/config/topic.js"

describe("parseTableName / formatTable", () => {
  it.each([
    ["orders", { schema: "public", name: "orders" }],
    ["sales.orders", { schema: "sales", name: "orders" }],
    ["MySchema.Orders", { schema: "MySchema", name: "Orders" }],
    ["\"my.schema\".orders", { schema: "my.schema", name: "orders" }],
    ["\"a\"\"b\".\"c d\"", { schema: "a\"b", name: "c d" }],
    ["\"x.y\"", { schema: "public", name: "x.y" }]
  ])("%s", (text, table) => {
    expect(parseTableName(text)).toEqual(table)
    expect(parseTableName(formatTable(table))).toEqual(table)
  })

  it.each(["", "a.", ".a", "a.b.c", "\"unterminated", "a b", "a\"b", "\"\".x", "\"a\"b"])("rejects %j", (text) => {
    expect(typeof parseTableName(text)).toBe("string")
  })

  it("quotes only when needed", () => {
    expect(formatTable({ schema: "public", name: "orders" })).toBe("public.orders")
    expect(formatTable({ schema: "my.schema", name: "Odd \"x\"" })).toBe("\"my.schema\".\"Odd \"\"x\"\"\"")
  })
})

describe("topics", () => {
  it("renders placeholders", () => {
    expect(renderTopic("outboxx.{schema}.{table}", { schema: "public", table: "orders", stream: "s" })).toBe(
      "outboxx.public.orders"
    )
    expect(renderTopic("{stream}-{table}-{table}", { schema: "p", table: "t", stream: "s" })).toBe("s-t-t")
  })

  it("finds template problems", () => {
    expect(checkTopicTemplate("outboxx.{schema}.{table}")).toEqual([])
    expect(checkTopicTemplate("x.{tabel}")[0]).toContain("unknown placeholder {tabel}")
    expect(checkTopicTemplate("x.{table")[0]).toContain("unbalanced")
    expect(checkTopicTemplate("a b")[0]).toContain("Kafka topic name rules")
  })

  it("checks rendered names against Kafka's rules", () => {
    expect(checkTopicName("ok.name_1-x")).toBeUndefined()
    expect(checkTopicName("t".repeat(249))).toBeUndefined()
    expect(checkTopicName("t".repeat(250))).toContain("250 characters")
    expect(checkTopicName("a b")).toContain("characters Kafka does not allow")
    expect(checkTopicName("..")).toContain("reserved")
  })
})

describe("durations", () => {
  it.each([["500ms", 500], ["10s", 10_000], ["5m", 300_000], ["1h", 3_600_000], ["0s", 0], ["1.5s", 1_500], ["1d", 86_400_000]])(
    "%s",
    (text, millis) => {
      expect(Duration.toMillis(parseDuration(text)!)).toBe(millis)
    }
  )
  it.each(["", "10", "s", "-1s", "10 parsecs", "1e3ms", "ten seconds"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined()
  })
  it("formats back", () => {
    expect(formatDuration(Duration.millis(300_000))).toBe("5m")
    expect(formatDuration(Duration.millis(1_500))).toBe("1500ms")
  })
})

describe("did you mean", () => {
  it("counts a transposition as one edit", () => {
    expect(editDistance("kafak", "kafka")).toBe(1)
    expect(editDistance("", "abc")).toBe(3)
  })
  it("suggests close keys and nothing for far ones", () => {
    expect(suggestKey("statu_interval", ["status_interval", "slot"])).toBe("status_interval")
    expect(suggestKey("tabels", ["name", "tables", "topic"])).toBe("tables")
    expect(suggestKey("clientId", ["client_id", "brokers"])).toBe("client_id")
    expect(suggestKey("zzzzzzzz", ["client_id", "brokers"])).toBeUndefined()
  })
})

describe("key paths", () => {
  it("formats TOML keys and 0-based indexes", () => {
    expect(formatKeyPath(["streams", 1, "topic"])).toBe("streams[1].topic")
    expect(formatKeyPath(["kafka", "brokers", 0])).toBe("kafka.brokers[0]")
    expect(formatKeyPath(["odd key"])).toBe("\"odd key\"")
  })
})

describe("resolveConfigPath", () => {
  it("prefers the flag, then OUTBOXX_CONFIG, then ./outboxx.toml", () => {
    expect(resolveConfigPath("a.toml", { OUTBOXX_CONFIG: "b.toml" })).toBe("a.toml")
    expect(resolveConfigPath(undefined, { OUTBOXX_CONFIG: "b.toml" })).toBe("b.toml")
    expect(resolveConfigPath(undefined, {})).toBe("outboxx.toml")
  })
})
