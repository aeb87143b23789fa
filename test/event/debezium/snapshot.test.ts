/**
 * Format "debezium", snapshot rows: written as bytes (the record's key and
 * value ranges in the slabs), they must be exactly the event its text
 * definition gives (envelope.ts's debeziumValue, debeziumSource and
 * debeziumKey around the text writers' row), for every value handling mode,
 * with column masks and NULLs, for initial and incremental reads, and again
 * when the cached source end changes (another LSN, transaction or batch time).
 */
import { describe, expect, it } from "vitest"
import { Tuple } from "../../../src/decode/tuple.js"
import type { Relation } from "../../../src/decode/messages.js"
import type { FormatContext, SnapshotKind, TableShape, Transaction } from "../../../src/event/EventFormat.js"
import { debeziumFormat } from "../../../src/event/formats/debezium/format.js"
import { debeziumKey, debeziumPlanFor, debeziumSource, debeziumValue } from "../../../src/event/formats/debezium/envelope.js"
import { defaultModes } from "../../../src/event/formats/debezium/types.js"
import { JsonBytes } from "../../../src/event/record/JsonBytes.js"
import { Oid } from "../../../src/event/values/builtinTypes.js"
import { TypeRegistry } from "../../../src/event/values/TypeRegistry.js"
import { buildRowJson, keyPrefixes, textKeyJson } from "../../../src/event/values/rowJson.js"

/** numeric(precision, scale)'s atttypmod. */
const numericMod = (precision: number, scale: number): number => ((precision << 16) | scale) + 4

const relation: Relation = {
  tag: "Relation",
  xid: undefined,
  relationId: 16_384,
  schema: "public",
  name: "orders",
  replicaIdentity: "default",
  columns: [
    { isKey: true, name: "id", typeOid: Oid.int8, typeMod: -1 },
    { isKey: false, name: "amount", typeOid: Oid.numeric, typeMod: numericMod(14, 2) },
    { isKey: false, name: "note", typeOid: Oid.text, typeMod: -1 },
    { isKey: false, name: "attrs", typeOid: Oid.jsonb, typeMod: -1 },
    { isKey: false, name: "created_at", typeOid: Oid.timestamptz, typeMod: -1 },
    { isKey: false, name: "ok", typeOid: Oid.bool, typeMod: -1 },
    { isKey: false, name: "ratio", typeOid: Oid.float8, typeMod: -1 },
    { isKey: false, name: "day", typeOid: Oid.date, typeMod: -1 },
    { isKey: false, name: "payload", typeOid: Oid.bytea, typeMod: -1 },
    { isKey: false, name: "secret", typeOid: Oid.text, typeMod: -1 }
  ]
}

/** Rows as COPY gives them: every cell text or NULL. */
const rows: ReadonlyArray<ReadonlyArray<string | null>> = [
  ["1", "12.50", "plain", `{"a": 1, "b": [true, null]}`, "2026-12-06 07:10:33.123456+00", "t", "0.5", "2026-12-06", "\\x00ff10", "s1"],
  ["-9223372036854775808", "-0.01", "quote \" backslash \\ tab \t newline \n", `{"k": "v\\"w"}`, "2026-12-06 07:10:33+00", "f", "NaN", "0044-03-15 BC", "\\x", "s2"],
  ["42", null, null, null, null, null, null, null, null, null],
  ["7", "999999999999.99", "ünïcödé ✓ 𝄞", `{"ü": "✓"}`, "2026-12-06 07:10:33.5+05:30", "t", "-Infinity", "infinity", "\\x7f", "s3"]
]

const snapshotTx: Transaction = { xid: 0, commitLsn: 0x16_b374_d848, commitTimeMs: 1_796_540_000_000, commitTs: "2026-12-06T07:00:00.000000Z" }
const windowTx: Transaction = {
  xid: 7_001,
  commitLsn: 0x16_b374_f000,
  commitTimeMs: 1_796_540_100_000,
  commitTimeUs: 1_796_540_100_000_123,
  previousCommitEndLsn: 0x16_b374_e000,
  commitTs: "2026-12-06T07:01:40.000123Z"
}

type Modes = NonNullable<FormatContext["debezium"]>

const check = (modes: Modes, includeMask: ReadonlyArray<boolean>) => {
  const context: FormatContext = { stream: "shop", database: "app", debezium: modes }
  const shape: TableShape = {
    relation,
    types: new TypeRegistry(),
    topic: "shop.public.orders",
    includeMask,
    identityMask: relation.columns.map((c) => c.isKey),
    keyIndexes: [0]
  }
  const table = debeziumFormat(context).table(shape)
  const plan = debeziumPlanFor(context, shape, true)
  const prefixes = keyPrefixes(relation.columns.map((c) => c.name))
  const out = new JsonBytes()
  const reads: ReadonlyArray<readonly [SnapshotKind, number, Transaction, number]> = [
    ["initial", 0x16_b374_d848, snapshotTx, 1_796_540_200_000],
    ["initial", 0x16_b374_d848, snapshotTx, 1_796_540_200_001], // the next batch: another ts_ms
    ["incremental", 0x16_b374_f100, windowTx, 1_796_540_200_002],
    ["incremental", 0x16_b374_f200, windowTx, 1_796_540_200_002], // the next chunk: another LSN
    ["initial", 0x17_0000_0000, snapshotTx, 1_796_540_200_003]
  ]
  for (const [kind, lsn, tx, now] of reads) {
    for (const values of rows) {
      const record = table.snapshot(out, Tuple.fromValues(values), kind, lsn, tx, now)
      const after = buildRowJson(prefixes, plan.writers, values, includeMask, undefined, undefined, plan.nulls)
      const source = kind === "initial"
        ? debeziumSource(plan, "true", now * 1000, null, lsn, lsn)
        : debeziumSource(plan, "incremental", tx.commitTimeUs!, tx.xid, tx.previousCommitEndLsn!, lsn)
      expect(record.topic).toBe("shop.public.orders")
      expect(record.value?.toString("utf8")).toBe(debeziumValue(plan, "r", "null", after, source, now))
      expect(record.key?.toString("utf8")).toBe(debeziumKey(plan, textKeyJson([prefixes[0]!], plan.writers, [0], values)!))
      // Valid JSON, with the row where Debezium puts it.
      const parsed = JSON.parse(record.value!.toString("utf8")) as { payload: { op: string; before: unknown; after: Record<string, unknown> } }
      expect(parsed.payload.op).toBe("r")
      expect(parsed.payload.before).toBeNull()
      expect(Object.keys(parsed.payload.after)).toEqual(relation.columns.filter((_, i) => includeMask[i]).map((c) => c.name))
    }
  }
}

describe("format debezium: snapshot rows as bytes", () => {
  const all = relation.columns.map(() => true)
  const withoutSecret = relation.columns.map((c) => c.name !== "secret")

  it("writes the event its text definition gives, in Debezium's default modes", () => {
    check(defaultModes, all)
  })

  it("the same with a column left out (exclude_columns)", () => {
    check(defaultModes, withoutSecret)
  })

  it("the same in every decimal, time and binary handling mode", () => {
    for (const decimalHandlingMode of ["precise", "double", "string"] as const) {
      for (const timePrecisionMode of ["adaptive", "adaptive_time_microseconds", "connect"] as const) {
        for (const binaryHandlingMode of ["bytes", "base64", "base64-url-safe", "hex"] as const) {
          check({ ...defaultModes, decimalHandlingMode, timePrecisionMode, binaryHandlingMode }, withoutSecret)
        }
      }
    }
  })
})
