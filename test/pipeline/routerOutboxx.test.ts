/**
 * Format "outboxx" records as the Router writes them (bytes straight into
 * slabs, see JsonBytes): every key and value is compared as exact UTF-8 text
 * with the event built here independently with JSON.stringify, in the field
 * order of INTERFACE.md's "Change event" (op, before, after, [unchanged],
 * source{db,schema,table,lsn,commitLsn,txId,commitTs,snapshot}, ts_ms).
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeSettings } from "../../src/config/decode.js"
import { CheckpointTracker } from "../../src/checkpoint/CheckpointTracker.js"
import { emptyOutbox, type Outbox } from "../../src/deliver/Outbox.js"
import { Router } from "../../src/route/Router.js"
import { releaseSlabs } from "../../src/event/record/SlabPool.js"
import { planRelation, streamFormats, TablePlanError } from "../../src/route/TablePlan.js"
import { type Relation, type RelationColumn, type TupleValue, Unchanged } from "../../src/decode/messages.js"
import { Oid } from "../../src/event/values/builtinTypes.js"
import { TypeRegistry } from "../../src/event/values/TypeRegistry.js"
import { fromPlain, type PlainMessage } from "../decode/plain.js"

// ---------------------------------------------------------------------------
// Setup: a one-stream Router over one table

const NOW = 1_795_464_000_123
const RELATION_ID = 16400

const settingsFor = (table: string, streamToml: string) => {
  const decoded = decodeSettings(
    `
[postgres]
url = "postgres://u@127.0.0.1:1/shop"
[kafka]
brokers = ["127.0.0.1:9"]
[[streams]]
name = "orders"
tables = ['${table}']
format = "outboxx"
${streamToml}
`,
    { path: "test.toml", env: {} }
  )
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

const column = (name: string, typeOid: number, isKey = false): RelationColumn => ({ isKey, name, typeOid, typeMod: -1 })

const relationOf = (
  name: string,
  columns: ReadonlyArray<RelationColumn>,
  replicaIdentity: Relation["replicaIdentity"] = "default"
): Relation => ({ tag: "Relation", xid: undefined, relationId: RELATION_ID, schema: "public", name, replicaIdentity, columns })

interface Setup {
  readonly relation: Relation
  readonly primaryKey?: ReadonlyArray<string>
  /** Extra keys of the [[streams]] table (key, tombstones, exclude_columns, ...). */
  readonly stream?: string
  /** The `tables` entry, when the relation's name needs quoting. */
  readonly table?: string
  readonly database?: string
}

const routerFor = ({ database = "shop", primaryKey = [], relation, stream = "", table }: Setup): Router => {
  const settings = settingsFor(table ?? `public.${relation.name}`, stream)
  const entry = planRelation(relation, settings, new TypeRegistry(), primaryKey, streamFormats(settings, database))
  if (entry instanceof TablePlanError) throw entry
  expect(entry.plans).toHaveLength(1)
  expect(entry.plans[0]!.stream.format).toBe("outboxx")
  const router = new Router(1, new CheckpointTracker(50))
  router.setRelation(entry)
  router.startBatch(NOW)
  return router
}

// ---------------------------------------------------------------------------
// Transactions and messages

interface Txn {
  readonly xid: number
  readonly finalLsn: number
  /** `finalLsn` as PostgreSQL prints it, written out by hand. */
  readonly commitLsn: string
  /** Microseconds since 2000-01-01 UTC. */
  readonly commitTime: number
  readonly commitTs: string
}

const pgMicros = (iso: string, extraMicros: number) =>
  (Date.parse(iso) - Date.parse("2000-01-01T00:00:00Z")) * 1000 + extraMicros

const TX1: Txn = {
  xid: 735,
  finalLsn: 0x16B37F0,
  commitLsn: "0/16B37F0",
  commitTime: pgMicros("2026-11-23T20:00:00.123Z", 456),
  commitTs: "2026-11-23T20:00:00.123456Z"
}

const TX2: Txn = {
  xid: 736,
  finalLsn: 0x16B3900,
  commitLsn: "0/16B3900",
  commitTime: pgMicros("2026-11-23T20:00:01.000Z", 7),
  commitTs: "2026-11-23T20:00:01.000007Z"
}

