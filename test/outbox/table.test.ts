/**
 * Outbox table streams (`kind = "outbox"`) in the configuration, and the
 * table rules (outbox/table.ts) that startup, planning and `check` apply.
 */
import { describe, expect, it } from "vitest"
import { outboxTableProblem, templateColumns } from "../../src/outbox/table.js"
import { decodeError, decodeOk, kafkaSection, postgresSection } from "../config/fixtures.js"

const outboxStream = (extra = "") => `${postgresSection}${kafkaSection}[[streams]]
name = "events"
kind = "outbox"
tables = ["public.outbox"]
${extra}`

describe("kind = \"outbox\" configuration", () => {
  it("defaults to Debezium EventRouter's columns and topic, inserts only, no snapshot, no tombstones", () => {
    const stream = decodeOk(outboxStream()).streams[0]!
    expect(stream.kind).toBe("outbox")
    expect(stream.topic).toBe("outbox.event.{aggregatetype}")
    expect(stream.outbox).toEqual({ id: "id", key: "aggregateid", payload: "payload", headers: [] })
    expect([...stream.operations]).toEqual(["insert"])
    expect(stream.snapshot).toBe(false)
    expect(stream.tombstones).toBe(false)
  })

  it("reads [streams.outbox] and a template of columns", () => {
    const stream = decodeOk(outboxStream(`topic = "events.{type}.{aggregatetype}"\n[streams.outbox]\nid = "event_id"\nkey = "agg"\npayload = "body"\nheaders = ["type", "trace"]\n`)).streams[0]!
    expect(stream.topic).toBe("events.{type}.{aggregatetype}")
    expect(stream.outbox).toEqual({ id: "event_id", key: "agg", payload: "body", headers: ["type", "trace"] })
  })

  it("refuses what a change stream has, [streams.outbox] on a change stream, and column placeholders there", () => {
    expect(decodeError(outboxStream(`operations = ["insert"]\n`)).message).toMatch(/streams\[0\]\.operations.*no operations in an outbox stream/)
    expect(decodeError(outboxStream(`format = "debezium"\n`)).message).toMatch(/streams\[0\]\.format/)
    expect(decodeError(outboxStream(`snapshot = true\n`)).message).toMatch(/streams\[0\]\.snapshot/)
    const changes = `${postgresSection}${kafkaSection}[[streams]]\nname = "orders"\ntables = ["orders"]\n`
    expect(decodeError(`${changes}[streams.outbox]\nid = "x"\n`).message).toMatch(/streams\[0\]\.outbox.*only with kind = "outbox"/)
    expect(decodeError(`${changes}topic = "x.{aggregatetype}"\n`).message).toMatch(/streams\[0\]\.topic.*unknown placeholder \{aggregatetype\}/)
    expect(decodeError(outboxStream(`topic = "x.{Bad Name}"\n`)).message).toMatch(/streams\[0\]\.topic.*neither \{schema\}, \{table\}, \{stream\} nor a column name/)
  })
})

describe("outbox table rules", () => {
  const settings = { id: "id", key: "aggregateid", payload: "payload", headers: ["type"] }
  const columns = [
    { name: "id", typeOid: 2950 },
    { name: "aggregatetype", typeOid: 25 },
    { name: "aggregateid", typeOid: 25 },
    { name: "type", typeOid: 25 },
    { name: "payload", typeOid: 3802 }
  ]
  it("accepts Debezium's outbox table, names a missing column and a payload type it does not take", () => {
    expect(outboxTableProblem(settings, "outbox.event.{aggregatetype}", columns)).toBeUndefined()
    expect(outboxTableProblem(settings, "e.{tenant}", columns)).toMatch(/the topic template names column "tenant"/)
    expect(outboxTableProblem({ ...settings, headers: ["trace"] }, "e", columns)).toMatch(/\[streams.outbox\] headers names column "trace"/)
    expect(outboxTableProblem(settings, "e", columns.map((c) => c.name === "payload" ? { ...c, typeOid: 23 } : c)))
      .toMatch(/payload column "payload" must be json, jsonb, text, varchar or bytea/)
    expect(templateColumns("a.{x}.{y}b")).toEqual(["x", "y"])
  })
})
