/**
 * Snapshots inside the streaming pipeline against the real PostgreSQL, with an
 * in-memory sink standing in for Kafka (the e2e tests run the CLI with Kafka):
 * the initial snapshot under concurrent writes, byte-identical values between
 * snapshot and stream, an incremental snapshot requested by a signal under
 * write load, and a table added to the config later.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import pg from "pg"
import { afterAll, beforeAll } from "vitest"
import type { OutboxxSettings } from "../../src/config/model.js"
import type { OutRecord } from "../../src/deliver/kafka/batching.js"
import type { RecordSink } from "../../src/deliver/RecordSink.js"
import { runStreaming } from "../../src/pipeline/Streaming.js"
import { encodeSignal, signalPrefix } from "../../src/snapshot/messages.js"
import { signalMac } from "../../src/snapshot/signalKey.js"
import { StateStore, type StateStoreShape } from "../../src/state/StateStore.js"
import { createTestDatabase, pgQuery, type TestDatabase, uniqueName } from "../support/servers.js"
import { captureSink, startStreaming, testSettings, testSignalKey, waitFor } from "../support/pipeline.js"
import { differences, foldByKey, rowsByKey, startWriter } from "../snapshot/fold.js"

let db: TestDatabase
let writerClient: pg.Client

beforeAll(async () => {
  db = await createTestDatabase("snap")
  writerClient = new pg.Client({ connectionString: db.url })
  await writerClient.connect()
})

afterAll(async () => {
  await writerClient?.end()
  await db?.drop()
})

const settingsFor = (slot: string, tables: ReadonlyArray<string>, extra = "", chunkSize = 1000): OutboxxSettings => {
  const text = `
[postgres]
url = "${db.url}"
slot = "${slot}"
publication = "${slot}"
status_interval = "500ms"
snapshot_chunk_size = ${chunkSize}
snapshot_parallelism = 2
${extra}
[kafka]
brokers = ["127.0.0.1:9"]
[http]
listen = ""
[[streams]]
name = "main"
tables = [${tables.map((t) => `"${t}"`).join(", ")}]
topic = "${slot}.{table}"
`
  return testSettings(text)
}

const makeTable = async (table: string, rows: number) => {
  await pgQuery(db.url, `CREATE TABLE ${table} (id int8 PRIMARY KEY, v int4 NOT NULL, note text)`)
  await pgQuery(db.url, `INSERT INTO ${table} SELECT g, g % 7, 'row ' || g FROM generate_series(1, ${rows}) g`)
}

const tableRows = async (table: string) => {
  const rows = await pgQuery<{ id: string; v: number; note: string | null }>(db.url, `SELECT id::text, v, note FROM ${table}`)
  return rowsByKey(rows.map((r) => ({ id: Number(r.id), v: r.v, note: r.note })), (r) => ({ id: r.id }))
}

const topicRecords = (records: ReadonlyArray<OutRecord>, topic: string) =>
  records.filter((r) => r.topic === topic).map((r) => ({
    key: r.key === null ? null : String(r.key),
    value: r.value === null ? null : String(r.value)
  }))

/** Waits until folding `topic` equals the table (the stream has caught up), then asserts it. */
const assertFoldEquals = (records: ReadonlyArray<OutRecord>, topic: string, table: string) =>
  Effect.gen(function*() {
    let diff: Array<string> = []
    yield* waitFor(async () => {
      diff = differences(foldByKey(topicRecords(records, topic)), await tableRows(table))
      return diff.length === 0
    }, `the fold of ${topic} to equal ${table}`, 60_000).pipe(Effect.catchDefect(() => Effect.void))
    assert.deepStrictEqual(diff, [], `fold of ${topic} differs from ${table}`)
  })

/** `outboxx snapshot --table`'s signal for `table`, then waits until the journal says the snapshot is done. */
const requestSnapshotAndWait = (slot: string, table: string, journal: StateStoreShape, timeoutMs: number) =>
  Effect.gen(function*() {
    const signal = { type: "snapshot" as const, slot, tables: [table], requestedAt: new Date().toISOString() }
    yield* Effect.promise(() =>
      pgQuery(db.url, `SELECT pg_logical_emit_message(true, $1, $2)`, [
        signalPrefix,
        encodeSignal({ ...signal, mac: signalMac(testSignalKey, signal) })
      ])
    )
    yield* waitFor(
      () => Effect.runSync(journal.state).snapshots[table]?.status === "done",
      "the incremental snapshot to finish",
      timeoutMs
    )
  })