/** Change LSNs within TX1 (and their text). */
const L1 = 0x16B3748
const L1_TEXT = "0/16B3748"

type Change = readonly [lsn: number, message: PlainMessage]

const begin = (router: Router, tx: Txn) =>
  router.route(tx.finalLsn - 0x200, { tag: "Begin", finalLsn: tx.finalLsn, commitTime: tx.commitTime, xid: tx.xid })

const commit = (router: Router, tx: Txn) =>
  router.route(tx.finalLsn, { tag: "Commit", flags: 0, commitLsn: tx.finalLsn, endLsn: tx.finalLsn + 0x30, commitTime: tx.commitTime })

const transaction = (router: Router, tx: Txn, changes: ReadonlyArray<Change>) => {
  begin(router, tx)
  for (const [lsn, message] of changes) router.route(lsn, fromPlain(message))
  commit(router, tx)
}

const insert = (newTuple: ReadonlyArray<TupleValue>): PlainMessage => ({
  tag: "Insert",
  xid: undefined,
  relationId: RELATION_ID,
  newTuple
})

const update = (
  newTuple: ReadonlyArray<TupleValue>,
  old?: { readonly kind: "key" | "full"; readonly tuple: ReadonlyArray<TupleValue> }
): PlainMessage => ({
  tag: "Update",
  xid: undefined,
  relationId: RELATION_ID,
  oldKind: old?.kind,
  oldTuple: old?.tuple,
  newTuple
})

const del = (oldKind: "key" | "full", oldTuple: ReadonlyArray<TupleValue>): PlainMessage => ({
  tag: "Delete",
  xid: undefined,
  relationId: RELATION_ID,
  oldKind,
  oldTuple
})

// ---------------------------------------------------------------------------
// Records as text, and the expected text

interface TextRecord {
  readonly topic: string
  readonly key: string | null
  readonly value: string | null
}

const text = (part: string | Buffer | null): string | null => {
  if (part === null) return null
  // The byte path hands out Buffers (views into slabs), never strings.
  expect(Buffer.isBuffer(part)).toBe(true)
  return (part as Buffer).toString("utf8")
}

const recordsOf = (router: Router): Array<TextRecord> =>
  router.outbox(0).records.map((r) => ({ topic: r.topic, key: text(r.key), value: text(r.value) }))

type Row = Record<string, unknown>

interface At {
  readonly lsn: string
  readonly tx?: Txn
  readonly unchanged?: ReadonlyArray<string>
  readonly table?: string
  readonly db?: string
  readonly tsMs?: number
}

/** The event value INTERFACE.md describes, as JSON text in eventValue's field order. */
const event = (op: string, before: Row | null, after: Row | null, at: At): string =>
  JSON.stringify({
    op,
    before,
    after,
    ...(at.unchanged === undefined ? {} : { unchanged: at.unchanged }),
    source: {
      db: at.db ?? "shop",
      schema: "public",
      table: at.table ?? "orders",
      lsn: at.lsn,
      commitLsn: (at.tx ?? TX1).commitLsn,
      txId: (at.tx ?? TX1).xid,
      commitTs: (at.tx ?? TX1).commitTs,
      snapshot: false
    },
    ts_ms: at.tsMs ?? NOW
  })

const key = (fields: Row): string => JSON.stringify(fields)

// ---------------------------------------------------------------------------
// The orders table

/** id int8 (primary key), status text, total numeric, note text (TOASTable), secret text. */
const ordersColumns = (identity: "default" | "full") => {
  const full = identity === "full" // pgoutput flags every column as key under REPLICA IDENTITY FULL
  return [
    column("id", Oid.int8, true),
    column("status", Oid.text, full),
    column("total", Oid.numeric, full),
    column("note", Oid.text, full),
    column("secret", Oid.text, full)
  ]
}
const ORDERS = relationOf("orders", ordersColumns("default"))
const ORDERS_FULL = relationOf("orders", ordersColumns("full"), "full")
const orders = (stream = "") => routerFor({ relation: ORDERS, primaryKey: ["id"], stream })
const ordersFull = (stream = "") => routerFor({ relation: ORDERS_FULL, primaryKey: ["id"], stream })

const row42 = ["42", "paid", "10.50", "a long note", "s3cret"]
const json42 = { id: 42, status: "paid", total: "10.50", note: "a long note", secret: "s3cret" }
const key42 = key({ id: 42 })
const TOPIC = "outboxx.public.orders"

