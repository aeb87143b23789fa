/**
 * The streaming pipeline against the real PostgreSQL, with an in-memory
 * RecordSink standing in for Kafka (the Kafka sink has its own tests and the
 * end-to-end tests run the whole CLI against the real broker).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { OutboxxSettings } from "../../src/config/model.js"
import type { OutRecord } from "../../src/deliver/kafka/batching.js"
import type { RecordSink } from "../../src/deliver/RecordSink.js"
import { createTestDatabase, pgQuery, type TestDatabase, uniqueName } from "../support/servers.js"
import { runStreaming } from "../../src/pipeline/Streaming.js"
import { startStreaming, testSettings, testSignalKey, waitFor } from "../support/pipeline.js"

let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase("pipeline")
  await pgQuery(db.url, `
    CREATE TABLE public.orders (id int8 PRIMARY KEY, status text NOT NULL, total numeric(10,2), meta jsonb, big text);
    -- Stored out of line and uncompressed, so an update that leaves it alone does not resend it.
    ALTER TABLE public.orders ALTER COLUMN big SET STORAGE EXTERNAL;
    CREATE SCHEMA "Sales";
    CREATE TABLE "Sales"."LineItems" ("Id" int4 PRIMARY KEY, "Qty" int4, note text);
    ALTER TABLE "Sales"."LineItems" REPLICA IDENTITY FULL;
    CREATE TABLE public.ignored (id int PRIMARY KEY);
  `)
})

afterAll(async () => {
  await db?.drop()
})

const settingsFor = (slot: string, extra = ""): OutboxxSettings => {
  const text = `
[postgres]
url = "${db.url}"
slot = "${slot}"
publication = "${slot}"
status_interval = "500ms"
[kafka]
brokers = ["127.0.0.1:9"]
[http]
listen = ""
[[streams]]
name = "orders"
tables = ["public.orders"]
${extra}
[[streams]]
name = "sales"
tables = ['"Sales"."LineItems"']
topic = "sales.{table}"
`
  return testSettings(text)
}

const parse = (r: OutRecord) => ({
  topic: r.topic,
  key: r.key === null ? null : JSON.parse(String(r.key)),
  value: r.value === null ? null : JSON.parse(String(r.value))
})

describe("streaming pipeline", () => {
  it.live("emits every op with keys, tombstones, pk changes and truncate, and confirms the LSN", () =>
    Effect.gen(function*() {
      const slot = uniqueName("pipe")
      const settings = settingsFor(slot)
      const { fiber, records } = yield* startStreaming(settings)

      yield* Effect.promise(() =>
        pgQuery(db.url, `
        INSERT INTO public.orders VALUES (1, 'new', 10.50, '{"a": 1}', repeat('x', 5000));
        UPDATE public.orders SET status = 'paid' WHERE id = 1;
        UPDATE public.orders SET id = 2 WHERE id = 1;
        DELETE FROM public.orders WHERE id = 2;
        INSERT INTO "Sales"."LineItems" VALUES (7, 3, 'hello');
        UPDATE "Sales"."LineItems" SET "Qty" = 4 WHERE "Id" = 7;
        INSERT INTO public.ignored VALUES (1);
        TRUNCATE public.orders;
      `)
      )
      // c, u, d+tombstone+c (pk change), d+tombstone, c, u, t
      yield* waitFor(() => records.length >= 10, "10 records")
      const events = records.map(parse)

      const orders = events.filter((e) => e.topic === "outboxx.public.orders")
      assert.deepStrictEqual(orders.map((e) => e.value?.op ?? "tombstone"), ["c", "u", "d", "tombstone", "c", "d", "tombstone", "t"])
      const [created, updated, pkDelete, pkTombstone, pkCreate] = orders
      assert.deepStrictEqual(created!.key, { id: 1 })
      assert.strictEqual(created!.value.after.big, "x".repeat(5000))
      assert.deepStrictEqual({ ...created!.value.after, big: "…" }, { id: 1, status: "new", total: "10.50", meta: { a: 1 }, big: "…" })
      assert.strictEqual(created!.value.before, null)
      assert.strictEqual(created!.value.source.table, "orders")
      assert.strictEqual(created!.value.source.snapshot, false)
      assert.match(created!.value.source.lsn, /^[0-9A-F]+\/[0-9A-F]+$/)
      // Default replica identity: before holds the key; the unchanged TOASTed text is listed.
      assert.deepStrictEqual(updated!.value.before, { id: 1 })
      assert.deepStrictEqual(updated!.value.after, { id: 1, status: "paid", total: "10.50", meta: { a: 1 } })
      assert.deepStrictEqual(updated!.value.unchanged, ["big"])
      assert.deepStrictEqual(pkDelete!.key, { id: 1 })
      assert.deepStrictEqual(pkTombstone!.key, { id: 1 })
      assert.strictEqual(pkTombstone!.value, null)
      assert.deepStrictEqual(pkCreate!.key, { id: 2 })
      const truncate = orders[7]!
      assert.strictEqual(truncate.key, null)
      assert.strictEqual(truncate.value.after, null)

      const sales = events.filter((e) => e.topic === "sales.LineItems")
      assert.strictEqual(sales.length, 2)
      assert.deepStrictEqual(sales[1]!.key, { Id: 7 })
      // REPLICA IDENTITY FULL: before is the whole old row.
      assert.deepStrictEqual(sales[1]!.value.before, { Id: 7, Qty: 3, note: "hello" })
      assert.deepStrictEqual(sales[1]!.value.after, { Id: 7, Qty: 4, note: "hello" })
      assert.strictEqual(sales[1]!.value.source.schema, "Sales")
      assert.ok(events.every((e) => e.value === null || e.value.source.table !== "ignored"))

      // commitLsn and lsn: unique per change within the run.
      const dedupe = new Set(events.filter((e) => e.value !== null).map((e) => `${e.value.source.commitLsn}|${e.value.source.lsn}|${e.topic}|${e.value.op}`))
      assert.strictEqual(dedupe.size, events.filter((e) => e.value !== null).length)

      // The slot's confirmed_flush_lsn reaches the last commit once everything is delivered.
      const lastCommit = truncate.value.source.commitLsn as string
      let confirmedPast = false
      yield* waitFor(() => confirmedPast, "the slot to confirm the last commit", 10_000).pipe(
        Effect.raceFirst(Effect.gen(function*() {
          while (!confirmedPast) {
            const rows = yield* Effect.promise(() =>
              pgQuery<{ ok: boolean }>(db.url, "SELECT confirmed_flush_lsn > $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2", [lastCommit, slot])
            )
            confirmedPast = rows[0]?.ok === true
            yield* Effect.sleep("200 millis")
          }
        }))
      )
      yield* Fiber.interrupt(fiber)
      assert.isTrue(confirmedPast)
    }), 60_000)

  it.live("applies the canonical session settings to the walsender's output whatever the database defaults are", () =>
    Effect.gen(function*() {
      // Defaults a DBA might set; the walsender must still render canonical text.
      yield* Effect.promise(() =>
        pgQuery(db.url, `
        ALTER DATABASE "${db.name}" SET TimeZone = 'America/New_York';
        ALTER DATABASE "${db.name}" SET DateStyle = 'German, DMY';
        ALTER DATABASE "${db.name}" SET bytea_output = 'escape';
        ALTER DATABASE "${db.name}" SET IntervalStyle = 'sql_standard';
        ALTER DATABASE "${db.name}" SET extra_float_digits = 0;
        CREATE TABLE public.canon (id int PRIMARY KEY, ts timestamptz, d date, b bytea, i interval, f float8);
      `)
      )
      const slot = uniqueName("canon")
      const base = settingsFor(slot)
      const canonSettings = { ...base, streams: [{ ...base.streams[0]!, name: "canon", tables: [{ schema: "public", name: "canon" }] }] }
      const { fiber, records } = yield* startStreaming(canonSettings)
      yield* Effect.promise(() =>
        pgQuery(db.url, `INSERT INTO public.canon VALUES (1, '2026-11-23 15:00:00.5-05', '2026-11-23', '\\x00ff', '1 day 02:03:04', 0.1)`)
      )
      yield* waitFor(() => records.length >= 1, "1 record")
      yield* Fiber.interrupt(fiber)
      const after = parse(records[0]!).value.after
      assert.deepStrictEqual(after, {
        id: 1,
        ts: "2026-11-23T20:00:00.5Z",
        d: "2026-11-23",
        b: "AP8=",
        i: "1 day 02:03:04",
        f: 0.1
      })
    }), 60_000)

  it.live("paces a run of large values by their bytes: 40 MB through a slow sink arrive whole and in order", () =>
    Effect.gen(function*() {
      // 3 MB values, far over the source queue's 8 MB and delivery's 16 MB: reading
      // stops and resumes many times (deliver/HeldBytes.ts), and nothing may go missing.
      const slot = uniqueName("paced")
      const settings = settingsFor(slot)
      const records: Array<OutRecord> = []
      let sends = 0
      const sink: RecordSink = {
        prepareTopics: () => Effect.void,
        send: (batch) => Effect.sleep("30 millis").pipe(Effect.andThen(Effect.sync(() => {
          sends++
          records.push(...batch)
        })))
      }
      let started = false
      const fiber = yield* Effect.scoped(runStreaming(settings, sink, {
        temporarySlot: false,
        signalKey: testSignalKey,
        onStarted: () => Effect.sync(() => void (started = true))
      })).pipe(Effect.forkChild)
      yield* waitFor(() => started, "streaming to start", 60_000)
      yield* Effect.promise(() =>
        pgQuery(db.url, `
        BEGIN;
        INSERT INTO public.orders (id, status, big)
          SELECT 1000 + i, 'big', (SELECT string_agg(md5((g * 31 + i)::text), '') FROM generate_series(1, 98304) AS g) FROM generate_series(1, 13) AS i;
        INSERT INTO public.orders (id, status) VALUES (2000, 'last');
        COMMIT;
      `)
      )
      const orders = () => records.filter((r) => r.topic === "outboxx.public.orders")
      yield* waitFor(() => orders().length >= 14, "14 records", 60_000)
      yield* Fiber.interrupt(fiber)
      const events = orders().map(parse)
      assert.deepStrictEqual(events.map((e) => e.key.id), [...Array.from({ length: 13 }, (_, i) => 1001 + i), 2000])
      for (const event of events.slice(0, 13)) assert.strictEqual(event.value.after.big.length, 98304 * 32)
      // Spot-check the content, not only the length: value 7's first md5.
      const expected = (yield* Effect.promise(() => pgQuery<{ v: string }>(db.url, "SELECT left(big, 64) AS v FROM public.orders WHERE id = 1007")))[0]!.v
      assert.strictEqual(events[6]!.value.after.big.slice(0, 64), expected)
      assert.isAbove(sends, 1)
    }), 90_000)
})

