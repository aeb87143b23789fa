/**
 * Whole "debezium" events (schema + payload, key and value) for insert,
 * update and delete, built by the real Router from decoded pgoutput messages.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeSettings } from "../../../src/config/decode.js"
import { CheckpointTracker } from "../../../src/checkpoint/CheckpointTracker.js"
import { Router } from "../../../src/route/Router.js"
import { planRelation, type RelationEntry, streamFormats } from "../../../src/route/TablePlan.js"
import { type Relation, Unchanged } from "../../../src/decode/messages.js"
import type { ColumnFacts } from "../../../src/event/EventFormat.js"
import { TypeRegistry } from "../../../src/event/values/TypeRegistry.js"
import { fromPlain, type PlainMessage } from "../../decode/plain.js"

const settings = (() => {
  const decoded = decodeSettings(
    `
[postgres]
url = "postgres://u@127.0.0.1:1/shop"
[kafka]
brokers = ["127.0.0.1:9"]
[[streams]]
name = "orders"
tables = ["public.orders"]
format = "debezium"
exclude_columns = ["secret"]
# Truncates asked for: Debezium's default leaves them out.
operations = ["insert", "update", "delete", "truncate"]
`,
    { path: "test.toml", env: {} }
  )
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
})()

const relation: Relation = {
  tag: "Relation",
  xid: undefined,
  relationId: 16400,
  schema: "public",
  name: "orders",
  replicaIdentity: "default",
  columns: [
    { isKey: true, name: "id", typeOid: 20, typeMod: -1 },
    { isKey: false, name: "status", typeOid: 25, typeMod: -1 },
    { isKey: false, name: "total", typeOid: 1700, typeMod: ((10 << 16) | 2) + 4 },
    { isKey: false, name: "created", typeOid: 1114, typeMod: -1 },
    { isKey: false, name: "secret", typeOid: 25, typeMod: -1 }
  ]
}

const commitTime = 1_000_000 // microseconds after 2000-01-01
const commitMs = 946_684_800_000 + 1000

/** Routes the messages (tuples as arrays of values) inside one transaction. */
const run = (messages: ReadonlyArray<PlainMessage>, facts?: ReadonlyMap<string, ColumnFacts>) => {
  const entry = planRelation(relation, settings, new TypeRegistry(), ["id"], streamFormats(settings, "shop"), facts) as RelationEntry
  const router = new Router(1, new CheckpointTracker(50))
  router.setRelation(entry)
  router.startBatch(1_795_464_000_123)
  router.route(100, { tag: "Begin", finalLsn: 500, commitTime, xid: 735 })
  for (const m of messages) router.route(200, fromPlain(m))
  router.route(500, { tag: "Commit", flags: 0, commitLsn: 500, endLsn: 520, commitTime })
  return router.outbox(0).records.map((r) => ({
    topic: r.topic,
    key: r.key === null ? null : JSON.parse(String(r.key)),
    value: r.value === null ? null : JSON.parse(String(r.value)),
    headers: r.headers
  }))
}

const row = ["42", "paid", "10.50", "2026-11-23 20:00:00.5", "hidden"]

const rowSchema = {
  type: "struct",
  fields: [
    { type: "int64", optional: false, field: "id" },
    { type: "string", optional: true, field: "status" },
    {
      type: "bytes",
      optional: true,
      name: "org.apache.kafka.connect.data.Decimal",
      version: 1,
      parameters: { scale: "2", "connect.decimal.precision": "10" },
      field: "total"
    },
    { type: "int64", optional: true, name: "io.debezium.time.MicroTimestamp", version: 1, field: "created" }
  ],
  optional: true,
  name: "outboxx.public.orders.Value"
}

const keyEnvelope = {
  schema: {
    type: "struct",
    fields: [{ type: "int64", optional: false, field: "id" }],
    optional: false,
    name: "outboxx.public.orders.Key"
  },
  payload: { id: 42 }
}

const afterPayload = {
  id: 42,
  status: "paid",
  total: Buffer.from([0x04, 0x1a]).toString("base64"), // 1050 at scale 2
  created: Date.UTC(2026, 10, 23, 20) * 1000 + 500_000
}

const source = {
  version: "outboxx",
  connector: "postgresql",
  name: "orders",
  db: "shop",
  schema: "public",
  table: "orders",
  snapshot: "false",
  ts_ms: commitMs,
  txId: 735,
  lsn: 200,
  sequence: `[null,"200"]`, // no commit before it since streaming started, then the change's LSN
  ts_us: commitMs * 1000,
  ts_ns: commitMs * 1_000_000,
  xmin: null,
  origin: null,
  origin_lsn: null
}

