/**
 * Transaction metadata through the real Router: per stream, a BEGIN before
 * its first event of a source transaction, an END after its last with the
 * events per table, the `transaction` block in each change event (not in
 * tombstones), and nothing for a transaction without events of the stream.
 */
import { describe, expect, it } from "vitest"
import { CheckpointTracker } from "../../src/checkpoint/CheckpointTracker.js"
import { messageRoutes, Router } from "../../src/route/Router.js"
import { planRelation, type RelationEntry, streamFormats } from "../../src/route/TablePlan.js"
import type { Relation } from "../../src/decode/messages.js"
import { TypeRegistry } from "../../src/event/values/TypeRegistry.js"
import { decodeOk, kafkaSection, postgresSection } from "../config/fixtures.js"
import { fromPlain, type PlainMessage } from "../decode/plain.js"

const settingsFor = (format: string) =>
  decodeOk(`${postgresSection}${kafkaSection}[[streams]]
name = "shop"
tables = ["public.orders", "public.items"]
format = "${format}"
transaction_topic = "shop.transactions"
messages = ["audit.*"]
[[streams]]
name = "plain"
tables = ["public.orders"]
`)

const relation = (relationId: number, name: string): Relation => ({
  tag: "Relation",
  xid: undefined,
  relationId,
  schema: "public",
  name,
  replicaIdentity: "default",
  columns: [
    { isKey: true, name: "id", typeOid: 23, typeMod: -1 },
    { isKey: false, name: "v", typeOid: 25, typeMod: -1 }
  ]
})

const commitTime = 1_000_000
const commitMs = 946_684_800_000 + 1000

const run = (format: string, transactions: ReadonlyArray<ReadonlyArray<PlainMessage>>) => {
  const settings = settingsFor(format)
  const formats = streamFormats(settings, "shop")
  const router = new Router(2, new CheckpointTracker(50), { messages: messageRoutes(settings, formats) })
  for (const [id, name] of [[16400, "orders"], [16401, "items"]] as const) {
    router.setRelation(planRelation(relation(id, name), settings, new TypeRegistry(), ["id"], formats) as RelationEntry)
  }
  router.startBatch(1_795_464_000_123)
  let lsn = 100
  transactions.forEach((messages, t) => {
    if (messages.length === 1 && messages[0]!.tag === "Message" && !messages[0]!.transactional) {
      // A non-transactional message: outside any transaction.
      router.route(lsn++, messages[0]!)
      return
    }
    const xid = 700 + t
    const finalLsn = 1000 * (t + 1)
    router.route(lsn++, { tag: "Begin", finalLsn, commitTime, xid })
    for (const m of messages) router.route(lsn++, fromPlain(m))
    router.route(finalLsn, { tag: "Commit", flags: 0, commitLsn: finalLsn, endLsn: finalLsn + 8, commitTime })
  })
  const decode = (r: { topic: string; key: unknown; value: unknown }) => ({
    topic: r.topic,
    key: r.key === null ? null : JSON.parse(String(r.key)),
    value: r.value === null ? null : JSON.parse(String(r.value))
  })
  return { shop: router.outbox(0).records.map(decode), plain: router.outbox(1).records.map(decode) }
}

const insert = (relationId: number, id: number): PlainMessage => ({ tag: "Insert", xid: undefined, relationId, newTuple: [String(id), "x"] })
const del = (relationId: number, id: number): PlainMessage => ({ tag: "Delete", xid: undefined, relationId, oldKind: "key", oldTuple: [String(id), null] })