// ---------------------------------------------------------------------------

describe("Router, format outboxx: inserts and updates", () => {
  it("writes an insert as op c with before null and the whole row, keyed by the primary key", () => {
    const router = orders()
    transaction(router, TX1, [[L1, insert(row42)]])
    expect(recordsOf(router)).toEqual([
      { topic: TOPIC, key: key42, value: event("c", null, json42, { lsn: L1_TEXT }) }
    ])
  })

  it("writes NULL columns as null", () => {
    const router = orders()
    transaction(router, TX1, [[L1, insert(["7", null, null, null, ""])]])
    expect(recordsOf(router)[0]!.value).toBe(
      event("c", null, { id: 7, status: null, total: null, note: null, secret: "" }, { lsn: L1_TEXT })
    )
  })

  it("writes an update without an old row (REPLICA IDENTITY DEFAULT) with before = the identity columns", () => {
    // Router.emitRow: "For an update without a full old row, `before` holds the
    // replica identity columns only"; INTERFACE.md: `before` is "the identity
    // columns only" unless REPLICA IDENTITY FULL. The key did not change, so
    // the new row's identity columns are the old row's.
    const router = orders()
    transaction(router, TX1, [[L1, update(["42", "shipped", "10.50", "a long note", "s3cret"])]])
    expect(recordsOf(router)).toEqual([
      {
        topic: TOPIC,
        key: key42,
        value: event("u", { id: 42 }, { ...json42, status: "shipped" }, { lsn: L1_TEXT })
      }
    ])
  })

  it("writes an update with the full old row ('O') as before, filling an unchanged TOAST value from it", () => {
    const router = ordersFull()
    const old = ["42", "paid", "10.50", "a long note", "s3cret"]
    transaction(router, TX1, [[L1, update(["42", "shipped", "11.00", Unchanged, "s3cret"], { kind: "full", tuple: old })]])
    expect(recordsOf(router)).toEqual([
      {
        topic: TOPIC,
        key: key42,
        value: event("u", json42, { ...json42, status: "shipped", total: "11.00" }, { lsn: L1_TEXT })
      }
    ])
  })

  it("leaves out unchanged TOAST values it cannot fill and lists them under unchanged", () => {
    const router = orders()
    transaction(router, TX1, [
      [L1, update(["42", "shipped", "10.50", Unchanged, "s3cret"])],
      [L1 + 0x28, update(["42", "paid", "10.50", Unchanged, Unchanged])]
    ])
    const [one, two] = recordsOf(router)
    expect(one!.value).toBe(
      event("u", { id: 42 }, { id: 42, status: "shipped", total: "10.50", secret: "s3cret" }, {
        lsn: L1_TEXT,
        unchanged: ["note"]
      })
    )
    expect(two!.value).toBe(
      event("u", { id: 42 }, { id: 42, status: "paid", total: "10.50" }, {
        lsn: "0/16B3770",
        unchanged: ["note", "secret"]
      })
    )
  })

  it("does not fill from an old row that holds the key only ('K')", () => {
    // A 'K' old tuple carries the identity columns; the others are nulls, not values.
    const router = orders()
    transaction(router, TX1, [
      [L1, update(["42", "paid", "10.50", Unchanged, "s3cret"], { kind: "key", tuple: ["42", null, null, null, null] })]
    ])
    expect(recordsOf(router)[0]!.value).toBe(
      event("u", { id: 42 }, { id: 42, status: "paid", total: "10.50", secret: "s3cret" }, {
        lsn: L1_TEXT,
        unchanged: ["note"]
      })
    )
  })
})

