/**
 * The decoder against the real pgoutput plugin: rows of every change kind
 * are written to a fresh database, read back raw through
 * pg_logical_slot_{peek,get}_binary_changes and decoded message by message.
 */
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { formatLsn, parseLsn } from "../../src/postgres/lsn.js"
import { createPgoutputDecoder, isPgoutputDecodeError } from "../../src/decode/decoder.js"
import type { Relation } from "../../src/decode/messages.js"
import { Unchanged } from "../../src/decode/messages.js"
import { type PlainMessage, toPlain } from "../decode/plain.js"
import { createTestDatabase, type TestDatabase, uniqueName } from "../support/servers.js"

interface RawChange {
  readonly lsn: string
  readonly data: Buffer
}

/**
 * Decodes every row's `data` with one decoder; any decode error fails the test with its details.
 * Tuples come back as arrays of values (decoded tuples share a slab; see plain.ts).
 */
const decodeRows = (rows: ReadonlyArray<RawChange>, protocolVersion: number): Array<PlainMessage> => {
  const decoder = createPgoutputDecoder(protocolVersion)
  return rows.map((row) => {
    const result = decoder.decode(row.data, 0, row.data.length, parseLsn(row.lsn))
    if (isPgoutputDecodeError(result)) throw new Error(result.message)
    return toPlain(result)
  })
}

const pick = <T extends PlainMessage["tag"]>(messages: ReadonlyArray<PlainMessage>, tag: T) =>
  messages.filter((m): m is Extract<PlainMessage, { tag: T }> => m.tag === tag)