const writerQuery = (sql: string, params: ReadonlyArray<unknown>) => writerClient.query(sql, [...params])

const ops = (records: ReadonlyArray<OutRecord>, topic: string) =>
  records.filter((r) => r.topic === topic && r.value !== null).map((r) => JSON.parse(String(r.value)) as {
    op: string
    after: Record<string, unknown> | null
    source: Record<string, unknown>
  })

describe("snapshots in the pipeline", () => {
  it.live("initial snapshot under concurrent writes folds to the table; values equal streamed ones", () =>
    Effect.gen(function*() {
      const slot = uniqueName("snap_init")
      const a = `public.${slot}_a`
      const b = `public.${slot}_b`
      const typed = `public.${slot}_types`
      yield* Effect.promise(async () => {
        await makeTable(a, 20_000)
        await makeTable(b, 5_000)
        await pgQuery(db.url, `CREATE TABLE ${typed} (id int8 PRIMARY KEY, n numeric(12,3), ts timestamptz, d date, by bytea,
          j jsonb, arr int4[], f float8, u uuid, iv interval, t text)`)
        await pgQuery(db.url, `INSERT INTO ${typed} VALUES (1, 12.5, '2026-01-02 03:04:05.123456+02', '2026-11-23', '\\x00ff',
          '{"a": [1, "x"]}', '{1,NULL,3}', 0.1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:00', 'tab\there "q"')`)
      })
      const settings = settingsFor(slot, [a, b, typed])
      const journal = yield* StateStore.makeMemory()
      const writer = startWriter(writerQuery, a, 25_000)
      const { fiber, records } = yield* startStreaming(settings, { journal })
      yield* Effect.promise(() =>
        pgQuery(db.url, `INSERT INTO ${typed} SELECT 2, n, ts, d, by, j, arr, f, u, iv, t FROM ${typed} WHERE id = 1`)
      )
      yield* Effect.sleep("1 second")
      yield* Effect.promise(() => writer.stop())
      assert.isAbove(writer.ops(), 10)

      yield* assertFoldEquals(records, `${slot}.${slot}_a`, a)
      yield* assertFoldEquals(records, `${slot}.${slot}_b`, b)
      const bOps = ops(records, `${slot}.${slot}_b`)
      assert.strictEqual(bOps.length, 5_000)
      assert.isTrue(bOps.every((e) => e.op === "r" && e.source["snapshot"] === true))

      const typedEvents = ops(records, `${slot}.${slot}_types`)
      const snap = typedEvents.find((e) => e.op === "r")!
      const streamed = typedEvents.find((e) => e.op === "c")!
      assert.strictEqual(snap.source["snapshot"], true)
      assert.strictEqual(streamed.source["snapshot"], false)
      assert.deepStrictEqual({ ...snap.after, id: 0 }, { ...streamed.after, id: 0 })
      // Byte-identical: the raw after text, too.
      const rawAfter = (value: string) => value.slice(value.indexOf(`"after":`), value.indexOf(`,"source":`))
      const raw = records.filter((r) => r.topic === `${slot}.${slot}_types` && r.value !== null).map((r) => rawAfter(String(r.value)))
      assert.strictEqual(raw[0]!.replace(`"id":1`, `"id":2`), raw[1])

      const state = yield* journal.state
      assert.strictEqual(state.snapshots[a]?.status, "done")
      assert.strictEqual(state.snapshots[b]?.rows, 5_000)
      assert.deepStrictEqual([...(state.snapshotFinished?.tables ?? [])].sort(), [a, b, typed].sort())
      yield* Fiber.interrupt(fiber)
    }), 120_000)

  it.live("an incremental snapshot requested by a signal, under write load, folds to the table", () =>
    Effect.gen(function*() {
      const slot = uniqueName("snap_incr")
      const table = `public.${slot}_t`
      yield* Effect.promise(() => makeTable(table, 30_000))
      const settings = settingsFor(slot, [table], `snapshot = "never"`)
      const journal: StateStoreShape = yield* StateStore.makeMemory()
      const { fiber, records } = yield* startStreaming(settings, { journal })
      const writer = startWriter(writerQuery, table, 32_000)
      yield* Effect.sleep("300 millis")
      yield* requestSnapshotAndWait(slot, table, journal, 60_000)
      yield* Effect.promise(() => writer.stop())
      const topic = `${slot}.${slot}_t`
      yield* assertFoldEquals(records, topic, table)
      const events = ops(records, topic)
      assert.isAbove(events.filter((e) => e.op === "r").length, 25_000)
      assert.isAbove(events.filter((e) => e.op !== "r").length, 10)
      // Snapshot rows sit at their high watermark's position, inside its transaction.
      const r = events.find((e) => e.op === "r")!
      assert.strictEqual(r.source["snapshot"], true)
      assert.notStrictEqual(r.source["txId"], 0)
      yield* Fiber.interrupt(fiber)
    }), 120_000)

  it.live("an incremental snapshot under six writers changing the chunk being read folds to the table", () =>
    // A transaction becomes visible a moment after its commit reaches the WAL, so
    // one committed just before a low watermark can be invisible to the chunk's
    // SELECT (src/snapshot/visibility.ts). Six writers aim at the keys of the
    // chunk being read, 200 chunks of 250 rows, so such transactions land in the chunks.
    // The race is rare per run: without the rule this test failed 1 run in 9 here
    // (a stale chunk row); test/snapshot/window.test.ts pins the rule itself.
    Effect.gen(function*() {
      const slot = uniqueName("snap_race")
      const table = `public.${slot}_t`
      const chunk = 250
      yield* Effect.promise(() => makeTable(table, 50_000))
      const settings = settingsFor(slot, [table], `snapshot = "never"`, chunk)
      const journal: StateStoreShape = yield* StateStore.makeMemory()
      const { fiber, records } = yield* startStreaming(settings, { journal })
      /** The last key of the chunks delivered so far: the next chunk starts after it. */
      const progress = () => {
        const lastKey = Effect.runSync(journal.state).snapshots[table]?.lastKey
        return Array.isArray(lastKey) ? Number(lastKey[0]) : 0
      }
      const clients = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: 6 }, async () => {
          const client = new pg.Client({ connectionString: db.url })
          await client.connect()
          return client
        }))
      )
      const writers = clients.map((client) =>
        startWriter((sql, params) => client.query(sql, [...params]), table, 50_000, {
          pickId: () => progress() + 1 + Math.floor(Math.random() * chunk)
        })
      )
      yield* requestSnapshotAndWait(slot, table, journal, 90_000)
      yield* Effect.promise(() => Promise.all(writers.map((w) => w.stop())))
      yield* Effect.promise(() => Promise.all(clients.map((c) => c.end())))
      assert.isAbove(writers.reduce((n, w) => n + w.ops(), 0), 1_000)
      yield* assertFoldEquals(records, `${slot}.${slot}_t`, table)
      yield* Fiber.interrupt(fiber)
    }), 150_000)

  it.live("a table added to the config later is snapshotted; the others are not re-read", () =>
    Effect.gen(function*() {
      const slot = uniqueName("snap_add")
      const first = `public.${slot}_first`
      const added = `public.${slot}_added`
      yield* Effect.promise(async () => {
        await makeTable(first, 3_000)
        await makeTable(added, 4_000)
      })
      const journal = yield* StateStore.makeMemory()
      const run = (tables: ReadonlyArray<string>, until: () => boolean) =>
        Effect.gen(function*() {
          const { records, sink } = captureSink()
          const fiber = yield* Effect.scoped(runStreaming(settingsFor(slot, tables), sink, { temporarySlot: false, journal, signalKey: testSignalKey })).pipe(
            Effect.forkChild
          )
          yield* waitFor(until, "the snapshot", 60_000)
          return { records, fiber }
        })
      const one = yield* run([first], () => Effect.runSync(journal.state).snapshotFinished !== undefined)
      yield* Fiber.interrupt(one.fiber)
      assert.strictEqual(ops(one.records, `${slot}.${slot}_first`).length, 3_000)

      const two = yield* run([first, added], () => Effect.runSync(journal.state).snapshots[added]?.status === "done")
      const writer = startWriter(writerQuery, first, 3_500)
      yield* Effect.sleep("500 millis")
      yield* Effect.promise(() => writer.stop())
      yield* assertFoldEquals(two.records, `${slot}.${slot}_added`, added)
      assert.strictEqual(ops(two.records, `${slot}.${slot}_added`).filter((e) => e.op === "r").length, 4_000)
      // The first table streams on, undisturbed and not re-read.
      const firstOps = ops(two.records, `${slot}.${slot}_first`)
      assert.isAbove(firstOps.length, 0)
      assert.isTrue(firstOps.every((e) => e.op !== "r"))
      yield* Fiber.interrupt(two.fiber)
    }), 120_000)
})