describe("Router, format outboxx: deletes and key changes", () => {
  it("writes a delete with a key-only old row as before = the key, then a tombstone", () => {
    const router = orders()
    transaction(router, TX1, [[L1, del("key", ["42", null, null, null, null])]])
    expect(recordsOf(router)).toEqual([
      { topic: TOPIC, key: key42, value: event("d", { id: 42 }, null, { lsn: L1_TEXT }) },
      { topic: TOPIC, key: key42, value: null }
    ])
  })

  it("writes a delete with a full old row (REPLICA IDENTITY FULL) as before = the whole row", () => {
    const router = ordersFull()
    transaction(router, TX1, [[L1, del("full", row42)]])
    expect(recordsOf(router)).toEqual([
      { topic: TOPIC, key: key42, value: event("d", json42, null, { lsn: L1_TEXT }) },
      { topic: TOPIC, key: key42, value: null }
    ])
  })

  it("writes no tombstone when the stream has tombstones off", () => {
    const router = orders("tombstones = false")
    transaction(router, TX1, [[L1, del("key", ["42", null, null, null, null])]])
    expect(recordsOf(router)).toEqual([
      { topic: TOPIC, key: key42, value: event("d", { id: 42 }, null, { lsn: L1_TEXT }) }
    ])
  })

  it("writes a primary-key change as delete of the old key, tombstone, create of the new key", () => {
    const router = orders()
    transaction(router, TX1, [[L1, update(["43", "paid", "10.50", "a long note", "s3cret"], { kind: "key", tuple: ["42", null, null, null, null] })]])
    expect(recordsOf(router)).toEqual([
      { topic: TOPIC, key: key42, value: event("d", { id: 42 }, null, { lsn: L1_TEXT }) },
      { topic: TOPIC, key: key42, value: null },
      { topic: TOPIC, key: key({ id: 43 }), value: event("c", null, { ...json42, id: 43 }, { lsn: L1_TEXT }) }
    ])
  })

  it("does not take the nulls a key-only old row sends outside the replica identity for a key change", () => {
    // Primary key id, REPLICA IDENTITY USING INDEX on status: the 'K' old row
    // carries status and null for everything else, id included.
    const byStatus = relationOf("orders", [
      column("id", Oid.int8),
      column("status", Oid.text, true),
      column("total", Oid.numeric),
      column("note", Oid.text),
      column("secret", Oid.text)
    ], "index")
    const router = routerFor({ relation: byStatus, primaryKey: ["id"] })
    transaction(router, TX1, [[L1, update(["42", "shipped", "10.50", "a long note", "s3cret"], { kind: "key", tuple: [null, "paid", null, null, null] })]])
    expect(recordsOf(router)).toEqual([
      { topic: TOPIC, key: key42, value: event("u", { status: "paid" }, { ...json42, status: "shipped" }, { lsn: L1_TEXT }) }
    ])
  })

  it("writes a primary-key change under REPLICA IDENTITY FULL with the whole old row, and without tombstone when off", () => {
    const router = ordersFull("tombstones = false")
    transaction(router, TX1, [[L1, update(["43", "new", "1.00", "n", "s"], { kind: "full", tuple: row42 })]])
    expect(recordsOf(router)).toEqual([
      { topic: TOPIC, key: key42, value: event("d", json42, null, { lsn: L1_TEXT }) },
      {
        topic: TOPIC,
        key: key({ id: 43 }),
        value: event("c", null, { id: 43, status: "new", total: "1.00", note: "n", secret: "s" }, { lsn: L1_TEXT })
      }
    ])
  })
})

describe("Router, format outboxx: Kafka keys", () => {
  it("gives a table without key columns a null Kafka key", () => {
    const relation = relationOf("audit_log", [column("at", Oid.text), column("what", Oid.text)], "nothing")
    const router = routerFor({ relation })
    transaction(router, TX1, [[L1, insert(["noon", "login"])]])
    expect(recordsOf(router)).toEqual([
      {
        topic: "outboxx.public.audit_log",
        key: null,
        value: event("c", null, { at: "noon", what: "login" }, { lsn: L1_TEXT, table: "audit_log" })
      }
    ])
  })

  const LINES = relationOf("lines", [
    column("order_id", Oid.int8, true),
    column("line", Oid.int4, true),
    column("sku", Oid.text),
    column("qty", Oid.int4)
  ])
  const line = ["42", "3", "A\"1/é", "5"]

  it("writes a multi-column primary key in the primary key's order", () => {
    const router = routerFor({ relation: LINES, primaryKey: ["line", "order_id"] })
    transaction(router, TX1, [[L1, insert(line)]])
    expect(recordsOf(router)[0]!.key).toBe(`{"line":3,"order_id":42}`)
  })

  it("falls back to the replica identity columns when the table has no primary key", () => {
    const router = routerFor({ relation: LINES })
    transaction(router, TX1, [[L1, insert(line)]])
    expect(recordsOf(router)[0]!.key).toBe(`{"order_id":42,"line":3}`)
  })

  it("writes configured key columns in their configured order, escaped like values", () => {
    const router = routerFor({ relation: LINES, primaryKey: ["order_id", "line"], stream: `key = ["sku", "order_id"]` })
    transaction(router, TX1, [[L1, insert(line)]])
    const records = recordsOf(router)
    expect(records[0]!.key).toBe(`{"sku":"A\\"1/é","order_id":42}`)
    expect(records[0]!.key).toBe(key({ sku: "A\"1/é", order_id: 42 }))
    expect(records[0]!.value).toBe(
      event("c", null, { order_id: 42, line: 3, sku: "A\"1/é", qty: 5 }, { lsn: L1_TEXT, table: "lines" })
    )
  })
})