describe("debezium events", () => {
  it("writes an insert as JsonConverter's schema + payload, key likewise", () => {
    const [event] = run([{ tag: "Insert", xid: undefined, relationId: 16400, newTuple: row }])
    expect(event!.topic).toBe("outboxx.public.orders")
    expect(event!.key).toEqual(keyEnvelope)
    const value = event!.value
    expect(value.schema.name).toBe("outboxx.public.orders.Envelope")
    expect(value.schema.version).toBe(2)
    expect(value.schema.fields.map((f: { field: string }) => f.field)).toEqual(["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"])
    expect(value.schema.fields[0]).toEqual({ ...rowSchema, field: "before" })
    expect(value.schema.fields[1]).toEqual({ ...rowSchema, field: "after" })
    expect(value.schema.fields[2].name).toBe("io.debezium.connector.postgresql.Source")
    const sourceFields = value.schema.fields[2].fields.map((f: { field: string }) => f.field)
    expect(Object.keys(source).every((k) => sourceFields.includes(k))).toBe(true)
    expect(value.payload).toEqual({
      before: null,
      after: afterPayload,
      source,
      transaction: null,
      op: "c",
      ts_ms: 1_795_464_000_123,
      ts_us: 1_795_464_000_123_000,
      ts_ns: 1_795_464_000_123_000_000
    })
    // Fields in the schema's order, as Debezium writes them.
    expect(Object.keys(value.payload.source)).toEqual(sourceFields)
  })

  it("writes an update of the default replica identity with before = null, as Debezium", () => {
    const [event] = run([{ tag: "Update", xid: undefined, relationId: 16400, oldKind: undefined, oldTuple: undefined, newTuple: row }])
    expect(event!.key).toEqual(keyEnvelope)
    expect(event!.value.payload.op).toBe("u")
    expect(event!.value.payload.before).toBe(null)
    expect(event!.value.payload.after).toEqual(afterPayload)
  })

  it("fills an unchanged TOASTed value with Debezium's placeholder", () => {
    const newTuple = ["42", Unchanged, "10.50", null, null] as const
    const [event] = run([{ tag: "Update", xid: undefined, relationId: 16400, oldKind: undefined, oldTuple: undefined, newTuple }])
    expect(event!.value.payload.after).toEqual({ ...afterPayload, created: null, status: "__debezium_unavailable_value" })
  })

  it("writes a delete with before = the key (every other field null, as Debezium) and a tombstone after it", () => {
    const events = run([{ tag: "Delete", xid: undefined, relationId: 16400, oldKind: "key", oldTuple: ["42", null, null, null, null] }])
    expect(events).toHaveLength(2)
    const [deleted, tombstone] = events
    expect(deleted!.key).toEqual(keyEnvelope)
    expect(deleted!.value.payload.op).toBe("d")
    const before = deleted!.value.payload.before as Record<string, unknown>
    expect(before.id).toBe(42)
    expect(Object.entries(before).filter(([k, v]) => k !== "id" && v !== null)).toEqual([])
    expect(Object.keys(before).length).toBeGreaterThan(1)
    expect(deleted!.value.payload.after).toBe(null)
    expect(tombstone!.key).toEqual(keyEnvelope)
    expect(tombstone!.value).toBe(null)
  })

  it("writes a truncate with op t and a null key", () => {
    const [event] = run([{ tag: "Truncate", xid: undefined, cascade: false, restartIdentity: false, relationIds: [16400] }])
    expect(event!.key).toBe(null)
    expect(event!.value.payload.op).toBe("t")
    expect(event!.value.payload.before).toBe(null)
    expect(event!.value.payload.after).toBe(null)
  })

  it("writes a primary-key change as delete + tombstone + create with Debezium's newkey / oldkey headers", () => {
    const events = run([{ tag: "Update", xid: undefined, relationId: 16400, oldKind: "key", oldTuple: ["42", null, null, null, null], newTuple: ["43", ...row.slice(1)] }])
    expect(events.map((e) => e.value?.payload.op ?? "tombstone")).toEqual(["d", "tombstone", "c"])
    expect(events[0]!.key.payload).toEqual({ id: 42 })
    expect(events[0]!.headers).toEqual({ "__debezium.newkey": `{"id":43}` })
    expect(events[1]!.headers).toEqual({ "__debezium.newkey": `{"id":43}` })
    expect(events[2]!.key.payload).toEqual({ id: 43 })
    expect(events[2]!.headers).toEqual({ "__debezium.oldkey": `{"id":42}` })
  })

  it("makes NOT NULL columns required and puts constant defaults in the schema, writing a null as its default (as JsonConverter does)", () => {
    const facts = new Map<string, ColumnFacts>([
      ["id", { notNull: true, defaultExpression: "nextval('orders_id_seq'::regclass)" }],
      ["status", { notNull: true, defaultExpression: "'new'::text" }],
      ["total", { notNull: false, defaultExpression: "0.00" }],
      ["created", { notNull: false, defaultExpression: "now()" }]
    ])
    const [event] = run([{ tag: "Insert", xid: undefined, relationId: 16400, newTuple: ["42", null, null, null, "x"] }], facts)
    const fields = event!.value.schema.fields[1].fields as Array<Record<string, unknown>>
    const byName = Object.fromEntries(fields.map((f) => [f.field, f]))
    expect(byName.id).toEqual({ type: "int64", optional: false, field: "id" })
    expect(byName.status).toEqual({ type: "string", optional: false, default: "new", field: "status" })
    expect(byName.total!.default).toBe(Buffer.from([0x00]).toString("base64"))
    expect(byName.total!.optional).toBe(true)
    expect(byName.created!.default).toBeUndefined()
    expect(event!.value.payload.after).toMatchObject({ id: 42, status: "new", total: "AA==", created: null })
  })
})