describe("transaction metadata", () => {
  it("format outboxx: BEGIN, the events with their blocks, END with counts per table; only in the stream that asked", () => {
    const { plain, shop } = run("outboxx", [
      [insert(16400, 1), insert(16401, 10), insert(16400, 2), del(16401, 10)],
      [], // no events: no BEGIN / END
      [insert(16401, 11)]
    ])
    expect(shop.map((r) => [r.topic, r.value?.status ?? r.value?.op ?? "tombstone"])).toEqual([
      ["shop.transactions", "BEGIN"],
      ["outboxx.public.orders", "c"],
      ["outboxx.public.items", "c"],
      ["outboxx.public.orders", "c"],
      ["outboxx.public.items", "d"],
      ["outboxx.public.items", "tombstone"],
      ["shop.transactions", "END"],
      ["shop.transactions", "BEGIN"],
      ["outboxx.public.items", "c"],
      ["shop.transactions", "END"]
    ])
    expect(shop[0]).toEqual({
      topic: "shop.transactions",
      key: { id: "700:0/3E8" },
      value: { status: "BEGIN", id: "700:0/3E8", ts_ms: commitMs, event_count: null, data_collections: null }
    })
    expect(shop.slice(1, 5).map((r) => r.value.transaction)).toEqual([
      { id: "700:0/3E8", total_order: 1, data_collection_order: 1 },
      { id: "700:0/3E8", total_order: 2, data_collection_order: 1 },
      { id: "700:0/3E8", total_order: 3, data_collection_order: 2 },
      { id: "700:0/3E8", total_order: 4, data_collection_order: 2 }
    ])
    expect(shop[6]!.value).toEqual({
      status: "END",
      id: "700:0/3E8",
      ts_ms: commitMs,
      event_count: 4,
      data_collections: [{ data_collection: "public.orders", event_count: 2 }, { data_collection: "public.items", event_count: 2 }]
    })
    expect(shop[9]!.value).toMatchObject({ status: "END", id: "702:0/BB8", event_count: 1 })
    // The stream without transaction_topic: its events as always.
    expect(plain.map((r) => r.value?.op)).toEqual(["c", "c"])
    expect(plain.every((r) => !("transaction" in r.value))).toBe(true)
  })

  it("format debezium: Debezium's block in the envelope and its schema'd BEGIN / END", () => {
    const { shop } = run("debezium", [[insert(16400, 1), insert(16400, 2)]])
    expect(shop.map((r) => r.value?.payload?.status ?? r.value?.payload?.op)).toEqual(["BEGIN", "c", "c", "END"])
    // Debezium's ids: the transaction id with the LSN of where each one was (BEGIN: the first event; END: the commit's end).
    expect(shop[0]!.value.payload.id).toBe("700:101")
    expect(shop[1]!.value.payload.transaction).toEqual({ id: "700:101", total_order: 1, data_collection_order: 1 })
    expect(shop[2]!.value.payload.transaction).toEqual({ id: "700:102", total_order: 2, data_collection_order: 2 })
    expect(shop[3]!.key).toEqual({
      schema: {
        type: "struct",
        fields: [{ type: "string", optional: false, field: "id" }],
        optional: false,
        name: "io.debezium.connector.common.TransactionMetadataKey",
        version: 1
      },
      payload: { id: "700:1008" }
    })
    expect(shop[3]!.value.payload).toEqual({
      status: "END",
      id: "700:1008",
      event_count: 2,
      data_collections: [{ data_collection: "public.orders", event_count: 2 }],
      ts_ms: commitMs
    })
  })
})

const message = (prefix: string, text: string | Buffer, transactional = true): PlainMessage => ({
  tag: "Message",
  xid: undefined,
  transactional,
  lsn: 0,
  prefix,
  content: typeof text === "string" ? Buffer.from(text) : text
})

describe("message events (messages = [...])", () => {
  it("format outboxx: forwards the prefixes asked for, in their transaction (counted) or on their own, keyed by prefix", () => {
    const { shop } = run("outboxx", [
      [insert(16400, 1), message("audit.login", "user 7"), message("other", "no"), message("outboxx", "never ours")],
      [message("audit.raw", Buffer.from([0x00, 0xff]), false)]
    ])
    const values = shop.map((r) => r.value)
    expect(values.map((v) => v.status ?? v.op)).toEqual(["BEGIN", "c", "m", "END", "m"])
    expect(shop[2]!.topic).toBe("outboxx.messages.shop")
    expect(shop[2]!.key).toEqual({ prefix: "audit.login" })
    expect(values[2]).toMatchObject({
      op: "m",
      message: { prefix: "audit.login", content: "user 7", encoding: "utf8", transactional: true },
      source: { db: "shop", schema: null, table: null, txId: 700, commitLsn: "0/3E8" },
      transaction: { id: "700:0/3E8", total_order: 2, data_collection_order: 1 }
    })
    expect(values[3].data_collections).toEqual([
      { data_collection: "public.orders", event_count: 1 },
      { data_collection: "message:audit.login", event_count: 1 }
    ])
    expect(values[4]).toMatchObject({
      // Not UTF-8: base64.
      message: { prefix: "audit.raw", content: "AP8=", encoding: "base64", transactional: false },
      source: { txId: null, commitLsn: null },
      transaction: null
    })
  })
})