describe("Router, format outboxx: column masks", () => {
  it("leaves exclude_columns out of before, after and unchanged", () => {
    const router = ordersFull(`exclude_columns = ["secret"]`)
    const { secret: _, ...withoutSecret } = json42
    transaction(router, TX1, [
      [L1, insert(row42)],
      [L1 + 8, update(["42", "paid", "10.50", "a long note", Unchanged], { kind: "full", tuple: ["42", "new", "10.50", "a long note", Unchanged] })],
      [L1 + 16, del("full", row42)]
    ])
    const values = recordsOf(router).map((r) => r.value)
    expect(values).toEqual([
      event("c", null, withoutSecret, { lsn: L1_TEXT }),
      event("u", { ...withoutSecret, status: "new" }, withoutSecret, { lsn: "0/16B3750" }),
      event("d", withoutSecret, null, { lsn: "0/16B3758" }),
      null
    ])
  })

  it("keeps only include_columns, and lists only included columns as unchanged", () => {
    const router = orders(`include_columns = ["id", "status", "note"]`)
    transaction(router, TX1, [
      [L1, insert(row42)],
      [L1 + 8, update(["42", "paid", "10.50", Unchanged, Unchanged])]
    ])
    const values = recordsOf(router).map((r) => r.value)
    expect(values).toEqual([
      event("c", null, { id: 42, status: "paid", note: "a long note" }, { lsn: L1_TEXT }),
      event("u", { id: 42 }, { id: 42, status: "paid" }, { lsn: "0/16B3750", unchanged: ["note"] })
    ])
  })
})

describe("Router, format outboxx: source", () => {
  it("prints LSNs above 2^32 like PostgreSQL: upper-case hex halves without leading zeros", () => {
    const router = orders()
    const high: Txn = { ...TX1, finalLsn: 0x16_B374_D900, commitLsn: "16/B374D900" }
    const low: Txn = { ...TX2, finalLsn: 0x1_0000_00F0, commitLsn: "1/F0" }
    const top: Txn = { ...TX2, xid: 737, finalLsn: Number.MAX_SAFE_INTEGER - 0x100, commitLsn: "1FFFFF/FFFFFEFF" }
    transaction(router, low, [[0x1_0000_000A, insert(row42)]])
    transaction(router, high, [[0x16_B374_D848, insert(row42)]])
    transaction(router, top, [[Number.MAX_SAFE_INTEGER - 0x110, insert(row42)]])
    expect(recordsOf(router).map((r) => r.value)).toEqual([
      event("c", null, json42, { lsn: "1/A", tx: low }),
      event("c", null, json42, { lsn: "16/B374D848", tx: high }),
      event("c", null, json42, { lsn: "1FFFFF/FFFFFEEF", tx: top })
    ])
  })

  it("gives each of two transactions in one batch its own txId, commitLsn and commitTs", () => {
    const router = orders()
    transaction(router, TX1, [[L1, insert(row42)], [L1 + 8, update(["42", "shipped", "10.50", "a long note", "s3cret"])]])
    transaction(router, TX2, [[0x16B3800, del("key", ["42", null, null, null, null])]])
    expect(recordsOf(router).map((r) => r.value)).toEqual([
      event("c", null, json42, { lsn: L1_TEXT }),
      event("u", { id: 42 }, { ...json42, status: "shipped" }, { lsn: "0/16B3750" }),
      event("d", { id: 42 }, null, { lsn: "0/16B3800", tx: TX2 }),
      null
    ])
    const outbox = router.outbox(0)
    expect(outbox.counts).toEqual([2, 2])
    expect(outbox.txs[0]).not.toBe(outbox.txs[1])
  })

  it("writes the current router.now as ts_ms, also when it changes inside a transaction", () => {
    const router = orders()
    begin(router, TX1)
    router.route(L1, fromPlain(insert(row42)))
    router.startBatch(NOW + 5)
    router.route(L1 + 8, fromPlain(insert(row42)))
    commit(router, TX1)
    transaction(router, TX2, [[0x16B3800, insert(row42)]])
    expect(recordsOf(router).map((r) => r.value)).toEqual([
      event("c", null, json42, { lsn: L1_TEXT }),
      event("c", null, json42, { lsn: "0/16B3750", tsMs: NOW + 5 }),
      event("c", null, json42, { lsn: "0/16B3800", tx: TX2, tsMs: NOW + 5 })
    ])
  })
})

