/**
 * Format "debezium" through the real pipeline (snapshot + streaming) against
 * the real PostgreSQL, into an in-memory RecordSink.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { afterAll, beforeAll } from "vitest"
import { runStreaming } from "../../src/pipeline/Streaming.js"
import { createTestDatabase, pgQuery, type TestDatabase, uniqueName } from "../support/servers.js"
import { captureSink, testSettings, waitFor } from "../support/pipeline.js"

let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase("dbzfmt")
  await pgQuery(db.url, `
    CREATE TABLE public.items (id int4 PRIMARY KEY, name text, price numeric(8,2), born date, tags text[], doc jsonb);
    INSERT INTO public.items VALUES (1, 'seed', 1.25, '2026-01-01', '{a,b}', '{"k": [1]}');
  `)
})

afterAll(async () => {
  await db?.drop()
})

describe("format debezium", () => {
  it.live("snapshots and streams Debezium envelopes with schemas", () =>
    Effect.gen(function*() {
      const slot = uniqueName("dbzfmt")
      const settings = testSettings(
        `
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
name = "items"
tables = ["public.items"]
format = "debezium"
`
      )
      const { records, sink } = captureSink()
      let started = false
      const fiber = yield* Effect.scoped(runStreaming(settings, sink, {
        temporarySlot: false,
        onStarted: () => Effect.sync(() => void (started = true))
      })).pipe(Effect.forkChild)
      yield* waitFor(() => started && records.length >= 1, "streaming and the snapshot row")
      yield* Effect.promise(() =>
        pgQuery(db.url, `
        INSERT INTO public.items VALUES (2, 'two', 20.00, '1969-12-31', '{}', NULL);
        UPDATE public.items SET name = 'TWO' WHERE id = 2;
        DELETE FROM public.items WHERE id = 1;
      `)
      )
      // r, c, u, d + tombstone
      yield* waitFor(() => records.length >= 5, "5 records")
      yield* Fiber.interrupt(fiber)
      const events = records.map((r) => ({
        key: r.key === null ? null : JSON.parse(String(r.key)),
        value: r.value === null ? null : JSON.parse(String(r.value))
      }))
      assert.deepStrictEqual(events.map((e) => e.value?.payload.op ?? "tombstone"), ["r", "c", "u", "d", "tombstone"])
      const [read, created, updated, deleted] = events
      assert.deepStrictEqual(read!.key.payload, { id: 1 })
      assert.strictEqual(read!.key.schema.name, "outboxx.public.items.Key")
      assert.strictEqual(read!.value.payload.source.snapshot, "true")
      assert.deepStrictEqual(read!.value.payload.after, {
        id: 1,
        name: "seed",
        price: Buffer.from([125]).toString("base64"),
        born: Date.UTC(2026, 0, 1) / 86_400_000,
        tags: ["a", "b"],
        doc: `{"k": [1]}`
      })
      assert.deepStrictEqual(
        read!.value.schema.fields[1].fields.map((f: { field: string; type: string }) => `${f.field}:${f.type}`),
        ["id:int32", "name:string", "price:bytes", "born:int32", "tags:array", "doc:string"]
      )
      assert.strictEqual(created!.value.payload.source.snapshot, "false")
      assert.strictEqual(created!.value.payload.source.connector, "postgresql")
      assert.strictEqual(created!.value.payload.after.born, -1)
      assert.strictEqual(updated!.value.payload.after.name, "TWO")
      // Default replica identity: the key, every other field null (as Debezium writes it).
      assert.deepStrictEqual(deleted!.value.payload.before, { id: 1, name: null, price: null, born: null, tags: null, doc: null })
      assert.deepStrictEqual(events[4]!.key.payload, { id: 1 })
      // Every value carries the same schema as the first.
      assert.ok(events.slice(1, 4).every((e) => JSON.stringify(e.value.schema) === JSON.stringify(read!.value.schema)))
    }), 60_000)
})