describe("pgoutput decoder against PostgreSQL", () => {
  let db: TestDatabase
  let client: pg.Client

  beforeAll(async () => {
    db = await createTestDatabase("pgoutput_real")
    client = new pg.Client({ connectionString: db.url })
    await client.connect()
    // The dev cluster runs with synchronous_commit = off; the slot functions
    // only read WAL that is flushed, so make our commits flush it.
    await client.query("SET synchronous_commit = on")
  })

  afterAll(async () => {
    await client?.end()
    await db?.drop()
  })

  it("decodes begin/relation/insert/update/delete/truncate/message/commit, protocol 1, text and binary", async () => {
    const slot = uniqueName("pgo_slot")
    const pub = uniqueName("pgo_pub")
    await client.query(`
      CREATE TABLE "Zamówienia" (id int4 PRIMARY KEY, name text, amount numeric(10,2), big text);
      ALTER TABLE "Zamówienia" REPLICA IDENTITY FULL;
      CREATE TABLE docs (id int4 PRIMARY KEY, title text, body text);
      ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
      CREATE PUBLICATION ${pub} FOR TABLE "Zamówienia", docs;
    `)
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot])
    try {
      await client.query(`INSERT INTO "Zamówienia" VALUES (1, 'Łukasz 🎉', 12.50, NULL)`)
      await client.query(`UPDATE "Zamówienia" SET name = 'Anna' WHERE id = 1`)
      await client.query(`DELETE FROM "Zamówienia" WHERE id = 1`)
      await client.query(`INSERT INTO docs SELECT 1, 'first', string_agg(md5(i::text), '') FROM generate_series(1, 200) i`)
      // The unchanged out-of-line TOAST value is sent as 'u'; default identity: no old tuple.
      await client.query(`UPDATE docs SET title = 'second' WHERE id = 1`)
      await client.query(`DELETE FROM docs WHERE id = 1`)
      await client.query("BEGIN")
      await client.query(`INSERT INTO "Zamówienia" VALUES (2, NULL, 1, 'x'), (3, '', -3.5, 'y')`)
      await client.query(`SELECT pg_logical_emit_message(true, 'outboxx/tx', 'in a transaction ü')`)
      await client.query("COMMIT")
      await client.query(`SELECT pg_logical_emit_message(false, 'outboxx/plain', '\\x00ff'::bytea)`)
      await client.query(`TRUNCATE "Zamówienia", docs RESTART IDENTITY CASCADE`)

      const options = ["'proto_version'", "'1'", "'publication_names'", "$2", "'messages'", "'true'"]
      const peekBinary = await client.query<RawChange>(
        `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, ${options.join(", ")}, 'binary', 'true')`,
        [slot, pub]
      )
      const rows = await client.query<RawChange>(
        `SELECT lsn::text AS lsn, data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, ${options.join(", ")})`,
        [slot, pub]
      )
      const messages = decodeRows(rows.rows, 1)

      // Relation messages may be repeated after invalidations (TRUNCATE); the rest is exact.
      expect(messages.filter((m) => m.tag !== "Relation").map((m) => m.tag)).toEqual([
        "Begin", "Insert", "Commit",
        "Begin", "Update", "Commit",
        "Begin", "Delete", "Commit",
        "Begin", "Insert", "Commit",
        "Begin", "Update", "Commit",
        "Begin", "Delete", "Commit",
        "Begin", "Insert", "Insert", "Message", "Commit",
        "Message",
        "Begin", "Truncate", "Commit"
      ])
      expect(messages[1]!.tag).toBe("Relation")

      const relations = pick(messages, "Relation")
      const orders = relations.find((r) => r.name === "Zamówienia") as Relation
      const docs = relations.find((r) => r.name === "docs") as Relation
      expect(orders).toMatchObject({ xid: undefined, schema: "public", replicaIdentity: "full" })
      expect(orders.columns).toEqual([
        // With REPLICA IDENTITY FULL every column is part of the identity.
        { isKey: true, name: "id", typeOid: 23, typeMod: -1 },
        { isKey: true, name: "name", typeOid: 25, typeMod: -1 },
        { isKey: true, name: "amount", typeOid: 1700, typeMod: ((10 << 16) | 2) + 4 },
        { isKey: true, name: "big", typeOid: 25, typeMod: -1 }
      ])
      expect(docs.replicaIdentity).toBe("default")
      expect(docs.columns.map((c) => [c.name, c.isKey])).toEqual([["id", true], ["title", false], ["body", false]])

      const begins = pick(messages, "Begin")
      const commits = pick(messages, "Commit")
      expect(begins.length).toBe(commits.length)
      begins.forEach((begin, i) => {
        expect(begin.finalLsn).toBe(commits[i]!.commitLsn)
        expect(begin.commitTime).toBe(commits[i]!.commitTime)
        expect(commits[i]!.endLsn).toBeGreaterThan(commits[i]!.commitLsn)
        // Commit times are recent: within a day of now, in microseconds since 2000.
        expect(Math.abs(begin.commitTime / 1000 + Date.UTC(2000, 0, 1) - Date.now())).toBeLessThan(86_400_000)
      })

      const inserts = pick(messages, "Insert")
      expect(inserts.map((i) => [i.relationId, i.newTuple])).toEqual([
        [orders.relationId, ["1", "Łukasz 🎉", "12.50", null]],
        [docs.relationId, ["1", "first", expect.stringMatching(/^[0-9a-f]{6400}$/)]],
        [orders.relationId, ["2", null, "1.00", "x"]],
        [orders.relationId, ["3", "", "-3.50", "y"]]
      ])

      const updates = pick(messages, "Update")
      expect(updates[0]).toEqual({
        tag: "Update", xid: undefined, relationId: orders.relationId,
        oldKind: "full", oldTuple: ["1", "Łukasz 🎉", "12.50", null], newTuple: ["1", "Anna", "12.50", null]
      })
      expect(updates[1]).toEqual({
        tag: "Update", xid: undefined, relationId: docs.relationId,
        oldKind: undefined, oldTuple: undefined, newTuple: ["1", "second", Unchanged]
      })

      const deletes = pick(messages, "Delete")
      expect(deletes[0]).toEqual({
        tag: "Delete", xid: undefined, relationId: orders.relationId, oldKind: "full", oldTuple: ["1", "Anna", "12.50", null]
      })
      expect(deletes[1]).toEqual({
        tag: "Delete", xid: undefined, relationId: docs.relationId, oldKind: "key", oldTuple: ["1", null, null]
      })

      const [txMessage, plainMessage] = pick(messages, "Message")
      expect(txMessage).toMatchObject({ xid: undefined, transactional: true, prefix: "outboxx/tx" })
      expect(Buffer.from(txMessage!.content).toString("utf8")).toBe("in a transaction ü")
      expect(plainMessage).toMatchObject({ transactional: false, prefix: "outboxx/plain" })
      expect(Array.from(plainMessage!.content)).toEqual([0x00, 0xff])
      expect(formatLsn(plainMessage!.lsn)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)

      const [truncate] = pick(messages, "Truncate")
      expect(truncate).toMatchObject({ xid: undefined, cascade: true, restartIdentity: true })
      expect([...truncate!.relationIds].sort()).toEqual([orders.relationId, docs.relationId].sort())

      // The same changes with binary = true carry 'b' values (int4 is 4 bytes big-endian).
      const binary = decodeRows(peekBinary.rows, 1)
      expect(binary.map((m) => m.tag)).toEqual(messages.map((m) => m.tag))
      const firstInsert = pick(binary, "Insert")[0]!
      const [id, name, , big] = firstInsert.newTuple
      expect(Buffer.from(id as Uint8Array).toString("hex")).toBe("00000001")
      expect(Buffer.from(name as Uint8Array).toString("utf8")).toBe("Łukasz 🎉")
      expect(big).toBeNull()
    } finally {
      await client.query("SELECT pg_drop_replication_slot($1)", [slot])
    }
  })

  it("decodes a streamed in-progress transaction (protocol 2): xids inside stream blocks only", async () => {
    const slot = uniqueName("pgo_stream")
    const pub = uniqueName("pgo_spub")
    await client.query(`CREATE TABLE streamed (id int4 PRIMARY KEY, pad text); CREATE PUBLICATION ${pub} FOR TABLE streamed`)
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot])
    try {
      // Bigger than logical_decoding_work_mem (64kB, the minimum) so the walsender streams it.
      await client.query("INSERT INTO streamed SELECT i, repeat('x', 200) FROM generate_series(1, 2000) i")
      await client.query("INSERT INTO streamed VALUES (0, 'small')")
      await client.query("SET logical_decoding_work_mem = '64kB'")
      const rows = await client.query<RawChange>(
        `SELECT lsn::text AS lsn, data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL,
           'proto_version', '2', 'publication_names', $2, 'streaming', 'true')`,
        [slot, pub]
      )
      const messages = decodeRows(rows.rows, 2)
      const starts = pick(messages, "StreamStart")
      expect(starts.length).toBeGreaterThan(0)
      expect(starts[0]!.firstSegment).toBe(true)
      const xid = starts[0]!.xid
      expect(pick(messages, "StreamStop").length).toBe(starts.length)
      expect(pick(messages, "StreamCommit")).toEqual([expect.objectContaining({ tag: "StreamCommit", xid })])

      let inBlock = false
      let streamedRows = 0
      let plainRows = 0
      for (const m of messages) {
        if (m.tag === "StreamStart") inBlock = true
        else if (m.tag === "StreamStop") inBlock = false
        else if (m.tag === "Insert" || m.tag === "Relation") {
          expect(m.xid).toBe(inBlock ? xid : undefined)
          if (m.tag === "Insert") inBlock ? streamedRows++ : plainRows++
        }
      }
      expect(streamedRows).toBe(2000)
      expect(plainRows).toBe(1)
      expect(pick(messages, "Insert").at(-1)!.newTuple).toEqual(["0", "small"])
    } finally {
      await client.query("SELECT pg_drop_replication_slot($1)", [slot])
    }
  })
})