describe("Router, format outboxx: JSON escaping", () => {
  // Column names and a table name PostgreSQL allows as quoted identifiers.
  const WEIRD = relationOf(`odd"table`, [
    column(`k"ey`, Oid.int4, true),
    column(`back\\slash "quoted"`, Oid.text),
    column("naïve ✓ 名前", Oid.text),
    column("tab\there", Oid.text),
    column("ok", Oid.bool)
  ])
  const values = [`say "hi" \\ bye`, "héllo wörld ✓ 😀 名前", "line\nbreak\ttab\u0001ctl", "t"]
  const expected: Row = {
    "k\"ey": 1,
    "back\\slash \"quoted\"": values[0],
    "naïve ✓ 名前": values[1],
    "tab\there": values[2],
    ok: true
  }

  it("escapes column names, table names and text values, and keeps non-ASCII as UTF-8", () => {
    const router = routerFor({
      relation: WEIRD,
      table: `public."odd""table"`,
      stream: `topic = "weird"`,
      database: "boutique_été"
    })
    transaction(router, TX1, [
      [L1, insert(["1", ...values])],
      [L1 + 8, update(["1", Unchanged, Unchanged, Unchanged, "f"])]
    ])
    const at = { table: `odd"table`, db: "boutique_été" }
    expect(recordsOf(router)).toEqual([
      { topic: "weird", key: `{"k\\"ey":1}`, value: event("c", null, expected, { ...at, lsn: L1_TEXT }) },
      {
        topic: "weird",
        key: `{"k\\"ey":1}`,
        value: event("u", { "k\"ey": 1 }, { "k\"ey": 1, ok: false }, {
          ...at,
          lsn: "0/16B3750",
          unchanged: ["back\\slash \"quoted\"", "naïve ✓ 名前", "tab\there"]
        })
      }
    ])
    // The text is what a consumer parses back.
    expect(JSON.parse(recordsOf(router)[0]!.value!).after).toEqual(expected)
  })
})

describe("Router, format outboxx: slabs", () => {
  it("keeps the keys and values handed out earlier intact after more than 64 KB more output", () => {
    const router = orders()
    const filler = "x".repeat(100)
    const rowN = (n: number) => [String(n), `status ${n}`, `${n}.25`, `${filler} ${n}`, "ü".repeat(n % 7)]
    const jsonN = (n: number) => ({ id: n, status: `status ${n}`, total: `${n}.25`, note: `${filler} ${n}`, secret: "ü".repeat(n % 7) })
    const lsnOf = (n: number) => 0x2_0000_0000 + n * 0x40
    const tx: Txn = { ...TX1, finalLsn: 0x3_0000_0000, commitLsn: "3/0" }

    transaction(router, tx, [[lsnOf(1), insert(rowN(1))]])
    const first = router.outbox(0).records[0]!
    const firstKey = text(first.key)
    const firstValue = text(first.value)
    expect(firstKey).toBe(key({ id: 1 }))
    expect(firstValue).toBe(event("c", null, jsonN(1), { lsn: "2/40", tx }))

    // ~200 bytes per event: 2000 of them fill several 64 KB slabs; one row larger than a slab in between.
    const big = "B".repeat(150_000)
    const changes: Array<Change> = []
    for (let n = 2; n <= 2000; n++) changes.push([lsnOf(n), n === 1000 ? insert(["1000", big, "0", "", ""]) : insert(rowN(n))])
    transaction(router, tx, changes)

    const records = router.outbox(0).records
    expect(records).toHaveLength(2000)
    const total = records.reduce((sum, r) => sum + (r.key as Buffer).length + (r.value as Buffer).length, 0)
    expect(total).toBeGreaterThan(4 * 64 * 1024)
    expect(text(first.key)).toBe(firstKey)
    expect(text(first.value)).toBe(firstValue)
    for (let n = 1; n <= 2000; n++) {
      const r = records[n - 1]!
      const lsn = `2/${(n * 0x40).toString(16).toUpperCase()}`
      const after = n === 1000 ? { id: 1000, status: big, total: "0", note: "", secret: "" } : jsonN(n)
      expect(text(r.key)).toBe(key({ id: n }))
      expect(text(r.value)).toBe(event("c", null, after, { lsn, tx }))
    }
  })

  it("reuses a slab only once every outbox holding it was released, and records of held outboxes stay intact", () => {
    const router = orders()
    const rowN = (n: number) => [String(n), `status ${n}`, `${n}.25`, `note ${"n".repeat(n % 90)}`, ""]
    const jsonN = (n: number) => ({ id: n, status: `status ${n}`, total: `${n}.25`, note: `note ${"n".repeat(n % 90)}`, secret: "" })
    const tx: Txn = { ...TX1, finalLsn: 0x3_0000_0000, commitLsn: "3/0" }
    const lsnOf = (n: number) => 0x2_0000_0000 + n * 0x40
    // As the pipeline does: route a batch, hand the outbox over, start a new one.
    const handedOver: Array<{ outbox: Outbox; first: number }> = []
    let n = 0
    for (let batch = 0; batch < 60; batch++) {
      const first = n + 1
      const changes: Array<Change> = []
      for (let i = 0; i < 100; i++) changes.push([lsnOf(++n), insert(rowN(n))])
      transaction(router, tx, changes)
      handedOver.push({ outbox: router.takeOutboxes()[0]!, first })
      // Kafka acknowledges out of step with routing: release every outbox but the last four.
      if (handedOver.length > 4) releaseSlabs(handedOver[handedOver.length - 5]!.outbox.slabs)
    }
    // The outboxes still held (the last four) read back exactly, though ~20 slabs were reused meanwhile.
    for (const { outbox, first } of handedOver.slice(-4)) {
      expect(outbox.slabs!.length).toBeGreaterThan(0)
      outbox.records.forEach((r, i) => {
        const m = first + i
        expect(text(r.key)).toBe(key({ id: m }))
        expect(text(r.value)).toBe(event("c", null, jsonN(m), { lsn: `2/${(m * 0x40).toString(16).toUpperCase()}`, tx }))
      })
    }
    // Every slab an unreleased outbox holds is still held.
    const held = new Set(handedOver.slice(-4).flatMap(({ outbox }) => outbox.slabs!))
    for (const slab of held) expect(slab.refs).toBeGreaterThan(0)
    // And the test did exercise reuse: slabs of released outboxes were written again for later ones.
    const released = handedOver.slice(0, -4).flatMap(({ outbox }) => outbox.slabs!)
    expect(released.some((slab) => held.has(slab))).toBe(true)
  })

  it("drops the part of an event a failing value left behind", () => {
    const relation = relationOf("flags", [column("id", Oid.int4, true), column("ok", Oid.bool)])
    const router = routerFor({ relation, primaryKey: ["id"] })
    begin(router, TX1)
    router.route(L1, fromPlain(insert(["1", "t"])))
    expect(() => router.route(L1 + 8, fromPlain(insert(["2", "maybe"])))).toThrow()
    router.route(L1 + 16, fromPlain(insert(["3", "f"])))
    commit(router, TX1)
    expect(recordsOf(router)).toEqual([
      { topic: "outboxx.public.flags", key: `{"id":1}`, value: event("c", null, { id: 1, ok: true }, { lsn: L1_TEXT, table: "flags" }) },
      { topic: "outboxx.public.flags", key: `{"id":3}`, value: event("c", null, { id: 3, ok: false }, { lsn: "0/16B3758", table: "flags" }) }
    ])
  })
})
